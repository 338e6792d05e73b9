/**
 * The vm backend's boundary, attacked. Without a guest: a hostile guest
 * kernel speaks 9p to the real server over real host directories (NodeFs)
 * — it must reach nothing but what was exported, never open a device node
 * or FIFO, and never pin unbounded host resources. With the real guest, as
 * root and as the unprivileged test users: a file volume, device nodes and
 * FIFOs in a layer, and forged agent frames from inside a container.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { PassThrough } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { acquireExports, inHostTerms, KEPT_LAYER_FILE, toGuestSpec } from "../src/backends/vm/core/guest-spec.js";
import { checkBindSource } from "../src/backends/vm/node/bind-source.js";
import { TsboxError } from "../src/errors.js";
import { AgentLink } from "../src/backends/vm/node/agent-link.js";
import { encodeFrame, FrameDecoder, FrameType } from "../src/backends/vm/core/frame.js";
import { hostNaming, startInGuest } from "../src/backends/vm/node/container-run.js";
import { MAX_DIALS, MAX_LOOKUPS, serveOutbound } from "../src/backends/vm/node/outbound.js";
import { hostAddress } from "../src/network/host-loopback.js";
import specFull from "./fixtures/contract/spec-full.json" with { type: "json" };
import { Errno } from "../src/backends/vm/core/p9/errno.js";
import { NodeFs } from "../src/backends/vm/node/p9/node-fs.js";
import { P9Server } from "../src/backends/vm/core/p9/server.js";
import { nameBytes, nameFromBytes } from "../src/name-bytes.js";
import type { ContainerSpec } from "../src/spec/container-spec.js";
import type { Backend, StartOptions } from "../src/backends/backend.js";
import { ContainerFiles, copyFromContainer } from "../src/containers/copy.js";
import { containerChanges, upperAsLayer } from "../src/containers/changes.js";
import type { ContainerState } from "../src/containers/state.js";
import { bundlePaths } from "../src/paths.js";
import { repoRoot, runJsonScript, tsbox } from "./helpers/cli.js";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { vmLayeredFixture } from "./helpers/images.js";
import { assertNoLeaks, fdsUnder, type Snapshot, snapshot } from "./helpers/leaks.js";
import { p9Client } from "./helpers/p9-client.js";
import { vmSkip } from "./helpers/vm.js";

const { ENOENT, EACCES, EBUSY, ENOTDIR, EINVAL, ENFILE, EMFILE, ENAMETOOLONG } = Errno;

const isRoot = process.getuid!() === 0;
const scratch = mkdtempSync(join(tmpdir(), "security-vm-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Only what toGuestSpec reads: the root and the mounts. */
function specWith(mounts: ContainerSpec["mounts"], lower: string[]): ContainerSpec {
  const linux = { uidMappings: [], gidMappings: [] };
  return { root: { path: "/unused", readonly: false, overlay: { lower, upper: "/u", work: "/w" } }, mounts, process: { user: { uid: 0, gid: 0 } }, linux } as unknown as ContainerSpec;
}

describe("vm file volumes: 9p as a hostile guest sees it (no guest)", () => {
  it("exports a file volume as that file alone: no sibling, no parent, no way up", async () => {
    const home = mkdtempSync(join(scratch, "home-"));
    writeFileSync(join(home, "notes.txt"), "my notes\n");
    writeFileSync(join(home, "secret.txt"), "do not read\n");
    mkdirSync(join(home, ".ssh"));
    writeFileSync(join(home, ".ssh", "id_ed25519"), "private key\n");
    const layer = mkdtempSync(join(scratch, "layer-"));
    const notes = join(home, "notes.txt");

    const guest = toGuestSpec(specWith([{ destination: "/notes.txt", type: "bind", source: notes, options: ["rbind", "rw"] }], [layer]), "c0ffee", {
      layerExportName: () => "l-test",
    });
    const volume = guest.exports.find((e) => e.name.startsWith("v-"))!;
    assert.equal(volume.path, notes, "the export is the file, not its directory");
    assert.equal(guest.spec.mounts.find((m) => m.destination === "/notes.txt")!.source, `/mnt/host/${volume.name}`);

    const server = new P9Server(new NodeFs());
    const table = { add: (n: string, e: { path: string; readonly: boolean }) => server.addExport(n, e), remove: (n: string) => server.removeExport(n) };
    const release = await acquireExports(table, new Map(), guest.exports);
    const c = p9Client(server);
    // Guest root's view: /mnt/host lists the exports, nothing else.
    assert.deepEqual(c.readdir(c.walk()).filter((n) => n !== "." && n !== "..").sort(), ["l-test", volume.name].sort());
    const file = c.walk(volume.name);
    c.open(file);
    assert.equal(c.read(file), "my notes\n");
    // Every way towards the sibling: through the file, and up from it.
    assert.throws(() => c.walk(volume.name, "secret.txt"), /walk stopped after 1 of 2/);
    assert.throws(() => c.walk(volume.name, "..", "secret.txt"), /walk stopped after 2 of 3/);
    assert.throws(() => c.walk(volume.name, "..", "..", ".ssh"), /walk stopped after 3 of 4/);
    assert.equal(c.errno(() => c.walk("secret.txt")), ENOENT);
    assert.equal(c.errno(() => c.walk(".ssh")), ENOENT);
    assert.equal(c.errno(() => c.create(file, "planted")), ENOTDIR);
    // The export itself can be written, not removed, renamed or replaced.
    const w = c.walk(volume.name);
    c.open(w, 1);
    c.write(w, "edited in the guest\n");
    assert.equal(readFileSync(notes, "utf8"), "edited in the guest\n");
    assert.equal(c.errno(() => c.remove(c.walk(volume.name))), EBUSY);
    assert.equal(c.errno(() => c.rename(c.walk(volume.name), c.walk(volume.name), "stolen")), EBUSY);
    assert.equal(readFileSync(join(home, "secret.txt"), "utf8"), "do not read\n");
    assert.equal(realpathSync(notes), notes);
    release();
    assert.equal(c.errno(() => c.walk(volume.name)), ENOENT);
  });

  it("never removes or renames a directory export's root", () => {
    const vol = mkdtempSync(join(scratch, "vol-"));
    const server = new P9Server(new NodeFs());
    server.addExport("v", { path: vol, readonly: false });
    server.addExport("w", { path: mkdtempSync(join(scratch, "vol-")), readonly: false });
    const c = p9Client(server);
    assert.equal(c.errno(() => c.remove(c.walk("v"))), EBUSY);
    assert.equal(c.errno(() => c.rename(c.walk("v"), c.walk("w"), "x")), EBUSY);
    assert.ok(statSync(vol).isDirectory());
  });
});

