/**
 * A container's files: `diff`, `commit` (run the new image and see the
 * change and the deletion), `export`/`import` round trips, and `cp` both
 * ways, with tar streams, into running and stopped containers, where a
 * symlink in the container never leads out of it and a tar never writes
 * through one. As root and as the unprivileged users, with the leak check.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, lstatSync, readlinkSync, statSync, statfsSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { execFileSync } from "node:child_process";
import { PassThrough } from "node:stream";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { identities, cleanupIdentities, notAsSingle, type Identity } from "./helpers/identities.js";
import { removeStaticTools, staticToolDir } from "./helpers/static-tool.js";
import { holdLock } from "./helpers/hold-lock.js";
import { readTar } from "../src/image/tar.js";
import { cliPath, signalSpawned, tsbox, type CliResult } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { FullDisk } from "./helpers/full-disk.js";
import { removeContainersAndVolumes, tsboxExpect } from "./helpers/cli-cases.js";
import { entryHeader, TarWriter } from "../src/image/tar-writer.js";
import { removeTreeNow } from "../src/remove-tree.js";

after(cleanupIdentities);
after(removeStaticTools);

const TSBOX = `${process.execPath} ${cliPath}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A v2 file capability (`setcap cap_net_raw+ep`) in hex: what docker's layers hold. */
const CAP_NET_RAW = "0100000200200000000000000000000000000000";

/** Each entry's pax records of a tar (gzip'd or not), by path. */
async function paxOf(bytes: Buffer): Promise<Map<string, Record<string, string>>> {
  const plain = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const found = new Map<string, Record<string, string>>();
  for await (const e of readTar((async function* () { yield plain; })())) {
    found.set(e.type === "directory" && !e.path.endsWith("/") ? `${e.path}/` : e.path, e.pax);
    for await (const _ of e.body);
  }
  return found;
}

/** The pax records of the newest layer of `image` (from `tsbox save`), by path. */
async function newestLayer(who: Identity, image: string, dir: string): Promise<Map<string, Record<string, string>>> {
  mkdirSync(dir, { recursive: true });
  chownSync(dir, who.uid, who.gid);
  const saved = await tsbox(who, ["save", "-o", join(dir, "image.tar"), image]);
  assert.equal(saved.code, 0, saved.stderr);
  const manifest = JSON.parse(execFileSync("tar", ["-xOf", join(dir, "image.tar"), "manifest.json"], { encoding: "utf8" })) as { Layers: string[] }[];
  const layer = execFileSync("tar", ["-xOf", join(dir, "image.tar"), manifest[0]!.Layers.at(-1)!], { maxBuffer: 1 << 30 });
  return paxOf(layer);
}

/** A tar archive as the bytes tsbox reads on stdin. */
function tar(entries: Parameters<TarWriter["add"]>[0][]): Buffer {
  const w = new TarWriter();
  for (const e of entries) w.add(e);
  return w.finish();
}

