/**
 * tsbox run as root of a user namespace other than the initial one — root
 * inside a container (spec/nested-root.ts). Before, `getuid() === 0` took it
 * for the host's root and every run failed on the data dir's trusted.* probe
 * (EPERM). Real namespaces: the namespace tsbox's own root containers get
 * (every id onto itself, made by the host's root), rootless podman's layout
 * (`unshare --map-root-user` plus the user's /etc/subuid range, through
 * newuidmap) and a single id (`unshare -r`, no range), each with a mount
 * namespace of its own and the host's network namespace, which its root does
 * not own (so bridges go through the rootless helper).
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readlinkSync, writeFileSync } from "node:fs";
import { identities, cleanupIdentities, type Identity } from "./helpers/identities.js";
import { cliPath, identityEnv, type CliResult } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { findSubordinateRange } from "../src/spec/id-mappings.js";
import { onPath } from "../src/on-path.js";

after(cleanupIdentities);

const isRoot = process.getuid!() === 0;

/** How the namespace is made: maps written by the host's root, or by `unshare` as the identity. */
type Layout = { name: string; who: Identity; maps?: string; unshare: string[] };

function layouts(): Layout[] {
  if (!isRoot) return [];
  const all = identities();
  const user = all.find((w) => w.name === "user")!;
  const range = findSubordinateRange("/etc/subuid", "tsbox-test", user.uid)!;
  return [
    // tsbox's own root containers: `0 0 4294967295` (docs/security.md), which the uid_map heuristic takes for the host.
    { name: "root, identity map (a tsbox root container)", who: all.find((w) => w.name === "root")!, maps: "0 0 4294967295", unshare: [] },
    // Rootless podman/docker: the user as 0, the subordinate range from 1.
    { name: "user with a range (rootless podman's layout)", who: user, unshare: ["--map-root-user", `--map-users=${range.start},1,${range.count}`, `--map-groups=${range.start},1,${range.count}`] },
    { name: "user without a range (unshare -r)", who: all.find((w) => w.name === "single")!, unshare: ["--map-root-user"] },
  ];
}

/**
 * `tsbox ARGS` as root of a new user and mount namespace. With `maps` the
 * host's root writes them once the namespace exists (unshare cannot write
 * an identity map of every id), and a line on stdin lets the command go.
 */
function nestedTsbox(l: Layout, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const argv = ["unshare", "-U", "-m", "--propagation", "private", ...l.unshare, "sh", "-c", 'read -r _; exec "$0" "$@"', process.execPath, "--", cliPath, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { uid: l.who.uid, gid: l.who.gid, cwd: l.who.scratch, env: { ...identityEnv(l.who), ...env }, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr }));
    void (async () => {
      if (l.maps) {
        // unshare(2) has run once the process's namespace is no longer ours.
        const ours = readlinkSync("/proc/self/ns/user");
        while (readlinkSync(`/proc/${child.pid}/ns/user`) === ours) await new Promise((r) => setTimeout(r, 5));
        writeFileSync(`/proc/${child.pid}/uid_map`, l.maps);
        writeFileSync(`/proc/${child.pid}/gid_map`, l.maps);
      }
      child.stdin.end("go\n");
    })().catch((err) => {
      child.kill("SIGKILL");
      reject(err);
    });
  });
}

/** The id map lines of a /proc/PID/uid_map, each as "inside outside count". */
const mapLines = (text: string) => text.trim().split("\n").map((l) => l.trim().split(/\s+/).join(" "));

for (const l of layouts()) {
  describe(`tsbox as root of a user namespace: ${l.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      await nestedTsbox(l, ["rm", "-f", "-a"]).catch(() => undefined);
      await assertNoLeaks(snap, [l.who]);
    });

    it("info says it is root of a user namespace, and its containers get that namespace's ids, each onto itself", async () => {
      const info = await nestedTsbox(l, ["info", "--json"]);
      assert.equal(info.code, 0, info.stderr);
      const parsed = JSON.parse(info.stdout) as { uid: number; rootless: boolean; nestedRoot: boolean; idMapping: string; uidMappings: { containerID: number; hostID: number; size: number }[] };
      assert.equal(parsed.uid, 0);
      assert.equal(parsed.nestedRoot, true);
      assert.equal(parsed.rootless, false);
      assert.doesNotMatch(parsed.idMapping, /identity \(root\)/);
      assert.ok(parsed.uidMappings.every((m) => m.containerID === m.hostID), JSON.stringify(parsed.uidMappings));

      // A file of the image's is written and read through the overlay (user.* marks), and the container's
      // namespace maps what ours does, line for line (the kernel takes no line spanning two of the parent's).
      const run = await nestedTsbox(l, ["run", "--rm", "busybox", "sh", "-c", "echo written > /tmp/f && cat /tmp/f && cat /proc/self/uid_map"]);
      assert.equal(run.code, 0, run.stderr);
      assert.doesNotMatch(run.stderr, /trusted\.|Operation not permitted/);
      const [written, ...maps] = run.stdout.trim().split("\n");
      assert.equal(written, "written");
      const expected = parsed.uidMappings.map((m) => `${m.containerID} ${m.hostID} ${m.size}`);
      // Seen from inside the container, its map is relative to our namespace: each id onto itself.
      assert.deepEqual(mapLines(maps.join("\n")), expected);
    });

    // Every id is mapped in the identity map of all of them.
    it("an id its namespace does not map is refused with the reason", { skip: l.maps !== undefined && "its namespace maps every id" }, async () => {
      const run = await nestedTsbox(l, ["run", "--rm", "-u", "70000", "busybox", "true"]);
      assert.equal(run.code, 125);
      assert.match(run.stderr, /uid 70000 is not mapped in the user namespace \(tsbox runs as root of a user namespace, inside a container\?, which has only ids 0/);
    });

    it("the default bridge network goes through the rootless helper: the host's network namespace is not its root's", { skip: !onPath("pasta") && !onPath("slirp4netns") && "neither pasta nor slirp4netns is installed" }, async () => {
      const run = await nestedTsbox(l, ["run", "--rm", "--network", "bridge", "busybox", "sh", "-c", "ip route | grep -c '^default'"]);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.trim(), "1");
    });
  });
}