describe("vm bind sources: planted symlinks, and the export pinned to what was checked (no guest)", () => {
  it("a bind source through a link a container could have planted is refused, in native's words; a link it could not have made is followed", () => {
    const dir = realpathSync(mkdtempSync(join(scratch, "planted-")));
    mkdirSync(join(dir, "home"));
    symlinkSync(join(dir, "home"), join(dir, "data"));
    const spec = specWith([{ destination: "/data", type: "bind", source: `${dir}/data`, options: ["rbind", "rw"] }], []);
    // The test runs as root, whose 9p server may give a file any owner: every link counts as planted.
    const message = `bind-mounting ${dir}/data on /data: ${dir}/data is a symlink (to ${dir}/home) owned by uid ${process.getuid!()}, which a container could have planted: tsbox does not follow it (give the real path)`;
    assert.throws(() => toGuestSpec(spec, "c0ffee", hostNaming), (err: TsboxError) => err.message === message && err.exitCode === 125);
    // A planter other than the link's owner: followed, and the export is the link's target.
    const checked = checkBindSource(`${dir}/data`, [[process.getuid!() + 1, 1]]);
    assert.equal(checked.path, join(dir, "home"));
    const guest = toGuestSpec(spec, "c0ffee", { layerExportName: () => "l", checkSource: () => checked });
    assert.deepEqual(guest.exports.map((e) => [e.path, e.identity]), [[join(dir, "home"), checked.identity]]);
  });

  it("a checked export is served only as checked: a swap before the add is refused, one after it leads nowhere", () => {
    const dir = realpathSync(mkdtempSync(join(scratch, "pinned-")));
    mkdirSync(join(dir, "data"));
    mkdirSync(join(dir, "secret"));
    writeFileSync(join(dir, "secret", "key"), "do not read\n");
    const server = new P9Server(new NodeFs());
    const checked = checkBindSource(join(dir, "data"), "everyone");
    // Swapped for a link (to what the check would have refused) between the check and the export.
    renameSync(join(dir, "data"), join(dir, "data.old"));
    symlinkSync(join(dir, "secret"), join(dir, "data"));
    assert.throws(() => server.addExport("v", { path: checked.path, readonly: false, identity: checked.identity }), /data changed after it was checked/);
    // Another directory in its place: not the one checked either.
    rmSync(join(dir, "data"));
    mkdirSync(join(dir, "data"));
    assert.throws(() => server.addExport("v", { path: checked.path, readonly: false, identity: checked.identity }), /changed after it was checked/);
    // Added as checked, then swapped: the server's every call finds it outside the export.
    rmSync(join(dir, "data"), { recursive: true });
    renameSync(join(dir, "data.old"), join(dir, "data"));
    server.addExport("v", { path: checked.path, readonly: false, identity: checked.identity });
    const c = p9Client(server);
    assert.deepEqual(c.readdir(c.walk("v")).filter((n) => n !== "." && n !== ".."), []);
    renameSync(join(dir, "data"), join(dir, "data.old"));
    symlinkSync(join(dir, "secret"), join(dir, "data"));
    assert.equal(c.errno(() => c.walk("v", "key")), EACCES);
  });

  it("the guest's error names the source the user gave, not its export (/mnt/host/v-…)", () => {
    const guest = toGuestSpec(specWith([
      { destination: "/etc/passwd", type: "bind", source: "/home/u/proj", options: ["rbind", "rw"] },
      { destination: "/a", type: "bind", source: "/srv/a", options: ["rbind", "rw"] },
    ], []), "0123456789abcdef01", { layerExportName: () => "l" });
    const [first, second] = guest.spec.mounts.map((m) => m.source);
    const err = new TsboxError(`bind-mounting ${first} on /etc/passwd: Not a directory (and ${second}/x, ${first}0)`, { exitCode: 125 });
    assert.equal(inHostTerms(err, guest), err);
    assert.equal(err.message, `bind-mounting /home/u/proj on /etc/passwd: Not a directory (and /srv/a/x, ${first}0)`);
  });
});