for (const who of identities()) {
  describe(`container files as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(async () => {
      await removeContainersAndVolumes(who);
      await assertNoLeaks(snap, [who]);
    });
    const cli = (args: string[], opts: { stdin?: string; expect?: number } = {}) => tsboxExpect(who, args, opts);
    /** Binary stdin/stdout: the CLI in a shell pipeline, as this identity (the helper's stdin is text). */
    const sh = (script: string) => tsbox(who, [], { argv: ["/bin/sh", "-c", script.replaceAll("TSBOX", TSBOX)] });
    const out = (name: string) => join(who.scratch, name);

    it("diff lists A/C/D; commit makes an image that has the change and the deletion", async () => {
      await cli(["run", "--name", "w", "busybox", "sh", "-c", "echo new > /etc/newfile; rm /bin/ls; mkdir -p /opt/x; echo y > /opt/x/y; rm -rf /var; mkdir /var; echo z > /var/z"]);
      assert.equal((await cli(["diff", "w"])).stdout, ["C /bin", "D /bin/ls", "C /etc", "A /etc/newfile", "A /opt", "A /opt/x", "A /opt/x/y", "C /var", "A /var/z", ""].join("\n"));
      // A name with an escape sequence or a newline is shown escaped: one line per change, the terminal left alone.
      await cli(["run", "--name", "esc", "busybox", "sh", "-c", "touch \"/a$(printf '\\033]0;PWN\\007')\" \"/b$(printf '\\nA forged')\""]);
      assert.equal((await cli(["diff", "esc"])).stdout, "A /a\\x1b]0;PWN\\x07\nA /b\\x0aA forged\n");
      await cli(["rm", "esc"]);
      const id = (await cli(["commit", "-m", "snapshot one", "-a", "Tester <t@example.com>", "-c", 'CMD ["cat", "/etc/newfile"]', "-c", "ENV FOO=bar", "-c", "LABEL stage=one", "w", "snap:one"])).stdout.trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      assert.equal((await cli(["run", "--rm", "snap:one"])).stdout, "new\n", "the committed Cmd runs");
      const check = await cli(["run", "--rm", "snap:one", "sh", "-c", "test -e /bin/ls && echo ls-back; echo $FOO; ls /var; cat /opt/x/y; test -e /bin/cat && echo cat-kept"]);
      assert.equal(check.stdout, "bar\nz\ny\ncat-kept\n", "the deletion (a whiteout) and the opaque /var hold in the new image");
      const info = (await cli(["inspect", "-f", "{{.Id}}|{{.Comment}}|{{.Author}}|{{json .Config.Cmd}}|{{.Config.Labels.stage}}|{{len .RootFS.Layers}}", "snap:one"])).stdout.trim().split("|");
      assert.deepEqual(info, [id, "snapshot one", "Tester <t@example.com>", '["cat","/etc/newfile"]', "one", "2"]);
      assert.match((await cli(["images", "--json"])).stdout, /"name": "snap:one"/);
      // A container of the committed image: its own diff is empty, its image id the new one.
      await cli(["run", "--name", "second", "snap:one", "true"]);
      assert.equal((await cli(["diff", "second"])).stdout, "");
      assert.equal((await cli(["inspect", "-f", "{{.Image}}", "second"])).stdout.trim(), id);
      assert.deepEqual((await cli(["ps", "-a", "--filter", "ancestor=busybox", "--format", "{{.Names}}"])).stdout.trim().split("\n").sort(), ["second", "w"], "a committed image descends from busybox");
      // Unnamed: found by its id.
      const bare = (await cli(["commit", "w"])).stdout.trim();
      assert.equal((await cli(["run", "--rm", bare.slice(7, 19), "cat", "/etc/newfile"])).stdout, "new\n");
      // docker's <none>: listed, filtered as dangling, tagged and removed by id.
      const short = bare.slice(7, 19);
      assert.match((await cli(["images"])).stdout, new RegExp(`^<none>\\s+<none>\\s+${short}\\s.*\\slinux/\\w+$`, "m"));
      assert.equal((await cli(["images", "-q", "--filter", "dangling=true"])).stdout, `${short}\n`);
      assert.doesNotMatch((await cli(["images", "--filter", "dangling=false"])).stdout, /<none>/);
      assert.match((await cli(["images", "--filter", "reference=sn*:one"])).stdout, /^snap\s+one\s/m);
      // A pattern as the argument is a reference= filter, as docker-cli makes it (it was parsed as a name and refused).
      assert.equal((await cli(["images", "sn*", "--format", "{{.Repository}}:{{.Tag}}"])).stdout, "snap:one\n");
      assert.equal((await cli(["images", "sn?p:o*", "--format", "{{.Repository}}:{{.Tag}}"])).stdout, "snap:one\n");
      // Newest first, as docker lists them; before/since an image, labels.
      const names = async (...args: string[]) => (await cli(["images", ...args, "--format", "{{.Repository}}:{{.Tag}}"])).stdout.trim().split("\n");
      assert.deepEqual((await names()).slice(0, 2), ["<none>:<none>", "snap:one"]);
      assert.deepEqual(await names("--filter", "since=snap:one"), ["<none>:<none>"]);
      assert.deepEqual(await names("--filter", `before=${short}`, "--filter", "reference=snap"), ["snap:one"]);
      assert.ok(!(await names("--filter", "before=snap:one")).some((n) => n === "snap:one" || n === "<none>:<none>"));
      assert.deepEqual(await names("--filter", "label=stage=one"), ["snap:one"]);
      assert.deepEqual(await names("--filter", "label=stage=two"), [""]);
      await cli(["tag", short, "named:1"]);
      await cli(["tag", bare, "named:2"]);
      assert.equal((await cli(["images", "-q", "--filter", "dangling=true"])).stdout, "", "a tagged image is no longer dangling");
      const refused = await tsbox(who, ["rmi", short]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^tsbox: conflict: unable to delete [0-9a-f]{12} \(must be forced\) - image is referenced in multiple repositories$/m);
      assert.equal((await cli(["rmi", "-f", short])).stdout, `Untagged: named:1\nUntagged: named:2\nDeleted: ${bare}\n`);
      assert.match((await tsbox(who, ["run", "--rm", short, "true"])).stderr, /image not found|unable to find image/);
      assert.equal((await tsbox(who, ["images", "--filter", "since=nosuchimage"])).code, 1, "since an image that is not here");
      assert.equal((await tsbox(who, ["images", "--filter", "until=1h"])).code, 125, "an unknown filter is refused");
      const bad = await tsbox(who, ["commit", "-c", "FROM x", "w"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /FROM is not a valid change command/);
      // docker's conflict: the last name of an image a container uses stays, unless forced (then it is <none>).
      const snapShort = id.slice(7, 19);
      const inUse = await tsbox(who, ["rmi", "snap:one"]);
      assert.equal(inUse.code, 1);
      const secondId = (await cli(["inspect", "-f", "{{.Id}}", "second"])).stdout.trim();
      assert.equal(inUse.stderr, `tsbox: conflict: unable to remove repository reference "snap:one" (must force) - container ${secondId.slice(0, 12)} is using its referenced image ${snapShort}\n`);
      const byId = await tsbox(who, ["rmi", snapShort]);
      assert.match(byId.stderr, new RegExp(`^tsbox: conflict: unable to delete ${snapShort} \\(must be forced\\) - image is being used by container ${secondId.slice(0, 12)}$`, "m"));
      const shownImage = async () => (await cli(["ps", "-a", "--filter", "name=^second$", "--format", "{{.Image}}"])).stdout;
      assert.equal(await shownImage(), "snap:one\n");
      assert.equal((await cli(["rmi", "-f", "snap:one"])).stdout, "Untagged: snap:one\n");
      // docker's IMAGE once the name no longer names its image: the id (before: the name it no longer has).
      assert.equal(await shownImage(), `${snapShort}\n`);
      assert.equal((await cli(["images", "-q", "--filter", "dangling=true"])).stdout, `${snapShort}\n`, "kept as <none>");
      assert.equal((await cli(["start", "-a", "second"])).code, 0, "the container still starts");
      assert.equal((await cli(["rmi", "-f", snapShort])).stdout, "", "forced by id while in use: kept, nothing deleted");
      // Running, it cannot be forced (docker's words, exit 1): before, -f kept it and said nothing, exit 0.
      const busy = (await cli(["run", "-d", snapShort, "sleep", "600"])).stdout.trim();
      try {
        const refused = await tsbox(who, ["rmi", "-f", snapShort]);
        assert.deepEqual([refused.code, refused.stdout, refused.stderr], [1, "", `tsbox: conflict: unable to delete ${snapShort} (cannot be forced) - image is being used by running container ${busy.slice(0, 12)}\n`]);
      } finally {
        await cli(["rm", "-f", busy]);
      }
      await cli(["rm", "second"]);
      assert.match((await cli(["image", "prune", "-f"])).stdout, new RegExp(snapShort));
      assert.equal((await cli(["images", "-q", "--filter", "dangling=true"])).stdout, "");
    });

    it("export and import round trip a container's file system", async () => {
      await cli(["run", "--name", "e", "-v", "vol:/vol", "busybox", "sh", "-c", "echo data > /vol/in-volume; echo kept > /kept; rm /bin/ls"]);
      const tarPath = out("e.tar");
      await cli(["export", "-o", tarPath, "e"]);
      const list = (await tsbox(who, [], { argv: ["tar", "-tf", tarPath] })).stdout.split("\n");
      assert.ok(list.includes("kept") && list.includes("bin/busybox") && list.includes("etc/passwd"), "the flattened file system");
      assert.ok(!list.includes("bin/ls") && !list.some((p) => p.includes("in-volume")), "no deleted files, no volumes");
      const id = (await cli(["import", "-m", "from export", "-c", 'CMD ["cat","/kept"]', tarPath, "imported:1"])).stdout.trim();
      assert.match(id, /^sha256:/);
      assert.equal((await cli(["run", "--rm", "imported:1"])).stdout, "kept\n");
      assert.equal((await cli(["run", "--rm", "imported:1", "sh", "-c", "ls /bin/ls 2>&1 | head -c 2; echo; cat /etc/hostname 2>/dev/null; echo ok"])).stdout.split("\n")[0], "ls");
      // gzip'd on stdin, through a shell (binary stdin)
      writeFileSync(out("e.tar.gz"), gzipSync(readFileSync(tarPath)));
      chownSync(out("e.tar.gz"), who.uid, who.gid);
      const gz = await sh(`TSBOX import - fromgz < ${out("e.tar.gz")}`);
      assert.equal(gz.code, 0, gz.stderr);
      assert.equal((await cli(["run", "--rm", "fromgz", "cat", "/kept"])).stdout, "kept\n");
      // xz, bzip2 and zstd too, from a file and from stdin, as docker's import (before: xz and bzip2 were "not a tar
      // archive", zstd refused on stdin).
      for (const tool of ["xz", "bzip2", "zstd"]) {
        writeFileSync(out(`e.tar.${tool}`), execFileSync(tool, ["-c", "-q", tarPath], { maxBuffer: 1 << 26 }));
        chownSync(out(`e.tar.${tool}`), who.uid, who.gid);
        await cli(["import", out(`e.tar.${tool}`), `from${tool}:file`]);
        const piped = await sh(`TSBOX import - from${tool}:stdin < ${out(`e.tar.${tool}`)}`);
        assert.equal(piped.code, 0, piped.stderr);
        assert.equal((await cli(["run", "--rm", `from${tool}:file`, "cat", "/kept"])).stdout, "kept\n");
        assert.equal((await cli(["run", "--rm", `from${tool}:stdin`, "cat", "/kept"])).stdout, "kept\n");
      }
      const notTar = await cli(["import", "-"], { stdin: "this is not a tar archive, it is much longer than nothing at all\n".repeat(20), expect: 1 });
      assert.match(notTar.stderr, /^tsbox: truncated tar archive|^tsbox: the input is not a tar archive/);
      assert.equal((await cli(["import", "/no/such.tar"], { expect: 1 })).stderr, "tsbox: cannot read /no/such.tar: no such file or directory\n");
      // The platform: the backend's (docker's: the daemon's), e.g. linux/386 on the vm backend, or --platform.
      const platformOf = async (ref: string) => (await cli(["image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", ref])).stdout.trim();
      assert.equal(await platformOf("imported:1"), `linux/${process.arch === "x64" ? "amd64" : process.arch}`);
      const forVm = await tsbox(who, ["import", tarPath, "for-vm:1"], { env: { TSBOX_BACKEND: "vm" } });
      assert.equal(forVm.code, 0, forVm.stderr);
      assert.equal(await platformOf("for-vm:1"), "linux/386");
      await cli(["import", "--platform", "linux/arm64", tarPath, "arm:1"]);
      assert.equal(await platformOf("arm:1"), "linux/arm64");
      assert.match((await cli(["run", "--rm", "arm:1", "true"], { expect: 125 })).stderr, /has no linux\/amd64 variant here \(it has linux\/arm64\)/);
      assert.match((await cli(["import", "--platform", "amd64", tarPath], { expect: 1 })).stderr, /invalid platform "amd64"/);
      const tty = await tsbox(who, ["export", "nosuch"]);
      assert.equal(tty.code, 1);
      assert.match(tty.stderr, /no such container: nosuch/);
    });

    /** `run --name NAME` writing /z, then its export holds /z and the image's busybox (in the data dir `env` names). */
    const runsAndExports = async (name: string, env: Record<string, string>) => {
      const ran = await tsbox(who, ["run", "--name", name, "busybox", "sh", "-c", "echo z > /z"], { env });
      assert.equal(ran.code, 0, ran.stderr);
      const exported = await tsbox(who, ["export", "-o", out(`${name}.tar`), name], { env });
      assert.equal(exported.code, 0, exported.stderr);
      const list = (await tsbox(who, [], { argv: ["tar", "-tf", out(`${name}.tar`)] })).stdout.split("\n");
      assert.ok(list.includes("z") && list.includes("bin/busybox"), "the container's file and the image's");
    };

    it("export of a container whose layer paths pass a page of mount data (a long data dir): the run's own short paths", async () => {
      // ~2100 characters: two lower dirs (the image's layer and the container's upper) pass overlayfs's 4096 bytes.
      let dir = who.scratch;
      for (let i = 0; i < 9; i++) dir = join(dir, `${String(i)}${"d".repeat(230)}`);
      mkdirSync(dir, { recursive: true });
      execFileSync("chown", ["-R", `${who.uid}:${who.gid}`, join(who.scratch, `0${"d".repeat(230)}`)]);
      const env = { TSBOX_DATA_DIR: join(dir, "data") };
      try {
        await runsAndExports("long", env);
      } finally {
        await tsbox(who, ["rm", "-f", "long"], { env });
        await tsbox(who, ["system", "prune", "-a", "-f"], { env });
      }
    });

    it("a data dir with ',' and ':' in its path (overlayfs's separators, escaped): run, export, commit, and info's overlay probe there", async () => {
      // Refused before ("overlayfs cannot take a path containing ':' or ','"), and info's probe in such a TMPDIR failed.
      const dir = join(who.scratch, "data a,b:c é");
      mkdirSync(dir, { recursive: true });
      chownSync(dir, who.uid, who.gid);
      const env = { TSBOX_DATA_DIR: join(dir, "data"), TMPDIR: dir };
      try {
        await runsAndExports("sep", env);
        const committed = await tsbox(who, ["commit", "sep", "sep:1"], { env });
        assert.equal(committed.code, 0, committed.stderr);
        assert.equal((await tsbox(who, ["run", "--rm", "sep:1", "cat", "/z"], { env })).stdout, "z\n");
        const info = await tsbox(who, ["info"], { env });
        assert.match(info.stdout, /^ +overlay: true$/m, info.stdout);
      } finally {
        await tsbox(who, ["rm", "-f", "sep"], { env });
        await tsbox(who, ["system", "prune", "-a", "-f"], { env });
      }
    });

    it("commit and export keep the xattrs a container set: a file capability (setcap) and user.* as SCHILY.xattr records, the capability as docker's v2", async () => {
      const tool = staticToolDir("xattr-tool");
      const x = (args: string) => `/t/xattr-tool ${args}`;
      const set = await cli(["run", "--name", "xa", "-v", `${tool}:/t:ro`, "busybox", "sh", "-c",
        `cp /bin/busybox /bin/myping && ${x(`set /bin/myping security.capability ${CAP_NET_RAW}`)} && ${x("set /bin/myping user.k 76")} && mkdir /data && ${x("set /data user.d ff00")} && ${x("get /bin/myping security.capability")}`]);
      assert.equal(set.stdout, `${CAP_NET_RAW}\n`, "the container's root may setcap its files");
      await cli(["commit", "xa", "xa:1"]);
      const layer = await newestLayer(who, "xa:1", out("xa-save"));
      const records = (path: string) => Object.fromEntries(Object.entries(layer.get(path) ?? {}).map(([k, v]) => [k, Buffer.from(v, "latin1").toString("hex")]));
      // v2 (no root id) also rootless, where the kernel stored a v3 one naming the user namespace's root: read in that namespace, it is the v2 one docker's layers hold.
      assert.deepEqual(records("bin/myping"), { "SCHILY.xattr.security.capability": CAP_NET_RAW, "SCHILY.xattr.user.k": "76" });
      assert.deepEqual(records("data/"), { "SCHILY.xattr.user.d": "ff00" });
      const seen = await cli(["run", "--rm", "-v", `${tool}:/t:ro`, "xa:1", "sh", "-c", `${x("get /bin/myping security.capability")}; ${x("get /bin/myping user.k")}; ${x("get /data user.d")}`]);
      // Rootless too: the unpack has root of the user's namespace set it (docs/security.md), and the container reads the v2 one.
      assert.equal(seen.stdout, `${CAP_NET_RAW}\n76\nff00\n`);
      await cli(["export", "-o", out("xa.tar"), "xa"]);
      const exported = await paxOf(readFileSync(out("xa.tar")));
      assert.equal(Buffer.from(exported.get("bin/myping")?.["SCHILY.xattr.security.capability"] ?? "", "latin1").toString("hex"), CAP_NET_RAW, "export carries them too");
      assert.equal(exported.get("data/")?.["SCHILY.xattr.user.d"], "\xff\x00");
    });

    it("commit keeps the container's EXPOSE ports and HEALTHCHECK, and -c EXPOSE adds to them (docker's merge)", async () => {
      const built = await tsbox(who, ["build", "-q", "-t", "hc:1", "-"], { stdin: "FROM busybox\nHEALTHCHECK --interval=5s CMD true\nEXPOSE 80\n", timeoutMs: 120_000 });
      assert.equal(built.code, 0, built.stderr);
      await cli(["create", "--name", "hcc", "--expose", "53/udp", "hc:1", "true"]);
      await cli(["commit", "hcc", "hc:2"]);
      await cli(["commit", "-c", "EXPOSE 8080", "hcc", "hc:3"]);
      const config = async (ref: string) => (await cli(["inspect", "-f", "{{json .Config.ExposedPorts}} {{json .Config.Healthcheck}}", ref])).stdout.trim();
      const health = '{"Test":["CMD-SHELL","true"],"Interval":5000000000}';
      assert.equal(await config("hc:2"), `{"53/udp":{},"80/tcp":{}} ${health}`);
      assert.equal(await config("hc:3"), `{"53/udp":{},"80/tcp":{},"8080/tcp":{}} ${health}`);
      await cli(["rm", "hcc"]);
      await cli(["rmi", "hc:3", "hc:2", "hc:1"]);
    });

    it("commit refuses a container's own file named like a whiteout, which the image would read as a deletion", async () => {
      await cli(["run", "--name", "wh", "busybox", "sh", "-c", "touch /etc/.wh.group /etc/.wh..wh..opq"]);
      const r = await tsbox(who, ["commit", "wh", "wh:1"]);
      // Before: the image had no /etc/group and an /etc emptied of all but the container's own changes.
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^tsbox: \/etc\/\.wh\.(group|\.wh\.\.opq) has a name image layers read as a whiteout \(it would delete (\/etc\/group|what is below \/etc) from the image\): rename or remove it first\n$/);
      assert.equal((await cli(["images", "-q", "wh:1"])).stdout, "", "no image");
      await cli(["rm", "wh"]);
    });

    it("rmi of an image a run is creating its container from is refused: the run claims it before it checks the image under the index lock", async () => {
      const image = `claimed-${who.name}:1`;
      await cli(["run", "--name", "claim-base", "busybox", "sh", "-c", "echo x > /x"]);
      await cli(["commit", "claim-base", image]);
      await cli(["rm", "claim-base"]);
      // The test holds the index lock: the run waits there with its bundle made, the rmi beside it.
      const release = await holdLock(who, join(who.dataDir, ".index.lock"), (argv) => tsbox(who, [], { argv }));
      let started: Promise<CliResult> | undefined;
      let removed: Promise<CliResult> | undefined;
      try {
        const creating = () => readdirSync(join(who.dataDir, "containers")).some((id) => existsSync(join(who.dataDir, "containers", id, "creator")));
        started = tsbox(who, ["run", "-d", "--name", "claimer", image, "sleep", "300"]);
        for (let i = 0; i < 3000 && !creating(); i++) await new Promise((r) => setTimeout(r, 10));
        removed = tsbox(who, ["rmi", image]);
        await new Promise((r) => setTimeout(r, 300)); // (the rmi waits for the lock too)
      } finally {
        await release();
      }
      const [r, rm] = [await started!, await removed!];
      // Before, the rmi listed the containers (none had a state yet) and deleted the image while the container ran.
      assert.equal(r.code, 0, r.stderr);
      assert.equal(rm.code, 1, rm.stdout);
      assert.match(rm.stderr, new RegExp(`conflict: unable to remove repository reference "${image}" \\(must force\\) - container [0-9a-f]{12} is using its referenced image`));
      await cli(["rm", "-f", "claimer"]);
      await cli(["rmi", image]);
    });

    it("export -o onto a full disk says so and leaves no temp file; Ctrl-C or SIGTERM removes it too", async () => {
      // Random bytes for the full disk (tmpfs keeps every byte anyway); zeros to make the export take a while.
      await cli(["run", "--name", "xbig", "busybox", "sh", "-c", "head -c 3000000 /dev/urandom > /big && head -c 60000000 /dev/zero > /zeros"]);
      const small = out("xsmall");
      mkdirSync(small, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=1m,uid=${who.uid},gid=${who.gid}`, "tmpfs", small]);
      try {
        // Before: "internal error: the command stopped before it finished (please report this)", and FILE.<pid>.<rand>.tmp left.
        const r = await tsbox(who, ["export", "-o", join(small, "x.tar"), "xbig"], { timeoutMs: 60_000 });
        assert.deepEqual([r.code, r.stderr], [1, `tsbox: cannot write ${join(small, "x.tar")}: no space left on device\n`]);
        assert.deepEqual(readdirSync(small), []);
        const piped = await sh(`TSBOX export xbig > ${join(small, "y.tar")}`);
        assert.equal(piped.code, 1);
        assert.match(piped.stderr, /^tsbox: .*no space left on device/i);
      } finally {
        execFileSync("umount", [small]);
      }
      for (const signal of ["SIGINT", "SIGTERM"] as const) {
        let pid = 0;
        const run = tsbox(who, ["export", "-o", out("x.tar"), "xbig"], { timeoutMs: 60_000, onSpawn: (p) => (pid = p) });
        const temp = () => readdirSync(who.scratch).some((e) => /^x\.tar\.\d+\.[0-9a-f]+\.tmp$/.test(e));
        for (let i = 0; i < 2000 && !temp(); i++) await sleep(5);
        assert.ok(temp(), "caught the export writing its temp file");
        process.kill(pid, signal);
        const r = await run;
        assert.deepEqual([r.code, r.stderr], [signal === "SIGINT" ? 130 : 143, "tsbox: export interrupted\n"], signal);
        assert.deepEqual(readdirSync(who.scratch).filter((e) => e.startsWith("x.tar")), [], `${signal} left the temp file`);
      }
    });

    it("Ctrl-C or SIGTERM of commit and import removes the layer's temp blob and stores no image", notAsSingle(who), async () => {
      await cli(["run", "--name", "cbig", "busybox", "sh", "-c", "head -c 60000000 /dev/urandom > /big"]);
      await cli(["export", "-o", out("cbig.tar"), "cbig"]);
      // Before: Node's default action ended them inside the blob write, leaving .blob-<pid>-….tmp until a prune.
      const blobTemps = () => readdirSync(who.dataDir).filter((e) => /^\.blob-.*\.tmp$/.test(e));
      for (const [what, args] of [["commit", ["commit", "cbig", "stopped:1"]], ["import", ["import", out("cbig.tar"), "stopped:1"]]] as const) {
        for (const [signal, group] of [["SIGINT", true], ["SIGTERM", true], ["SIGTERM", false]] as const) {
          let pid = 0;
          const run = tsbox(who, [...args], { timeoutMs: 60_000, onSpawn: (p) => (pid = p) });
          for (let i = 0; i < 4000 && blobTemps().length === 0; i++) await sleep(5);
          assert.ok(blobTemps().length > 0, `caught the ${what} writing its layer`);
          signalSpawned(pid, signal);
          const r = await run;
          assert.deepEqual([r.code, r.stderr], [signal === "SIGINT" ? 130 : 143, `tsbox: ${what} interrupted\n`], `${what} ${signal}`);
          assert.deepEqual(blobTemps(), [], `${what} ${signal} left its temp blob`);
          assert.equal((await cli(["images", "-q", "stopped"])).stdout, "", "no image is stored");
        }
      }
    });

    it("cp both ways, files and directories, docker's rules", async () => {
      await cli(["run", "--name", "c", "busybox", "sh", "-c", "mkdir -p /data/sub && echo f > /data/f && echo g > /data/sub/g && ln -s f /data/link && ln -s sub /data/sublink"]);
      mkdirSync(out("host"), { recursive: true });
      chownSync(out("host"), who.uid, who.gid);
      // a directory into an existing directory, its contents with /., a file under a new name
      await cli(["cp", "c:/data", out("host")]);
      assert.deepEqual(readdirSync(out("host/data")).sort(), ["f", "link", "sub", "sublink"]);
      assert.equal(readlinkSync(out("host/data/link")), "f", "symlinks are copied as links");
      await cli(["cp", "c:/data/.", out("host/contents")]);
      assert.deepEqual(readdirSync(out("host/contents")).sort(), ["f", "link", "sub", "sublink"]);
      await cli(["cp", "c:/data/sub/g", out("host/renamed")]);
      assert.equal(readFileSync(out("host/renamed"), "utf8"), "g\n");
      await cli(["cp", "-L", "c:/data/link", out("host/followed")]);
      assert.ok(lstatSync(out("host/followed")).isFile(), "-L copies the target");
      assert.equal(readFileSync(out("host/followed"), "utf8"), "f\n", "its bytes (they came out as zeros)");
      await cli(["cp", "-L", "c:/data/sublink", out("host/followed-dir")]);
      assert.equal(readFileSync(out("host/followed-dir/g"), "utf8"), "g\n");
      // host → container
      writeFileSync(out("host/in.txt"), "in\n");
      chownSync(out("host/in.txt"), who.uid, who.gid);
      await cli(["cp", out("host/in.txt"), "c:/data/"]);
      await cli(["cp", out("host/data"), "c:/copied"]);
      const back = await sh(`TSBOX cp c:/ - | tar -tf - | grep -E '^(data/in.txt|copied/sub/g|copied/link)$' | sort`);
      assert.equal(back.stdout, "copied/link\ncopied/sub/g\ndata/in.txt\n", back.stderr);
      // errors
      assert.match((await cli(["cp", "c:/nope", out("host")], { expect: 1 })).stderr, /^tsbox: Could not find the file \/nope in container c\n$/);
      assert.match((await cli(["cp", "c:/data", out("host/in.txt")], { expect: 1 })).stderr, /cannot copy a directory onto the file/);
      assert.match((await cli(["cp", out("host/in.txt"), "c:/no/such/dir/"], { expect: 1 })).stderr, /destination directory \/no\/such\/dir\/ does not exist/);
      assert.match((await cli(["cp", "c:/data", "nosuch:/x"], { expect: 1 })).stderr, /copying between containers is not supported/);
      // A file named as a directory (`f/`, `f/.`) is refused, either way, as docker's and cp's lstat of "f/" is (ENOTDIR);
      // before, the slash was dropped and the file copied. A directory, or a link to one, with a slash still copies.
      for (const src of ["c:/data/f/", "c:/data/f/.", "c:/data/link/"]) {
        assert.equal((await cli(["cp", src, out("host/named-dir")], { expect: 1 })).stderr, `tsbox: ${src.slice(2)} in container c: not a directory\n`);
      }
      assert.equal(existsSync(out("host/named-dir")), false, "nothing was copied");
      assert.equal((await cli(["cp", `${out("host/in.txt")}/`, "c:/data/"], { expect: 1 })).stderr, `tsbox: ${out("host/in.txt")}/: not a directory\n`);
      await cli(["cp", "c:/data/sublink/", out("host/via-link")]);
      assert.equal(readFileSync(out("host/via-link/g"), "utf8"), "g\n");
      await cli(["cp", `${out("host/data")}/`, "c:/slashed"]);
      await cli(["cp", "c:/slashed/f", out("host/slashed-f")]);
      assert.equal(readFileSync(out("host/slashed-f"), "utf8"), "f\n");
    });

    it("names that are not UTF-8, or hold a newline or a backslash, or are long, keep their bytes: diff, commit, export/import, save/load, cp both ways and tar streams", async () => {
      // Before: diff, commit, export and cp out refused ("cannot copy /a\377b: its name is not UTF-8"), and unpacking wrote U+FFFD for each such byte.
      const long = "n".repeat(120);
      const make = [
        `touch "/$(printf 'a\\377b')" "/$(printf 'nl\\nx')" '/back\\slash'`,
        `mkdir -p "/d/$(printf '\\351t\\351')/${long}"`,
        `echo hi > "/d/$(printf '\\351t\\351')/${long}/$(printf 'f\\376')"`,
        `ln -s "$(printf 't\\375')" "/l$(printf '\\200')"`,
        // An owner a rootless unpack applies afterwards, by name (one id only: the chown fails, root keeps it).
        `chown 1000:1000 "/$(printf 'a\\377b')" 2>/dev/null || true`,
      ].join("; ");
      await cli(["run", "--name", "raw", "busybox", "sh", "-c", make]);
      /** What a pipeline printed, as hex (CliResult's stdout is text). */
      const hex = async (script: string) => {
        const r = await sh(`(${script}) | od -An -v -tx1 | tr -d ' \\n'`);
        assert.equal(r.stderr, "");
        return r.stdout;
      };
      const bytes = (text: string) => Buffer.from(text, "latin1").toString("hex");
      // GNU tar's listing, names as they are (not as \\351).
      const tarList = "tar --quoting-style=literal -tf -";
      const dir = `d/\xe9t\xe9`;
      // docker's diff: each name's bytes; a control character (the newline, a C1 byte) escaped as before.
      const diff = ["/a\xffb", "/back\\slash", "/d", `/${dir}`, `/${dir}/${long}`, `/${dir}/${long}/f\xfe`, "/l\\x80", "/nl\\x0ax"].map((p) => `A ${p}\n`).join("");
      assert.equal(await hex("TSBOX diff raw"), bytes(diff));
      // The names (NUL-separated: one holds a newline) and the file's bytes and the link's target, in a container of IMAGE.
      const names = ["a\xffb", "back\\slash", "d", dir, `${dir}/${long}`, `${dir}/${long}/f\xfe`, "l\x80", "nl\nx"];
      const inside = (image: string) => hex(`TSBOX run --rm ${image} sh -c 'cd / && find a* back* d l* nl* -print0 | sort -z; cat d/*/*/f*; readlink l*; stat -c %u a*'`);
      const want = bytes(names.join("\0") + `\0hi\nt\xfd\n${who.name === "single" ? 0 : 1000}\n`);
      await cli(["commit", "raw", "raw:img"]);
      assert.equal(await inside("raw:img"), want, "commit, and the layer's unpack");
      await sh(`TSBOX export raw > ${out("raw.tar")}`);
      assert.equal(await hex(`${tarList} < ${out("raw.tar")} | grep -a '^d/' | head -2`), bytes(`d/\n${dir}/\n`), "export: raw bytes in the tar, as GNU tar reads them");
      await cli(["import", out("raw.tar"), "raw:imported"]);
      assert.equal(await inside("raw:imported"), want, "import");
      await sh(`TSBOX save -o ${out("raw-saved.tar")} raw:img`);
      await cli(["rmi", "raw:img"]);
      await cli(["load", "-i", out("raw-saved.tar")]);
      assert.equal(await inside("raw:img"), want, "save and load");
      // diff tells a changed file of the image from an added one by that name; a volume is filled from the image by it.
      await cli(["run", "--name", "raw2", "raw:img", "sh", "-c", "for f in /a?b; do echo more >> \"$f\"; done; mkdir \"$(echo /d/*)/new\"; rm /l?"]);
      assert.equal(await hex("TSBOX diff raw2"), bytes(`C /a\xffb\nC /d\nC /${dir}\nA /${dir}/new\nD /l\\x80\n`));
      // Its deletion is a whiteout of that name in the committed layer, unpacked as one (a 0/0 device node, root and rootless).
      await cli(["commit", "raw2", "raw:gone"]);
      assert.equal((await cli(["run", "--rm", "raw:gone", "sh", "-c", "ls -d /l? 2>/dev/null | wc -l; cat /a?b"])).stdout, "0\nmore\n");
      assert.equal(await hex("TSBOX run --rm -v /d raw:img find /d -print0 | sort -z"), bytes(`/d\0/${dir}\0/${dir}/${long}\0/${dir}/${long}/f\xfe\0`), "a new volume filled from the image");
      await cli(["rm", "raw2"]);
      // cp out (a directory, to the host and as a tar stream) and back in (a directory, and a tar stream GNU tar made).
      mkdirSync(out("rawhost"), { recursive: true });
      chownSync(out("rawhost"), who.uid, who.gid);
      await cli(["cp", "raw:/d", out("rawhost")]);
      const hostDir = Buffer.concat([Buffer.from(out("rawhost/d/")), Buffer.from([0xe9, 0x74, 0xe9])]);
      assert.deepEqual(readdirSync(hostDir, { encoding: "buffer" }), [Buffer.from(long)]);
      assert.equal(await hex(`TSBOX cp raw:/d - | ${tarList} | tail -1`), bytes(`d/\xe9t\xe9/${long}/f\xfe\n`));
      await cli(["cp", out("rawhost/d"), "raw:/in"]);
      await sh(`tar -cf - -C ${out("rawhost")} d | TSBOX cp - raw:/tmp`);
      assert.equal(await hex(`TSBOX cp raw:/in - | ${tarList} | tail -1; TSBOX cp raw:/tmp/d - | ${tarList} | tail -1`), bytes(`in/\xe9t\xe9/${long}/f\xfe\nd/\xe9t\xe9/${long}/f\xfe\n`));
      // A `..` is still one, whatever bytes are around it.
      writeFileSync(out("raw-escape.tar"), tar([{ path: "\udcff/../../evil", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") }]));
      chownSync(out("raw-escape.tar"), who.uid, who.gid);
      const escape = await sh(`TSBOX cp - raw:/tmp < ${out("raw-escape.tar")}`);
      assert.equal(escape.code, 1);
      assert.match(escape.stderr, /refusing to write .*\/\.\.\/\.\.\/evil: it leaves the target directory/);
      await cli(["rmi", "raw:img", "raw:imported", "raw:gone"]);
    });

    it("a tree nested deeper than PATH_MAX: diff, export -o, commit and cp both ways read it whole", async () => {
      // Two trees of 15 levels of 200 bytes (3 KB each), the second with its file moved under the first: 6 KB of
      // path, which no `cd` or whole path reaches. Before: "reading /deep/dddd…: File name too long" (and export
      // -o's "Cannot call write after a stream was destroyed").
      const level = "d".repeat(200);
      const half = Array(15).fill(level).join("/");
      await cli(["run", "--name", "deep", "busybox", "sh", "-c", `mkdir -p /deep/${half} /b/${half} && echo bottom > /b/${half}/f && mv /b /deep/${half}/`]);
      const bottom = `/deep/${half}/b/${half}/f`;
      assert.ok(bottom.length > 4096);
      const diff = (await cli(["diff", "deep"])).stdout.split("\n");
      assert.deepEqual([diff.length, diff.at(-2)], [34, `A ${bottom}`], "every level and the file");
      await cli(["export", "-o", out("deep.tar"), "deep"]);
      assert.equal(execFileSync("tar", ["-xOf", out("deep.tar"), bottom.slice(1)], { encoding: "utf8" }), "bottom\n");
      assert.match((await cli(["commit", "deep", "deep:img"])).stdout, /^sha256:[0-9a-f]{64}\n$/);
      mkdirSync(out("deephost"), { recursive: true });
      chownSync(out("deephost"), who.uid, who.gid);
      try {
        await cli(["cp", "deep:/deep", out("deephost")]);
        // (find's -execdir reaches the file one directory at a time; a whole path could not.)
        assert.equal(execFileSync("find", [out("deephost"), "-name", "f", "-execdir", "cat", "{}", ";"], { encoding: "utf8" }), "bottom\n");
        await cli(["cp", out("deephost/deep"), "deep:/back"]);
      } finally {
        removeTreeNow(out("deephost")); // (the scratch dir's own removal walks whole paths)
      }
      assert.match((await cli(["diff", "deep"])).stdout, new RegExp(`^A /back/${half}/b/${half}/f$`, "m"));
      await cli(["rmi", "deep:img"]);
    });

    it("a committed directory of mode 000 holding a file of another owner and its hard link: the image runs, owners and modes kept", async () => {
      // Before, rootless: the unpack listed the owners left to give after it had set the directories' modes, and
      // the lstat of /n/a/h in a 000 directory failed ("EACCES: permission denied, lstat …/n/a/h"): no run.
      await cli(["run", "--name", "locked", "busybox", "sh", "-c", "mkdir -p /n/a /n/b && echo x > /n/a/h && ln /n/a/h /n/b/h && (chown 1000:1000 /n/a/h 2>/dev/null || true) && chmod 000 /n/a /n/b"]);
      await cli(["commit", "locked", "locked:img"]);
      const owner = who.name === "single" ? "0:0" : "1000:1000";
      const r = await cli(["run", "--rm", "locked:img", "sh", "-c", "stat -c '%a %u:%g %h' /n/a /n/b /n/a/h /n/b/h"]);
      assert.equal(r.stdout, `0 0:0 2\n0 0:0 2\n644 ${owner} 2\n644 ${owner} 2\n`);
      await cli(["rmi", "locked:img"]);
    });

    it("cp into a created container that never started (docker's create, cp, start)", async () => {
      writeFileSync(out("before-start.txt"), "put there before the start\n");
      await cli(["create", "--name", "fresh", "busybox", "cat", "/tmp/before-start.txt"]);
      await cli(["cp", out("before-start.txt"), "fresh:/tmp/"]);
      assert.equal((await cli(["start", "-a", "fresh"])).stdout, "put there before the start\n");
      await cli(["rm", "fresh"]);
    });

    it("cp stays inside the container: symlinks resolve in its root, tar streams cannot write through links or ..", async () => {
      await cli(["run", "--name", "s", "busybox", "sh", "-c", "mkdir /data && ln -s /../../../../../etc /data/escape && ln -s / /data/root"]);
      // Reading through the link: the container's /etc/passwd (busybox's), not the host's.
      const passwd = await sh("TSBOX cp s:/data/escape/passwd - | tar -xOf -");
      assert.match(passwd.stdout, /^nobody:x:65534:65534:nobody:\/home:\/bin\/false$/m);
      // Writing through it lands in the container's /etc.
      const marker = `tsbox-cp-escape-${who.name}-${process.pid}`;
      writeFileSync(out(marker), "x");
      chownSync(out(marker), who.uid, who.gid);
      await cli(["cp", out(marker), "s:/data/escape/"]);
      assert.ok(!existsSync(join("/etc", marker)), "nothing was written to the host's /etc");
      assert.equal((await cli(["cp", `s:/etc/${marker}`, "-"])).code, 0);
      // A tar that tries to leave the directory, or to write through a link it made.
      const dotdot = tar([{ path: "../evil", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") }]);
      const throughLink = tar([
        { path: "link", type: "symlink", mode: 0o777, mtime: 0, linkname: "/" },
        { path: "link/etc/evil", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") },
      ]);
      for (const [name, bytes, message] of [
        ["dotdot.tar", dotdot, /refusing to write \.\.\/evil: it leaves the target directory/],
        ["link.tar", throughLink, /refusing to write link\/etc\/evil: link is a symlink or not a directory/],
      ] as const) {
        writeFileSync(out(name), bytes);
        chownSync(out(name), who.uid, who.gid);
        const r = await sh(`TSBOX cp - s:/data < ${out(name)}`);
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, message);
      }
      assert.equal((await cli(["cp", "s:/etc/evil", "-"], { expect: 1 })).code, 1, "nothing was written through the link");
    });

    it("cp out to the host gives the copier nothing the container chose: no device node, no setuid/setgid bit, unless -a", async () => {
      const bytes = tar([
        { path: "x", type: "directory", mode: 0o755, mtime: 0 },
        { path: "x/suid", type: "file", mode: 0o4755, mtime: 0, data: Buffer.from("#!/bin/sh\n") },
        { path: "x/sgid", type: "file", mode: 0o2755, mtime: 0, data: Buffer.from("x") },
        // (a loop device's numbers: an image's /dev/sda would be the host's disk)
        { path: "x/disk", type: "blockdev", mode: 0o666, mtime: 0, devmajor: 7, devminor: 200 },
      ]);
      writeFileSync(out("priv.tar"), bytes);
      chownSync(out("priv.tar"), who.uid, who.gid);
      // An image's layer (as root a layer's nodes are made; rootless they are left out).
      await cli(["import", out("priv.tar"), "priv:1"]);
      await cli(["create", "--name", "priv", "priv:1", "/x/suid"]);
      const mode = (path: string) => statSync(path).mode & 0o7777;
      await cli(["cp", "priv:/x", out("plain")]);
      assert.deepEqual([mode(out("plain/suid")), mode(out("plain/sgid"))], [0o755, 0o755], "before, a setuid program of the container's choosing, owned by the copier");
      assert.equal(existsSync(out("plain/disk")), false, "before, root's copy made the block device");
      await cli(["cp", "-a", "priv:/x", out("archived")]);
      assert.deepEqual([mode(out("archived/suid")), mode(out("archived/sgid"))], [0o4755, 0o2755], "-a keeps them");
      // The node exists in the container only where its maker could make one (root).
      if (who.name === "root") assert.ok(lstatSync(out("archived/disk")).isBlockDevice(), "-a keeps the node too");
      await cli(["rm", "priv"]);
      await cli(["rmi", "priv:1"]);
    });

    it("cp out of a running container that swaps a file for a FIFO or a link to /dev/tty ends, reading neither", notAsSingle(who), async () => {
      const racer = out("swap-racer");
      execFileSync("gcc", ["-static", "-O2", "-o", racer, fileURLToPath(new URL("fixtures/swap-racer.c", import.meta.url))]);
      chownSync(racer, who.uid, who.gid);
      const script = "mkdir /d && head -c 100 /dev/zero > /d/f && mkfifo /d/p && ln -s /dev/tty /d/t && exec /racer /d/f /d/p /d/t";
      await cli(["run", "-d", "--name", "swapper", "-v", `${racer}:/racer:ro`, "busybox", "sh", "-c", script]);
      for (let i = 0; i < 100 && !(await cli(["logs", "swapper"])).stdout.includes("ready"); i++) await sleep(50);
      for (let i = 0; i < 8; i++) {
        // A FIFO opened by path used to hang the copy for ever, and /dev/tty would have been our terminal.
        const r = await tsbox(who, ["cp", "swapper:/d", out(`swapped-${i}`)], { timeoutMs: 20_000 });
        assert.equal(r.code, 0, r.stderr);
        for (const name of readdirSync(out(`swapped-${i}`))) {
          const st = lstatSync(out(`swapped-${i}/${name}`));
          if (st.isFile()) assert.ok(st.size === 100 && readFileSync(out(`swapped-${i}/${name}`)).every((b) => b === 0), `${name}: the file's bytes or zeros`);
        }
      }
      await cli(["rm", "-f", "swapper"]);
    });

    it("cp into and out of a running container sees its tmpfs and volumes", async () => {
      const script = "wait_for() { i=0; while [ ! -e $1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; }; wait_for /scratch/go; cat /scratch/in /vol/in; echo out > /scratch/out; wait_for /scratch/done";
      const run: Promise<CliResult> = tsbox(who, ["run", "--name", "live", "--tmpfs", "/scratch", "-v", "livevol:/vol", "busybox", "sh", "-c", script], { timeoutMs: 60_000 });
      for (let i = 0; i < 100 && (await tsbox(who, ["ps", "-q", "--filter", "name=^live$"])).stdout === ""; i++) await sleep(100);
      const file = (name: string, text: string) => {
        writeFileSync(out(name), text);
        chownSync(out(name), who.uid, who.gid);
      };
      file("in", "from host\n");
      file("go", "");
      file("done", "");
      await cli(["cp", out("in"), "live:/scratch/in"]);
      await cli(["cp", out("in"), "live:/vol/in"]);
      await cli(["cp", out("go"), "live:/scratch/go"]);
      for (let i = 0; i < 100; i++) {
        if ((await tsbox(who, ["cp", "live:/scratch/out", out("got")])).code === 0) break;
        await sleep(100);
      }
      assert.equal(readFileSync(out("got"), "utf8"), "out\n", "copied out of the running container's tmpfs");
      await cli(["cp", out("done"), "live:/scratch/done"]);
      const r = await run;
      assert.equal(r.stdout, "from host\nfrom host\n", r.stderr);
      // After it stopped: the tmpfs is gone, the volume is still mounted for cp.
      await cli(["cp", "live:/vol/in", out("vol-after")]);
      assert.equal(readFileSync(out("vol-after"), "utf8"), "from host\n");
    });

    it("a failed cp leaves a running container's file system as it was", async () => {
      await cli(["run", "-d", "--name", "busy", "busybox", "sleep", "600"]);
      writeFileSync(out("f"), "f\n");
      chownSync(out("f"), who.uid, who.gid);
      assert.match((await tsbox(who, ["cp", "busy:/nonexistent", out("x")])).stderr, /Could not find the file \/nonexistent in container busy/);
      assert.match((await tsbox(who, ["cp", out("f"), "busy:/nonexistent/sub/"])).stderr, /destination directory \/nonexistent\/sub\/ does not exist/);
      // Writes under the image's own directories copy up through the container's overlay work dir.
      assert.equal((await cli(["exec", "busy", "sh", "-c", "touch /etc/after /tmp/after && echo ok"])).stdout, "ok\n");
      await cli(["cp", out("f"), "busy:/var/"]);
      assert.equal((await cli(["exec", "busy", "cat", "/var/f"])).stdout, "f\n");
    });

    it("cp onto a full disk fails with the reason, keeps the file it was to replace and leaves no partial one (either way); a sparse file copies sparse", async () => {
      // Random bytes: zeros would become holes and fit anywhere.
      await cli(["run", "-d", "--name", "full", "--tmpfs", "/small:size=1m", "busybox", "sh", "-c", "echo old > /small/big && head -c 3000000 /dev/urandom > /big && truncate -s 2G /sparse && echo x >> /sparse && sleep 600"]);
      for (let i = 0; i < 100 && (await tsbox(who, ["exec", "full", "test", "-e", "/sparse"])).code !== 0; i++) await sleep(50);
      const disk = await FullDisk.create(who, "1m");
      try {
        await tsbox(who, [], { argv: ["sh", "-c", `echo precious > ${join(disk.dir, "big")}`], mountns: disk.ns });
        // It hung: the writer had failed, the reader waited on a full pipe.
        const r = await tsbox(who, ["cp", "full:/big", join(disk.dir, "big")], { timeoutMs: 60_000, mountns: disk.ns });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^tsbox: writing big: No space left on device\n$/);
        assert.equal(disk.sh(`ls -A ${disk.dir} && cat ${disk.dir}/big`), "big\nprecious\n", "the file it was to replace is kept, nothing half-written");
      } finally {
        disk.close();
      }
      const into = await sh(`head -c 3000000 /dev/urandom > ${out("big")} && TSBOX cp ${out("big")} full:/small/`);
      assert.equal(into.code, 1);
      assert.match(into.stderr, /No space left on device/);
      assert.equal((await cli(["exec", "full", "sh", "-c", "ls -A /small && cat /small/big"])).stdout, "big\nold\n", "the container's file is kept, nothing half-written");
      await cli(["cp", "full:/sparse", out("sparse")]);
      const st = statSync(out("sparse"));
      assert.equal(st.size, 2 ** 31 + 2);
      assert.ok(st.blocks * 512 < 1 << 20, `2 GiB apparent, ${st.blocks} blocks`);
    });

    it("a cp - whose writer fails ends with its error though the input sends nothing more (a stdin held open)", async () => {
      // Before: the header and a little of the file went into the pipe, the writer refused them and exited, and the
      // command waited for the rest of its input for ever.
      await cli(["run", "-d", "--read-only", "--name", "ro", "busybox", "sleep", "600"]);
      const feed = new PassThrough();
      feed.write(entryHeader({ path: "f", type: "file", mode: 0o644, mtime: 0 }, 100_000));
      feed.write(Buffer.alloc(100));
      const r = await tsbox(who, ["cp", "-", "ro:/"], { stdin: feed, timeoutMs: 30_000 });
      feed.destroy();
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /^tsbox: .*read-only file system/im);
    });

    it("two cp into a stopped container at once: the second waits for the first's view of its layers, and both land", async () => {
      // Each mounts the container's overlay in a namespace of its own; a second mount of the same upper and work dirs
      // beside the first cleaned the first's work dir, or failed itself ("mounting overlay …: No such file or directory").
      await cli(["run", "--name", "stopped", "busybox", "true"]);
      const feed = new PassThrough();
      const body = Buffer.alloc(300_000, 7);
      feed.write(entryHeader({ path: "first", type: "file", mode: 0o644, mtime: 0 }, body.length));
      feed.write(body.subarray(0, 100_000));
      const first = tsbox(who, ["cp", "-", "stopped:/"], { stdin: feed, timeoutMs: 60_000 });
      // The first holds its view (its input stays open) while the second starts.
      await new Promise((r) => setTimeout(r, 500));
      writeFileSync(out("second"), "second\n");
      const second = tsbox(who, ["cp", out("second"), "stopped:/second"], { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 500));
      feed.end(Buffer.concat([body.subarray(100_000), Buffer.alloc(512 - (body.length % 512)), Buffer.alloc(1024)]));
      const [a, b] = await Promise.all([first, second]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const listed = await sh("TSBOX cp stopped:/second - | tar -xO; TSBOX cp stopped:/first - | tar -xO | wc -c");
      assert.equal(listed.stdout, "second\n300000\n", listed.stderr);
    });

    it("cp and start at once: the file lands and the container starts, whichever comes first", notAsSingle(who), async () => {
      // Before: the copy's view of the stopped container and the start each mounted its overlay, so the file was lost
      // (4 of 12 rounds) or one of them failed ("mounting overlay on …/rootfs: No such file or directory", "bind-mounting
      // …/net/hosts … changed after it was checked": the start rewrites it).
      await cli(["create", "--name", "racing", "busybox", "sleep", "600"]);
      writeFileSync(out("raced"), "raced\n");
      chownSync(out("raced"), who.uid, who.gid);
      for (let round = 0; round < 8; round++) {
        const [started, copied] = await Promise.all([tsbox(who, ["start", "racing"]), tsbox(who, ["cp", out("raced"), `racing:/raced${round}`])]);
        assert.deepEqual([started.code, copied.code], [0, 0], `round ${round}: ${started.stderr}${copied.stderr}`);
        assert.equal((await cli(["exec", "racing", "cat", `/raced${round}`])).stdout, "raced\n", `round ${round}`);
        await cli(["kill", "racing"]);
        await cli(["wait", "racing"]);
      }
    });

    it("Ctrl-C or SIGTERM of cp (the terminal signals the process group, a process manager the CLI alone) keeps the file it was to replace and leaves no temp, either way", notAsSingle(who), async () => {
      // Random bytes: zeros would become holes, written at once.
      await cli(["run", "-d", "--name", "cpint", "busybox", "sh", "-c", "head -c 150000000 /dev/urandom > /big && echo old > /old && sleep 600"]);
      for (let i = 0; i < 400 && (await tsbox(who, ["exec", "cpint", "test", "-e", "/old"])).code !== 0; i++) await sleep(50);
      const dest = out("cpint");
      mkdirSync(dest, { recursive: true });
      chownSync(dest, who.uid, who.gid);
      // The container's / seen from here (this test process is root): polled as fast as the host's dir.
      const pid = (await cli(["inspect", "-f", "{{.State.Pid}}", "cpint"])).stdout.trim();
      const inContainer = async () => readdirSync(`/proc/${pid}/root/`);
      // Into the container, a tar stream of /old (`cp - cpint:/`) that this test feeds: it is caught writing however
      // slow the machine, the rest of the file held back (a 150 MB file copied before the poll saw it, under load).
      const slowTar = () => {
        const feed = new PassThrough();
        feed.write(entryHeader({ path: "old", type: "file", mode: 0o644, mtime: 0 }, 150_000_000));
        feed.write(randomBytes(1 << 20));
        return feed;
      };
      const cases = [
        { to: "the host", args: ["cp", "cpint:/big", join(dest, "big")], names: async () => readdirSync(dest) },
        { to: "the container", args: ["cp", "-", "cpint:/"], names: inContainer, stdin: slowTar },
      ];
      const writing = async (names: () => Promise<string[]>) => (await names()).some((e) => e.startsWith(".tsbox-cp."));
      for (const c of cases) {
        for (const [signal, group] of [["SIGINT", true], ["SIGTERM", true], ["SIGTERM", false]] as const) {
          writeFileSync(join(dest, "big"), "precious\n");
          let cp = 0;
          const stdin = c.stdin?.();
          // setsid: the CLI leads a process group of its own, as a terminal's foreground job does.
          const run = tsbox(who, [], { argv: ["setsid", process.execPath, "--", cliPath, ...c.args], timeoutMs: 60_000, onSpawn: (p) => (cp = p), ...(stdin ? { stdin } : {}) });
          let ended: CliResult | undefined;
          void run.then((r) => (ended = r));
          let caught = false;
          for (let i = 0; i < 4000 && !ended && !(caught = await writing(c.names)); i++) await sleep(5);
          assert.ok(caught, `caught cp to ${c.to} writing (${ended ? `it ended first: ${ended.code} ${ended.stderr}` : "not seen writing"})`);
          assert.ok(cp > 0);
          // The CLI alone: its helpers end by the copy's AbortSignal (before, the 3 s fallback killed the CLI by the signal).
          process.kill(group ? -cp : cp, signal);
          const r = await run;
          stdin?.destroy();
          assert.deepEqual([r.code, r.stderr], [signal === "SIGINT" ? 130 : 143, "tsbox: cp interrupted\n"], `${c.to} ${signal}${group ? "" : " to the CLI alone"} (${r.signal ?? "no signal"})`);
          assert.deepEqual(readdirSync(dest), ["big"], `${signal} left a temp file on the host`);
          assert.equal(readFileSync(join(dest, "big"), "utf8"), "precious\n", "the host's file is kept");
          const inside = await cli(["exec", "cpint", "sh", "-c", "ls -A / | grep tsbox-cp; cat /old"]);
          assert.equal(inside.stdout, "old\n", `${signal}: the container's file is kept, no temp left`);
        }
      }
    });

    it("a full disk while a new layer's blob is written (commit, build, import) is one clear line, and a failed build leaves no step container", async () => {
      const mnt = out("full-data");
      mkdirSync(mnt, { recursive: true });
      execFileSync("mount", ["-t", "tmpfs", "-o", `size=12m,uid=${who.uid},gid=${who.gid}`, "tmpfs", mnt]);
      const env = { TSBOX_DATA_DIR: join(mnt, "data") };
      // Random bytes, 60% of what is free: the container's layer fits, its compressed copy does not.
      const free = () => Math.floor(statfsSync(mnt).bavail * statfsSync(mnt).bsize * 0.6);
      const clear = (r: CliResult) => {
        assert.notEqual(r.code, 0, r.stderr);
        // Before: an unhandled rejection, Node's stack trace ("at async OciLayout.writeBlob"), exit 1.
        assert.match(r.stderr, /^tsbox: no space left on device while writing a layer into .*\/data \(the file system of .* is full: free space \(tsbox system prune\)/m);
        assert.doesNotMatch(r.stderr, /^\s+at |node:internal/m);
      };
      try {
        assert.equal((await tsbox(who, ["run", "--rm", "busybox", "true"], { env })).code, 0);
        const ran = await tsbox(who, ["run", "--name", "filled", "busybox", "sh", "-c", `head -c ${free()} /dev/urandom > /big`], { env });
        assert.equal(ran.code, 0, ran.stderr);
        clear(await tsbox(who, ["commit", "filled", "full:1"], { env }));
        assert.equal((await tsbox(who, ["rm", "filled"], { env })).code, 0);
        const built = await tsbox(who, ["build", "-t", "full:2", "-"], { env, stdin: `FROM busybox\nRUN head -c ${free()} /dev/urandom > /big\n`, timeoutMs: 120_000 });
        clear(built);
        assert.equal((await tsbox(who, ["ps", "-aq"], { env })).stdout, "", "the failed step's container is removed");
        const archive = join(mnt, "random.tar");
        writeFileSync(archive, tar([{ path: "r", type: "file", mode: 0o644, mtime: 0, data: randomBytes(free()) }]));
        chownSync(archive, who.uid, who.gid);
        clear(await tsbox(who, ["import", archive, "full:3"], { env }));
        rmSync(archive);
        assert.equal((await tsbox(who, ["images", "-q", "--filter", "reference=full"], { env })).stdout, "");
        assert.deepEqual(readdirSync(join(mnt, "data")).filter((n) => n.startsWith(".blob-")), [], "no blob temp file is left");
        assert.equal((await tsbox(who, ["system", "prune", "-a", "-f"], { env })).code, 0);
      } finally {
        execFileSync("umount", [mnt]);
        rmSync(mnt, { recursive: true, force: true });
      }
    });

    it("cp -a of a file whose owner is past the container's ids fails naming it, the id and the range, into a running or a stopped container; as root the owner is kept", async () => {
      // Before: the file was silently root's. docker's and podman's copies fail the lchown alike.
      writeFileSync(out("far"), "far");
      chownSync(out("far"), 70000, 70000);
      await cli(["run", "-d", "--name", "far-run", "busybox", "sleep", "300"]);
      await cli(["create", "--name", "far-stopped", "busybox", "true"]);
      for (const c of ["far-run", "far-stopped"]) {
        const r = await tsbox(who, ["cp", "-a", out("far"), `${c}:/far`]);
        if (who.name === "root") {
          assert.equal(r.code, 0, r.stderr);
          continue;
        }
        assert.equal(r.code, 1, r.stderr);
        const range = who.name === "single" ? "which has uid 0 only" : "whose uids are 0-\\d+ \\(host uids \\d+, \\d+-\\d+\\): rootless, a container's ids past 0 are the user's /etc/subuid and /etc/subgid range";
        assert.match(r.stderr, new RegExp(`^tsbox: cannot give /far the owner 70000:70000: uid 70000 is not mapped in the container's user namespace, ${range}`, "m"));
        // Without -a the file is the container's root's, as docker's.
        await cli(["cp", out("far"), `${c}:/far`]);
      }
      await cli(["stop", "-t", "0", "far-run"]);
      for (const c of ["far-run", "far-stopped"]) {
        const copied = await sh(`TSBOX cp ${c}:/far - | tar -tvf -`);
        assert.equal(copied.code, 0, copied.stderr);
        assert.match(copied.stdout, who.name === "root" ? /70000\/70000 .* far/ : /0\/0 .* far/);
      }
      await cli(["rm", "far-run", "far-stopped"]);
    });

    if (who.name === "root") {
      it("cp -a keeps owners", async () => {
        await cli(["run", "--name", "own", "busybox", "true"]);
        writeFileSync(out("owned"), "o");
        chownSync(out("owned"), 1234, 4321);
        await cli(["cp", "-a", out("owned"), "own:/owned"]);
        await cli(["cp", out("owned"), "own:/plain"]);
        // Each step's status and stderr on its own (a pipe's status is tar's: a short stream read as a missing file once).
        const copied = await sh(`TSBOX cp own:/ - > ${out("own.tar")}`);
        assert.equal(copied.code, 0, copied.stderr);
        const list = await sh(`tar -tvf ${out("own.tar")} owned plain`);
        assert.equal(list.code, 0, list.stderr);
        assert.match(list.stdout, /1234\/4321 .* owned/);
        assert.match(list.stdout, /0\/0 .* plain/);
      });
    }
  });
}
