/**
 * The container's process: env, cwd, user, exit codes, stdin, signals, as
 * root and as unprivileged users.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { identities, cleanupIdentities, freshStore } from "./helpers/identities.js";
import { tsbox, cliPath, identityEnv } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { HostFiles } from "./helpers/host-files.js";

/** The login name an administrator's command names (tsbox says it, not $USER). */
const loginName = (uid: number) => execFileSync("id", ["-nu", String(uid)], { encoding: "utf8" }).trim();

const isRoot = process.getuid!() === 0;

after(cleanupIdentities);

for (const who of identities()) {
  describe(`process as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("passes env, with the image's PATH as the default", async () => {
      const r = await tsbox(who, ["run", "--rm", "-e", "FOO=bar baz", "--env", "EMPTY=", "busybox", "sh", "-c", 'echo "$FOO|$EMPTY|$PATH"']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), "bar baz||/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    });

    it("sets the working directory, creating it when missing", async () => {
      const r = await tsbox(who, ["run", "--rm", "-w", "/tmp", "busybox", "pwd"]);
      assert.equal(r.stdout.trim(), "/tmp", r.stderr);
      const made = await tsbox(who, ["run", "--rm", "-w", "/srv/app/work", "busybox", "pwd"]);
      assert.equal(made.stdout.trim(), "/srv/app/work", made.stderr);
    });

    it("runs as another user with -u", async () => {
      const r = await tsbox(who, ["run", "--rm", "-u", "1000:1000", "busybox", "sh", "-c", "id -u; id -g; touch /tmp/mine && stat -c %u /tmp/mine"]);
      if (who.name === "single") {
        // One mapped id: uid 1000 does not exist in this user namespace.
        assert.equal(r.code, 125);
        assert.match(r.stderr, /uid 1000.*not mapped|subuid/i);
        assert.equal(r.stderr.trim().split("\n").length, 1);
        return;
      }
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n"), ["1000", "1000", "1000"]);
      const named = await tsbox(who, ["run", "--rm", "-u", "nobody", "busybox", "id", "-u"]);
      assert.equal(named.stdout.trim(), "65534", named.stderr);
      // With a terminal (script gives the CLI one), the user owns it and can reopen it by name, as docker's
      // (gpg's pinentry, screen): it was root's, 0600.
      const own = await tsbox(who, [], {
        argv: ["script", "-qec", `"${process.execPath}" "${cliPath}" run --rm -it -u 1000 busybox sh -c 'stat -c %u /dev/console; exec 3<>$(tty) && echo reopened'`, "/dev/null"],
      });
      // (script echoes the EOF of its empty stdin as ^@ somewhere in the output.)
      assert.deepEqual([own.code, own.stdout.replace(/\r|\^@/g, "")], [0, "1000\nreopened\n"], own.stderr);
      // A PATH without newuidmap's directory (a bare npx environment): the helper is found where the front end
      // found it (before stop 42 the range was promised, and every run failed with "newuidmap not found").
      const bare = mkdtempSync(join(tmpdir(), "path-node-only-"));
      try {
        chmodSync(bare, 0o755);
        symlinkSync(process.execPath, join(bare, "node"));
        const mapped = await tsbox(who, ["run", "--rm", "-u", "1000", "busybox", "id", "-u"], { env: { PATH: bare } });
        assert.deepEqual([mapped.code, mapped.stdout, mapped.stderr], [0, "1000\n", ""]);
      } finally {
        rmSync(bare, { recursive: true, force: true });
      }
    });

    it("newuidmap/newgidmap without their setuid bit: info says so and what to do, a run's failure names the fix", { skip: !isRoot && "needs root to bind-mount over the helpers" }, async () => {
      const host = await HostFiles.create({ "/usr/bin/newuidmap": { nosuidCopy: true }, "/usr/bin/newgidmap": { nosuidCopy: true } });
      try {
        const info = await tsbox(who, ["info"], { mountns: host.ns });
        assert.equal(info.code, 0, info.stderr);
        const run = await tsbox(who, ["run", "--rm", "busybox", "true"], { mountns: host.ns });
        if (who.name !== "user") {
          // Root writes its maps itself; one id needs no helper.
          assert.doesNotMatch(info.stderr, /newuidmap/);
          assert.deepEqual([run.code, run.stderr], [0, ""]);
          return;
        }
        const problem = /\/usr\/bin\/newuidmap is not setuid root and has no cap_setuid file capability; \/usr\/bin\/newgidmap is not setuid root and has no cap_setgid file capability: rootless containers cannot map your \/etc\/subuid range without them; reinstall them \(Debian\/Ubuntu: apt install uidmap; Fedora: shadow-utils\) or, as root, chmod u\+s them/;
        assert.match(info.stderr, new RegExp(`^tsbox: warning: ${problem.source}`, "m"));
        assert.equal(run.code, 125);
        assert.match(run.stderr, new RegExp(`^tsbox: newuidmap \\d+ .* failed: .*\\(${problem.source}`));
      } finally {
        host.close();
      }
    });

    it("newuidmap missing, or no /etc/subgid range, while /etc/subuid has one: info names what is missing, not the range", { skip: (!isRoot || who.name !== "user") && "a rootless user's range, changed as root" }, async () => {
      const range = /^tsbox-test:(\d+):(\d+)$/m.exec(readFileSync("/etc/subuid", "utf8"))!;
      const noHelpers = await HostFiles.create({ "/usr/bin/newuidmap": { missing: true }, "/usr/bin/newgidmap": { missing: true } });
      try {
        const info = await tsbox(who, ["info"], { mountns: noHelpers.ns });
        assert.match(info.stdout, new RegExp(`^id mapping: +single id \\(/etc/subuid gives ${range[1]}\\+${range[2]}, but newuidmap and newgidmap are not installed\\)$`, "m"));
        assert.match(info.stderr, /^tsbox: warning: newuidmap and newgidmap are not installed: containers have only uid 0 \(-u with another id fails\); install them \(Debian\/Ubuntu: apt install uidmap; Fedora: shadow-utils\) to use your range$/m);
        assert.doesNotMatch(info.stderr, /usermod/);
        // -u of an id the range would map: the error names the missing helpers, not a range to add.
        const other = await tsbox(who, ["run", "--rm", "-u", "1000", "busybox", "true"], { mountns: noHelpers.ns });
        assert.equal(other.code, 125);
        assert.match(other.stderr, /^tsbox: uid 1000 is not mapped in the user namespace \(rootless, only root is mapped: your \/etc\/subuid range is not used, as newuidmap and newgidmap are not installed \(Debian\/Ubuntu: apt install uidmap/);
        assert.doesNotMatch(other.stderr, /add one/);
      } finally {
        noHelpers.close();
      }
      const noSubgid = await HostFiles.create({ "/etc/subgid": { text: "" } });
      try {
        const info = await tsbox(who, ["info"], { mountns: noSubgid.ns });
        assert.match(info.stdout, new RegExp(`^id mapping: +single id \\(/etc/subuid gives ${range[1]}\\+${range[2]}, but /etc/subgid has no range for this user\\)$`, "m"));
        const end = Number(range[1]) + Number(range[2]) - 1;
        assert.match(info.stderr, new RegExp(`^tsbox: warning: no /etc/subgid range for this user, though /etc/subuid has one: .*: usermod --add-subgids ${range[1]}-${end} ${loginName(who.uid)}$`, "m"));
      } finally {
        noSubgid.close();
      }
    });

    it("a small subordinate range: info warns, an id past it is refused naming the range and how to widen it", { skip: (!isRoot || who.name !== "user") && "a rootless user's range, changed as root" }, async () => {
      const start = /^tsbox-test:(\d+):/m.exec(readFileSync("/etc/subuid", "utf8"))![1];
      const line = { text: `tsbox-test:${start}:10\n` };
      const host = await HostFiles.create({ "/etc/subuid": line, "/etc/subgid": line });
      // A store of its own: one made with the whole range would (rightly) warn that it changed.
      const env = freshStore(who);
      try {
        const info = await tsbox(who, ["info"], { env, mountns: host.ns });
        assert.match(info.stderr, new RegExp(`^tsbox: warning: your subordinate range \\(${start}\\+10 uids, ${start}\\+10 gids\\) has fewer than 65536 ids: .*widen it in /etc/subuid and /etc/subgid$`, "m"));
        const inRange = await tsbox(who, ["run", "--rm", "-u", "10:10", "busybox", "id", "-u"], { env, mountns: host.ns });
        assert.deepEqual([inRange.code, inRange.stdout], [0, "10\n"], inRange.stderr);
        const hint = `\\(rootless, ids past 0 are your /etc/subuid and /etc/subgid range, ${start}\\+10: ids 0-10 inside; an administrator can widen it to 65536 ids in both files`;
        for (const [user, what] of [["1000", "uid 1000"], ["0:65534", "gid 65534"]]) {
          const r = await tsbox(who, ["run", "--rm", "-u", user!, "busybox", "true"], { env, mountns: host.ns });
          assert.equal(r.code, 125, r.stderr);
          assert.match(r.stderr, new RegExp(`^tsbox: .*${what} is not mapped in the user namespace ${hint}`), r.stderr);
        }
      } finally {
        host.close();
      }
    });

    it("rm of a container with files of subordinate ids, the range now unusable: refused whole, naming what is missing; it stays listed", { skip: (!isRoot || who.name !== "user") && "a rootless user's range, changed as root" }, async () => {
      const made = await tsbox(who, ["run", "--name", "keep-ids", "-v", "vol-ids:/v", "busybox", "sh", "-c", "mkdir /x && touch /x/a /v/a && chown -R 1000:1000 /x /v/a"]);
      assert.equal(made.code, 0, made.stderr);
      try {
        const cases = [
          [{ "/usr/bin/newuidmap": { missing: true }, "/usr/bin/newgidmap": { missing: true } }, /newuidmap and newgidmap are not installed: install them \(Debian\/Ubuntu: apt install uidmap/],
          [{ "/etc/subuid": { text: "" }, "/etc/subgid": { text: "" } }, /was made with subordinate ids \d+\+65536 \(gids \d+\+65536\); now they are none \(gids none\): .*restore the range in \/etc\/subuid and \/etc\/subgid, or have root delete/],
        ] as const;
        for (const [overrides, why] of cases) {
          const host = await HostFiles.create(overrides);
          try {
            const rm = await tsbox(who, ["rm", "keep-ids"], { mountns: host.ns });
            assert.equal(rm.code, 1, rm.stderr);
            assert.match(rm.stderr, /^tsbox: cannot remove keep-ids: \S+\/upper\/x belongs to uid 1\d{5}, one of your subordinate ids, which only a user namespace with your range can delete, and /);
            assert.match(rm.stderr, why);
            assert.equal((await tsbox(who, ["ps", "-a", "--format", "{{.Names}}"], { mountns: host.ns })).stdout, "keep-ids\n");
            assert.match((await tsbox(who, ["volume", "rm", "vol-ids"], { mountns: host.ns })).stderr, /volume is in use - \[[0-9a-f]{64}\]/);
          } finally {
            host.close();
          }
        }
      } finally {
        const rm = await tsbox(who, ["rm", "-v", "keep-ids"]);
        assert.equal(rm.code, 0, rm.stderr);
        const vol = await tsbox(who, ["volume", "rm", "vol-ids"]);
        assert.equal(vol.code, 0, vol.stderr);
      }
    });

    it("an /etc/subuid range that overlaps another user's: info and a run name the other user and the shared ids", { skip: (!isRoot || who.name !== "user") && "a rootless user's range, changed as root" }, async () => {
      const listed = readFileSync("/etc/subuid", "utf8");
      const start = Number(/^tsbox-test:(\d+):/m.exec(listed)![1]);
      const host = await HostFiles.create({ "/etc/subuid": { text: `${listed}ex-other:${start + 1000}:65536\n` } });
      try {
        const info = await tsbox(who, ["info"], { mountns: host.ns });
        assert.match(info.stderr, new RegExp(`^tsbox: warning: your subordinate ids overlap ex-other's ${start + 1000}\\+65536 in /etc/subuid \\(ids ${start + 1000}-${start + 65535}\\): .*their containers read and write what yours own.*usermod --add-subuids`, "m"));
        const run = await tsbox(who, ["run", "--rm", "busybox", "true"], { mountns: host.ns });
        assert.deepEqual([run.code, run.stderr.match(/^tsbox: warning: your subordinate ids overlap ex-other's /gm)?.length], [0, 1], run.stderr);
        assert.doesNotMatch((await tsbox(who, ["info"])).stderr, /overlap/);
      } finally {
        host.close();
      }
    });

    it("a data dir made with another subordinate range: info and a run say so, a removal that fails names the change and the fix", { skip: (!isRoot || who.name !== "user") && "a rootless user's range, changed as root" }, async () => {
      const env = freshStore(who);
      const start = Number(/^tsbox-test:(\d+):/m.exec(readFileSync("/etc/subuid", "utf8"))![1]);
      const made = await tsbox(who, ["run", "--name", "old-range", "busybox", "sh", "-c", "mkdir /x && touch /x/a && chown -R 1000:1000 /x"], { env });
      assert.equal(made.code, 0, made.stderr);
      // An image whose layer has them too: its removal goes through the user namespace.
      assert.equal((await tsbox(who, ["commit", "old-range", "old-range-img"], { env })).code, 0);
      assert.equal((await tsbox(who, ["run", "--rm", "old-range-img", "true"], { env })).code, 0);
      const line = { text: `tsbox-test:${start + 10000}:65536\n` };
      const host = await HostFiles.create({ "/etc/subuid": line, "/etc/subgid": line });
      const change = `this data dir \\(${env.TSBOX_DATA_DIR}\\) was made with subordinate ids ${start}\\+65536 \\(gids ${start}\\+65536\\); now they are ${start + 10000}\\+65536 \\(gids ${start + 10000}\\+65536\\): .*restore the range in /etc/subuid and /etc/subgid, or have root delete`;
      try {
        assert.match((await tsbox(who, ["info"], { env, mountns: host.ns })).stderr, new RegExp(`^tsbox: warning: ${change}`, "m"));
        const run = await tsbox(who, ["run", "--rm", "busybox", "true"], { env, mountns: host.ns });
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stderr, new RegExp(`^tsbox: warning: ${change}`, "m"));
        const rm = await tsbox(who, ["rm", "old-range"], { env, mountns: host.ns });
        assert.equal(rm.code, 1, rm.stderr);
        assert.match(rm.stderr, new RegExp(`^tsbox: cannot remove old-range: \\S+/upper/x belongs to uid ${start + 999}, one of your subordinate ids, which only a user namespace with your range can delete, and ${change}`));
        assert.equal((await tsbox(who, ["ps", "-a", "--format", "{{.Names}}"], { env, mountns: host.ns })).stdout, "old-range\n");
        const rmi = await tsbox(who, ["rmi", "old-range-img"], { env, mountns: host.ns });
        assert.match(rmi.stderr, new RegExp(`cleanup in the user namespace failed \\(exit 1\\): ${change}`));
      } finally {
        host.close();
        const rm = await tsbox(who, ["rm", "old-range"], { env });
        assert.equal(rm.code, 0, rm.stderr);
        // What the failed rmi left (layers/.trash-*) goes with a prune under the range it was made with.
        assert.equal((await tsbox(who, ["system", "prune", "-a", "-f"], { env })).code, 0);
      }
      assert.doesNotMatch((await tsbox(who, ["info"], { env })).stderr, /was made with/);
    });

    it("returns the command's exit code", async () => {
      assert.equal((await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", "exit 7"])).code, 7);
      assert.equal((await tsbox(who, ["run", "--rm", "busybox", "false"])).code, 1);
      assert.equal((await tsbox(who, ["run", "--rm", "busybox", "true"])).code, 0);
    });

    it("pipes stdin with -i, and gives no stdin without it", async () => {
      const piped = await tsbox(who, ["run", "--rm", "-i", "busybox", "sh", "-c", "tr a-z A-Z"], { stdin: "hello stdin\n" });
      assert.equal(piped.stdout, "HELLO STDIN\n", piped.stderr);
      const closed = await tsbox(who, ["run", "--rm", "busybox", "cat"], { stdin: "ignored\n" });
      assert.equal(closed.code, 0, closed.stderr);
      assert.equal(closed.stdout, "");
    });

    it("forwards SIGTERM to the container", async () => {
      const child = spawn(process.execPath, [
        cliPath, "run", "--rm", "busybox", "sh", "-c",
        'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 0.05; done',
      ], { uid: who.uid, gid: who.gid, cwd: who.scratch, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ready line; stderr: ${err}`)), 15_000);
        child.stdout.on("data", (d) => {
          out += d;
          if (out.includes("ready")) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      child.kill("SIGTERM");
      assert.equal(await exit, 42, err);
      assert.match(out, /got-term/);
    });

    it("takes the container down with a SIGKILLed CLI, and cleans up after it", async () => {
      const child = spawn(process.execPath, [cliPath, "run", "--rm", "busybox", "sh", "-c", "echo ready; sleep 30"], {
        uid: who.uid, gid: who.gid, cwd: who.scratch, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"],
      });
      const exit = new Promise((resolve) => child.on("close", resolve));
      await new Promise<void>((resolve) => child.stdout.on("data", (d) => String(d).includes("ready") && resolve()));
      child.kill("SIGKILL");
      await exit;
      // The helper and the container die with the CLI (checked by the leak check);
      // the --rm bundle it could not delete is collected by the next run.
      const next = await tsbox(who, ["run", "--rm", "busybox", "true"]);
      assert.equal(next.code, 0, next.stderr);
      const ps = await tsbox(who, ["ps", "-a", "-q"]);
      assert.equal(ps.stdout, "");
    });
  });
}