describe("vm volumes: names that are not UTF-8 (no guest)", () => {
  it("a guest's name reaches the host as its bytes and comes back as them; the walk's checks hold", () => {
    // Before: 9p names were decoded as UTF-8, so a guest's `touch "/v/$(printf 'a\\377b')"` made a\xef\xbf\xbdb on the host.
    const vol = mkdtempSync(join(scratch, "vol-"));
    const server = new P9Server(new NodeFs());
    server.addExport("v", { path: vol, readonly: false });
    const c = p9Client(server);
    const raw = (t: string) => Buffer.from(t, "latin1");
    const name = (t: string) => nameFromBytes(raw(t));
    c.create(c.walk("v"), name("a\xffb"));
    c.mkdir(c.walk("v"), name("d\xe9"));
    assert.deepEqual(readdirSync(vol, { encoding: "buffer" }).sort(Buffer.compare), [raw("a\xffb"), raw("d\xe9")]);
    writeFileSync(raw(`${vol}/d\xe9/f\xfe`), "from the host\n");
    const listed = c.readdir(c.walk("v", name("d\xe9"))).filter((n) => n !== "." && n !== "..");
    assert.deepEqual(listed.map((n) => nameBytes(n)), [raw("f\xfe")]);
    const file = c.walk("v", name("d\xe9"), name("f\xfe"));
    c.open(file);
    assert.equal(c.read(file), "from the host\n");
    c.rename(c.walk("v", name("a\xffb")), c.walk("v", name("d\xe9")), name("moved\x80"));
    assert.ok(existsSync(raw(`${vol}/d\xe9/moved\x80`)));
    const up = c.walk("v", name("d\xe9"), "..", "..", "..");
    assert.deepEqual(c.readdir(up).filter((n) => n !== "." && n !== ".."), ["v"], "no way out of the exports, whatever the names");
  });
});

describe("vm special files: 9p never opens a device node, FIFO or socket (no guest)", () => {
  it("refuses them on open and truncate, without blocking, and reads no host device", async () => {
    const dir = mkdtempSync(join(scratch, "special-"));
    execFileSync("mkfifo", [join(dir, "fifo")]);
    writeFileSync(join(dir, "plain"), "plain file\n");
    const names = ["fifo", "plain", "socket"];
    if (isRoot) {
      // What a layer unpacked as root can hold: nodes of host devices.
      execFileSync("mknod", [join(dir, "zero"), "c", "1", "5"]);
      execFileSync("mknod", [join(dir, "hvc1"), "c", "229", "1"]);
      names.push("zero", "hvc1");
    }
    const sock = createServer();
    await new Promise<void>((resolve) => sock.listen(join(dir, "socket"), resolve));
    try {
      // In a child: if an open blocks, the probe is killed and the test fails (rather than hangs).
      const r = spawnSync(process.execPath, ["--import", "tsx", join(repoRoot, "test", "helpers", "p9-probe.ts"), dir, ...names], { encoding: "utf8", timeout: 20_000 });
      assert.equal(r.signal, null, `the 9p server blocked opening a special file (killed after 20 s): ${r.stderr}`);
      assert.equal(r.status, 0, r.stderr);
      const got = JSON.parse(r.stdout) as Record<string, { read: number | string; write: number; truncate: number }>;
      assert.deepEqual(got.plain, { read: 'read "plain file\\n"', write: 0, truncate: 0 });
      for (const name of names.filter((n) => n !== "plain")) {
        assert.deepEqual(got[name], { read: EACCES, write: EACCES, truncate: EACCES }, `${name}: ${JSON.stringify(got[name])}`);
      }
    } finally {
      sock.close();
    }
  });
});

describe("vm 9p: the owner's override, only where the guest gave it and only on the user's files (no guest)", () => {
  for (const who of identities().filter((w) => w.name !== "root")) {
    it(`as ${who.name}: writes a 0444 file and changes a 0555 directory of the user's, puts the modes back, and leaves another's file, a read-only export and symlinks alone`, { skip: !isRoot && "needs root to act as the test users" }, async () => {
      const dir = join(who.scratch, `owner-access-${Math.random().toString(16).slice(2)}`);
      mkdirSync(join(dir, "rodir"), { recursive: true });
      writeFileSync(join(dir, "ro.txt"), "ro\n", { mode: 0o444 });
      writeFileSync(join(dir, "rodir", "f"), "f\n");
      writeFileSync(join(dir, "secret"), "s\n", { mode: 0o000 });
      symlinkSync("rodir", join(dir, "link"));
      for (const rel of ["", "rodir", "rodir/f", "ro.txt", "secret", "link"]) execFileSync("chown", ["-h", `${who.uid}:${who.gid}`, join(dir, rel)]);
      writeFileSync(join(dir, "theirs.txt"), "root's\n", { mode: 0o444 }); // root's: the user may not chmod it
      execFileSync("chmod", ["555", join(dir, "rodir")]);
      try {
        const got = await runJsonScript(who, join(repoRoot, "test", "helpers", "p9-owner-probe.ts"), [dir]);
        assert.deepEqual(got, {
          writeOwn: 0,
          truncateOwn: 0,
          writeTheirs: EACCES,
          create: 0,
          unlink: 0,
          readSecret: 0,
          readSecretReadOnly: EACCES,
          viaLink: "refused",
          viaLinkedDir: "refused",
          modes: { ro: "444", theirs: "444", rodir: "555", secret: "0" },
        });
        assert.equal(readFileSync(join(dir, "ro.txt"), "utf8"), "ro");
        assert.equal(readFileSync(join(dir, "theirs.txt"), "utf8"), "root's\n");
        assert.deepEqual(readdirSync(join(dir, "rodir")), ["new"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("vm 9p fid table: bounded, no fd leaks (no guest)", () => {
  const setup = (limits = { fids: 64, open: 8, path: 4096, dirEntries: 100 }) => {
    const dir = mkdtempSync(join(scratch, "fids-"));
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}`), `file ${i}\n`);
    const server = new P9Server(new NodeFs(), limits);
    server.addExport("x", { path: dir, readonly: false });
    return { dir, server, c: p9Client(server) };
  };
  it("refuses a newfid in use instead of dropping (and leaking) its open fd", () => {
    const { dir, server, c } = setup();
    const a = c.walk("x", "f1");
    c.open(a);
    assert.equal(fdsUnder(dir), 1);
    for (let i = 0; i < 50; i++) assert.equal(c.errno(() => c.walkTo(0, a, ["x", "f2"])), EINVAL);
    assert.equal(c.read(a), "file 1\n", "the fid still names what it named");
    assert.equal(fdsUnder(dir), 1, "the refused walks opened nothing");
    // A walk onto itself replaces the fid and closes what it held.
    c.walkTo(a, a, []);
    assert.equal(server.fidCounts().open, 0);
    assert.equal(fdsUnder(dir), 0);
    c.clunk(a);
    assert.equal(fdsUnder(dir), 0);
  });

  it("bounds fids, open files, path length and cached listings", () => {
    const { server, c } = setup();
    const fids: number[] = [];
    let err = 0;
    for (let i = 0; i < 200 && err === 0; i++) err = c.errno(() => fids.push(c.walk("x", `f${i % 20}`)));
    assert.equal(err, ENFILE);
    assert.equal(server.fidCounts().fids, 64);
    let opened = 0;
    for (const f of fids) if (c.errno(() => c.open(f)) === 0) opened++;
    assert.equal(opened, 8);
    assert.equal(c.errno(() => c.open(fids[20]!)), EMFILE);
    for (const f of fids) c.clunk(f);
    assert.deepEqual(server.fidCounts(), { fids: 1, open: 0, dirEntries: 0 });
    // Walks of more than 16 names (9P's MAXWELEM) and paths past PATH_MAX are refused.
    assert.equal(c.errno(() => c.walk("x", ...Array(17).fill("."))), EINVAL);
    const deep = c.walk("x");
    assert.equal(c.errno(() => c.call(14, (w) => (w.u32(deep), w.str("n".repeat(5000)), w.u32(1), w.u32(0o644), w.u32(0)))), ENAMETOOLONG);
    // Listings cached for paged readdir stay within their bound (each lists 22 entries).
    const dirs = Array.from({ length: 10 }, () => c.walk("x"));
    for (const d of dirs) {
      c.open(d);
      c.readdir(d);
    }
    assert.ok(server.fidCounts().dirEntries <= 100, JSON.stringify(server.fidCounts()));
  });
});

describe("vm agent link: the guest's output credit is enforced (no guest)", () => {
  /** A link whose guest we play: `guest(bytes)` is what it sends us. */
  const setup = () => {
    const sent: Uint8Array[] = [];
    const link = new AgentLink({ send: (b) => sent.push(b) });
    const errors: { channel: number; message: string }[] = [];
    link.on("protocol-error", (e: { channel: number; message: string }) => errors.push(e));
    return { link, errors, guest: (b: Uint8Array) => link.receive(b) };
  };

  it("output beyond the granted credit is a protocol error, and the host does not buffer it", async () => {
    const { link, errors, guest } = setup();
    const out = link.openOutput();
    let failed: Error | undefined;
    out.readable.on("error", (e) => (failed = e));
    // Nobody reads: the window (64 KiB) is all the host holds.
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    for (let i = 0; i < 4; i++) guest(encodeFrame(FrameType.data, out.channel, chunk));
    assert.equal(errors.length, 0);
    assert.equal(out.readable.readableLength, 64 * 1024);
    for (let i = 0; i < 1000; i++) guest(encodeFrame(FrameType.data, out.channel, chunk));
    assert.ok(out.readable.readableLength <= 64 * 1024, `host buffered ${out.readable.readableLength} bytes`);
    assert.match(errors[0]?.message ?? "", /beyond its credit/);
    await new Promise((r) => setImmediate(r));
    assert.match(String(failed), /beyond its credit/);
  });

  it("a guest that grants stdin credit but stops reading its link does not make the host buffer the input", async () => {
    const { link, guest } = setup();
    const input = link.openInput();
    // 100 MB of stream credit, and never a link credit (channel 0).
    guest(encodeFrame(FrameType.credit, input.channel, Buffer.from(new Uint32Array([100_000_000]).buffer)));
    let written = 0;
    for (let i = 0; i < 300; i++) input.write(Buffer.alloc(64 * 1024), () => (written += 64 * 1024));
    await new Promise((r) => setImmediate(r));
    const queued = (link as unknown as { queued: number }).queued;
    assert.ok(queued <= 512 * 1024, `the link queued ${queued} bytes`);
    assert.ok(written <= 512 * 1024, `the writer was told ${written} bytes were sent`);
  });

  it("a guest cannot raise the host's stream window, nor fire events the host does not expect", async () => {
    const { link, guest } = setup();
    const fired: string[] = [];
    for (const e of ["error", "close", "rejected-x", "ready"]) link.on(e, () => fired.push(e));
    const hello = link.hello(2000);
    // The agent answers hello (id 1) claiming an enormous window.
    guest(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ id: 1, ok: true, window: 1e9, streamWindow: 2 ** 40 }))));
    await hello;
    const out = link.openOutput();
    for (let i = 0; i < 200; i++) guest(encodeFrame(FrameType.data, out.channel, Buffer.alloc(32 * 1024)));
    assert.ok(out.readable.readableLength <= 1024 * 1024, `host buffered ${out.readable.readableLength} bytes`);
    for (const event of ["error", "close", "rejected-x"]) guest(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ event }))));
    assert.deepEqual(fired, []);
  });
});

/** A header line and body of the copy record stream (src/containers/copy-records.ts). */
const record = (path: string, body: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ path, type: "file", mode: 0o644, uid: 0, gid: 0, mtime: 0, size: body.length, ...extra }) + "\n" + body;

/**
 * A stopped vm container whose guest answers `cp`'s requests as a hostile
 * agent may: `stat` says SRC is a file, `read` sends `stream` of the name it asked for (what the
 * agent's copy op puts on its stdout channel). The host side is real:
 * copyFromContainer and the host's tsbox-runtime writer.
 */
function hostileGuestFiles(bundle: string, stream: (asked: string) => string): ContainerFiles {
  mkdirSync(bundle, { recursive: true });
  writeFileSync(join(bundle, "config.json"), "{}");
  const state = { id: "a".repeat(64), name: "victim", backend: "vm", status: "exited", pid: null } as unknown as ContainerState;
  const backend: Pick<Backend, "copy"> = {
    copy: async (_dir, request) => {
      const out = new PassThrough();
      out.end(request.op === "stat" ? JSON.stringify({ exists: true, type: "file", mode: 0o644, size: 2 }) + "\n" : stream(request.name ?? ""));
      return { stdin: null, stdout: out, done: Promise.resolve(), kill: () => {} };
    },
  };
  return new ContainerFiles(bundlePaths(bundle), state, backend);
}

describe("vm cp: a hostile guest's record stream (no guest)", () => {
  const evil = "echo PWNED\n";
  const escape = (asked: string) => record(asked, "ok") + record(".bashrc", evil) + record(".ssh/authorized_keys", evil) + record("bin/sudo", "x", { mode: 0o6755 });

  it("cp CTR:/out/result.txt DIR writes result.txt alone: a record beside it fails the copy, and nothing outside is written", async () => {
    const home = mkdtempSync(join(scratch, "cp-home-"));
    writeFileSync(join(home, ".bashrc"), "mine\n");
    const files = hostileGuestFiles(join(scratch, "cp-bundle"), escape);
    await assert.rejects(copyFromContainer(files, "/out/result.txt", home + "/", undefined), /refusing to write \.bashrc: the copy stream may hold only result\.txt/);
    assert.equal(readFileSync(join(home, ".bashrc"), "utf8"), "mine\n");
    assert.deepEqual(readdirSync(home).sort(), [".bashrc", "result.txt"]);
    // A hard link to a file beside it: refused too (it would put the user's file into the copy).
    const linked = hostileGuestFiles(join(scratch, "cp-bundle-2"), (asked) => record(asked, "ok") + JSON.stringify({ path: asked, type: "hardlink", link: ".bashrc", mode: 0o644, uid: 0, gid: 0, mtime: 0 }) + "\n");
    await assert.rejects(copyFromContainer(linked, "/out/result.txt", join(home, "again.txt"), undefined), /refusing to write \.bashrc: the copy stream may hold only again\.txt/);
    assert.equal(statSync(join(home, ".bashrc")).nlink, 1);
  });

  it("cp CTR:SRC - refuses a record outside SRC instead of archiving it", async () => {
    const out = new PassThrough();
    const tar: Buffer[] = [];
    out.on("data", (b: Buffer) => tar.push(b));
    const files = hostileGuestFiles(join(scratch, "cp-bundle-3"), (asked) => record(asked, "ok") + record(".bashrc", evil));
    await assert.rejects(copyFromContainer(files, "/out/result.txt", "-", out), /refusing to write \.bashrc/);
    assert.doesNotMatch(Buffer.concat(tar).toString("latin1"), /bashrc|PWNED/);
  });
});

/**
 * A scripted guest agent on a real AgentLink: every request is answered at
 * (or once `answer`'s promise settles), `ok` plus what it adds. `requests`
 * is what it was sent.
 */
function scriptedGuest(answer: (req: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>> = () => ({})) {
  const decoder = new FrameDecoder(1 << 20);
  const requests: Record<string, unknown>[] = [];
  const link: AgentLink = new AgentLink({
    send(bytes) {
      // Consumed at once: the link's window (console events in flight) opens again.
      const credit = Buffer.alloc(4);
      credit.writeUInt32LE(bytes.length, 0);
      setImmediate(() => link.receive(encodeFrame(FrameType.credit, 0, credit)));
      for (const item of decoder.push(bytes)) {
        if (item.kind !== "frame" || item.frame.type !== FrameType.ctrl || item.frame.channel !== 0) continue;
        const req = JSON.parse(item.frame.payload.toString()) as Record<string, unknown>;
        requests.push(req);
        void Promise.resolve(answer(req)).then((fields) => {
          const reply = { ...fields, id: req.id, ok: true };
          setImmediate(() => link.receive(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify(reply)))));
        });
      }
    },
  });
  return { link, requests };
}

describe("vm network records: a hostile guest's start answer (no guest)", () => {
  it("records only the networks the host asked for, under their own names, with only the known fields", async () => {
    const bundle = mkdtempSync(join(scratch, "attach-"));
    const outside = join(scratch, "attach-outside");
    writeFileSync(join(bundle, "state.json"), '{"backend":"vm"}');
    const spec = structuredClone(specFull) as unknown as ContainerSpec;
    spec.linux.namespaces = [];
    spec.network!.ports = [];
    spec.network!.dir = join(bundle, "net");
    // The fixture's bind sources are no paths of this host (each is checked before it is exported).
    spec.mounts = spec.mounts.filter((m) => m.type !== "bind");
    let exit = () => {};
    const exited = new Promise<Record<string, unknown>>((resolve) => (exit = () => resolve({ exitCode: 0, signal: null })));
    const record = { network: "app", ip: "10.89.0.9", prefix: 24, gateway: "10.89.0.1", bridge: "br", ifname: "eth0", hostInterface: "veth0", mac: "02:00:00:00:00:01", aliases: ["db"], keeper: 12, keeperStart: 34 };
    const { link } = scriptedGuest((req) =>
      req.op === "start"
        ? {
            pid: 7,
            networks: [
              { ...record, network: "/../../state", backend: "native" },
              { ...record, network: `/../../../../../../../../../..${outside}` },
              { ...record, network: "other" },
              { ...record, ip: "../../../x" },
              { ...record, scripts: { postinstall: "id > /tmp/pwned" } },
            ],
          }
        : req.op === "wait"
          ? exited
          : {},
    );
    const proc = await startInGuest({ link, p9: { add: async () => {}, remove: () => {} }, done: () => {}, exportRefs: new Map() }, { bundleDir: bundle, spec, stdin: "ignore", stdout: "ignore", stderr: "ignore" } as StartOptions, "c".repeat(12));
    assert.equal(readFileSync(join(bundle, "state.json"), "utf8"), '{"backend":"vm"}');
    assert.equal(existsSync(`${outside}.json`), false);
    assert.deepEqual(readdirSync(join(bundle, "net")), ["attach-app.json"]);
    assert.deepEqual(JSON.parse(readFileSync(join(bundle, "net", "attach-app.json"), "utf8")), { ...record, ports: [] });
    exit();
    await proc.exited;
  });
});

describe("vm way out: a hostile guest's dial and resolve events (no guest)", () => {
  const event = (e: Record<string, unknown>) => encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify(e)));
  /** Until `cond` holds (each turn lets the host's sockets and lookups run). */
  const until = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setTimeout(r, 5));
  };
  const answers = (requests: Record<string, unknown>[], op: string) => requests.filter((r) => r.op === op);
  const network = (name: string, internal: boolean) => ({ attach: [{ name, internal }] });
  /** The port `server` listens on at `address`, once it does. */
  const listening = async (server: Server, address: string) => {
    await new Promise<void>((r) => server.listen(0, address, r));
    return (server.address() as { port: number }).port;
  };

  it("no connection nor lookup is made for a guest whose containers have no network that leads out", async () => {
    const server = createServer((c) => c.destroy());
    const port = await listening(server, "127.0.0.1");
    let accepted = 0;
    server.on("connection", () => accepted++);
    const { link, requests } = scriptedGuest();
    serveOutbound(link, { hostLoopback: true });
    const dialAndAsk = (n: number) => {
      link.receive(event({ event: "dial", dial: n, ip: "10.0.2.2", port }));
      link.receive(event({ event: "resolve", query: n, name: "localhost" }));
    };
    try {
      dialAndAsk(1);
      // --network none, and an --internal network: still no way out.
      await link.request("create", { cid: "a", spec: { network: { attach: [] } } });
      await link.request("create", { cid: "b", spec: { network: network("inner", true) } });
      dialAndAsk(2);
      await until(() => answers(requests, "resolved").length === 2 && answers(requests, "dialed").length === 2);
      for (const r of [...answers(requests, "dialed"), ...answers(requests, "resolved")]) assert.equal(r.error, "no container of the vm guest has a network that leads out");
      // `network connect` of one that leads out: served; disconnected again, or its container gone: refused.
      await link.request("net-attach", { cid: "b", network: network("outer", false) });
      dialAndAsk(3);
      await until(() => answers(requests, "resolved").length === 3 && accepted === 1);
      assert.ok(Array.isArray(answers(requests, "resolved")[2]!.addresses));
      await link.request("net-detach", { cid: "b", network: "outer" });
      dialAndAsk(4);
      await link.request("create", { cid: "c", spec: { network: network("bridge", false) } });
      await link.request("delete", { cid: "c" });
      dialAndAsk(5);
      await until(() => answers(requests, "resolved").length === 5);
      await until(() => answers(requests, "dialed").filter((r) => r.error !== undefined).length === 4);
      assert.deepEqual(answers(requests, "resolved").map((r) => r.error !== undefined), [true, true, false, true, true]);
      assert.equal(accepted, 1);
    } finally {
      link.close(new Error("done"));
      server.close();
    }
  });

  it("connections out and lookups at once are capped; the rest fail at once with a clear error", async () => {
    const held: Socket[] = [];
    const server = createServer((c) => held.push(c));
    const port = await listening(server, "127.0.0.1");
    const { link, requests } = scriptedGuest();
    serveOutbound(link, { hostLoopback: true });
    try {
      await link.request("create", { cid: "a", spec: { network: network("bridge", false) } });
      const n = MAX_DIALS + 50;
      for (let i = 0; i < n; i++) link.receive(event({ event: "dial", dial: i, ip: "10.0.2.2", port }));
      for (let i = 0; i < MAX_LOOKUPS + 10; i++) link.receive(event({ event: "resolve", query: i, name: "localhost" }));
      await until(() => answers(requests, "dialed").length === n && answers(requests, "resolved").length === MAX_LOOKUPS + 10);
      const refused = answers(requests, "dialed").filter((r) => r.error !== undefined);
      assert.equal(refused.length, 50);
      for (const r of refused) assert.equal(r.error, `too many connections out of the vm guest at once (${MAX_DIALS})`);
      await until(() => held.length === MAX_DIALS);
      const unanswered = answers(requests, "resolved").filter((r) => r.error !== undefined);
      assert.equal(unanswered.length, 10);
      for (const r of unanswered) assert.equal(r.error, `too many lookups out of the vm guest at once (${MAX_LOOKUPS})`);
      // A connection that ends frees its place (once its close reaches the host's end: dialed until then). A reset:
      // the host's end is half-open (a server's FIN ends only its direction, and the scripted guest never ends its own).
      held.pop()!.resetAndDestroy();
      for (let i = n; held.length < MAX_DIALS; i++) {
        link.receive(event({ event: "dial", dial: i, ip: "10.0.2.2", port }));
        await until(() => answers(requests, "dialed").length === i + 1);
        const answer = answers(requests, "dialed")[i]!;
        if (answer.error !== undefined) assert.equal(answer.error, `too many connections out of the vm guest at once (${MAX_DIALS})`);
        else await until(() => held.length === MAX_DIALS);
      }
    } finally {
      link.close(new Error("done"));
      for (const c of held) c.destroy();
      server.close();
    }
  });

  it("this host's loopback is closed to the guest unless the user opens it: 10.0.2.2 and any loopback or unspecified address a guest names are refused, this host's own address is dialed", async () => {
    const accepted: string[] = [];
    const server = createServer((c) => {
      accepted.push(c.localAddress ?? "");
      c.destroy();
    });
    const port = await listening(server, "0.0.0.0");
    const { link, requests } = scriptedGuest();
    serveOutbound(link, { hostLoopback: false });
    try {
      await link.request("create", { cid: "a", spec: { network: network("bridge", false) } });
      // Before: every one of them reached the server (10.0.2.2 was this host's 127.0.0.1, the others were dialed as named).
      const closed: unknown[] = ["10.0.2.2", "127.0.0.1", "127.1.2.3", "0.0.0.0", "0.1.2.3", "::1", "::", "::ffff:127.0.0.1", "localhost", "10.0.2.2 ", 2130706433, null];
      closed.forEach((ip, i) => link.receive(event({ event: "dial", dial: i, ip, port })));
      await until(() => answers(requests, "dialed").length === closed.length);
      const errors = answers(requests, "dialed").map((r) => r.error);
      // Refused as a closed port is: the container's connect() fails at once.
      assert.deepEqual(errors, closed.map(() => "ECONNREFUSED"));
      const own = hostAddress();
      if (own !== undefined) {
        link.receive(event({ event: "dial", dial: 100, ip: own, port }));
        await until(() => accepted.length === 1);
        assert.deepEqual(accepted, [own]);
      }
      assert.equal(accepted.length, own === undefined ? 0 : 1);
    } finally {
      link.close(new Error("done"));
      server.close();
    }
  });
});

describe("vm kept layer: what a guest left in its read-write export (no guest)", () => {
  const secret = "root:$6$secret-hash:20228:0:99999:7:::\n";
  /** A stopped vm container whose guest left `make(file)` as its kept layer file. */
  const keptBy = (make: (file: string) => void) => {
    const bundle = mkdtempSync(join(scratch, "kept-"));
    mkdirSync(join(bundle, "guest-layer"));
    make(join(bundle, "guest-layer", KEPT_LAYER_FILE));
    const state = { id: "b".repeat(64), name: "kept", backend: "vm", status: "exited", pid: null } as unknown as ContainerState;
    return new ContainerFiles(bundlePaths(bundle), state);
  };

  it("diff and commit open only a regular file there, never follow a symlink or open a FIFO, and never echo what they read", { timeout: 60_000 }, async () => {
    const hostFile = join(scratch, "shadow");
    writeFileSync(hostFile, secret);
    const notRegular = /the kept layer of container kept is not a regular file/;
    for (const make of [(f: string) => symlinkSync(hostFile, f), (f: string) => execFileSync("mkfifo", [f])]) {
      const files = keptBy(make);
      await assert.rejects(containerChanges(files, []), notRegular);
      await assert.rejects(upperAsLayer(keptBy(make), new PassThrough()), notRegular);
    }
    // A regular file that is no record stream: refused without its bytes.
    await assert.rejects(containerChanges(keptBy((f) => writeFileSync(f, secret)), []), (err: Error) => {
      assert.equal(err.message, "malformed copy record (record 1 of the stream)");
      return true;
    });
  });
});

/** Forged agent frames: output on every likely stdio channel, and "exit 42" replies to every likely request id. */
function forgedFrames(): Buffer {
  const frames: Uint8Array[] = [];
  for (let ch = 1; ch <= 8; ch++) frames.push(encodeFrame(FrameType.data, ch, Buffer.from("FORGED\n")));
  for (let id = 1; id <= 16; id++) frames.push(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ id, ok: true, exitCode: 42, signal: null }))));
  frames.push(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ event: "ready", version: "FORGED" }))));
  return Buffer.concat(frames);
}

/** `printf` format text that writes exactly `bytes` (busybox printf takes \NNN octal escapes). */
const printfOctal = (bytes: Buffer) => [...bytes].map((b) => "\\" + b.toString(8).padStart(3, "0")).join("");

describe("vm guest: special files in layers, the agent link, file volumes", { skip: vmSkip }, () => {
  let fixtures: string;
  let layout: string;

  before(async () => {
    // A hostile image: the agent link's own device number (hvc1 is c 229 1), a
    // node of /dev/zero and a FIFO. Kept as device nodes when root unpacks it.
    ({ dir: fixtures, layout } = await vmLayeredFixture("test/hostile-devices:1", [
      [
        { path: "hvc", type: "chardev", mode: 0o666, mtime: 0, devmajor: 229, devminor: 1 },
        { path: "zero2", type: "chardev", mode: 0o666, mtime: 0, devmajor: 1, devminor: 5 },
        { path: "fifo", type: "fifo", mode: 0o666, mtime: 0 },
      ],
    ]));
  });

  after(() => {
    rmSync(fixtures, { recursive: true, force: true });
    cleanupIdentities();
  });

  for (const who of identities()) {
    describe(`as ${who.name}`, () => {
      let snap: Snapshot;
      let env: Record<string, string>;
      beforeEach(() => (snap = snapshot()));
      afterEach(() => assertNoLeaks(snap, [who]));

      it("no device node of a layer is usable (not the agent link's, not /dev/zero's), none can be made, a FIFO works in the guest", async () => {
        env = { TSBOX_BACKEND: "vm" };
        const loaded = await tsbox(who, ["load", "-i", layout], { env, timeoutMs: 60_000 });
        assert.equal(loaded.code, 0, loaded.stderr);
        const script = [
          'for f in /hvc /zero2; do [ -e $f ] || continue; if printf "$FORGE" > $f; then echo "$f: WRITTEN"; else echo "$f: refused"; fi; done',
          'if [ -e /zero2 ]; then if head -c 4 /zero2 > /dev/null; then echo "/zero2: READ"; else echo "/zero2: refused"; fi; fi',
          'if mknod /tmp/hvc c 229 1 && printf "$FORGE" > /tmp/hvc; then echo "mknod: WRITTEN"; else echo "mknod: refused"; fi',
          "(echo through the fifo > /fifo &); read line < /fifo; echo $line",
          "echo done",
        ].join("\n");
        const r = await tsbox(who, ["run", "--rm", "-e", `FORGE=${printfOctal(forgedFrames())}`, "test/hostile-devices:1", "sh", "-c", script], { env, timeoutMs: 60_000 });
        assert.doesNotMatch(r.stdout + r.stderr, /FORGED|WRITTEN|READ/, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
        const devices = who.name === "root" ? "/hvc: refused\n/zero2: refused\n/zero2: refused\n" : "";
        assert.equal(r.stdout, `${devices}mknod: refused\nthrough the fifo\ndone\n`, r.stderr);
        assert.equal(r.code, 0, "the exit code is the container's, not a forged reply's");
      });

      it("a file volume is that file alone: written through, its siblings out of reach", async () => {
        const home = join(who.scratch, "home");
        mkdirSync(home);
        writeFileSync(join(home, "notes.txt"), "my notes\n");
        writeFileSync(join(home, "secret.txt"), "do not read\n");
        for (const f of ["", "notes.txt", "secret.txt"]) chownSync(join(home, f), who.uid, who.gid);
        const script = "cat /notes.txt; echo from the guest >> /notes.txt; cat /notes.txt/../secret.txt 2>/dev/null; ls /; grep ' /notes.txt ' /proc/mounts | cut -d' ' -f3";
        const r = await tsbox(who, ["run", "--rm", "-v", `${join(home, "notes.txt")}:/notes.txt`, "busybox", "sh", "-c", script], { env, timeoutMs: 60_000 });
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /do not read|secret/);
        assert.match(r.stdout, /^my notes\n/);
        assert.match(r.stdout, /\n9p\n$/);
        assert.equal(readFileSync(join(home, "notes.txt"), "utf8"), "my notes\nfrom the guest\n");
        assert.equal(readFileSync(join(home, "secret.txt"), "utf8"), "do not read\n");
      });
    });
  }
});
