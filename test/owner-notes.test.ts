/**
 * Owner notes (src/image/owner-notes.ts), with no container or guest: an
 * unprivileged unpack keeps the owners it could not give beside the layer;
 * a backend that can give them later does, once; pruning takes the notes
 * with the layer; the vm's 9p server presents them through the guest's id
 * maps (src/backends/vm/node/p9/presented-owners.ts, guest-ids.ts), a
 * volume's files as its container user's, and the owners a guest gave files
 * of a volume or bind mount (owner-records.ts).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { guestIdentity } from "../src/backends/vm/node/guest-ids.js";
import { presentedOwners } from "../src/backends/vm/node/p9/presented-owners.js";
import { MAX_RECORDS, OwnerRecords } from "../src/backends/vm/node/p9/owner-records.js";
import { NodeFs } from "../src/backends/vm/node/p9/node-fs.js";
import { DEFAULT_FID_LIMITS } from "../src/backends/vm/core/p9/fid-table.js";
import { P9Server } from "../src/backends/vm/core/p9/server.js";
import { O } from "../src/backends/vm/core/p9/fs.js";
import { pruneStore } from "../src/image/gc.js";
import { sha256Digest } from "../src/image/hash.js";
import { LayerCache } from "../src/image/layers.js";
import { OciLayout } from "../src/image/layout.js";
import { MediaType } from "../src/image/oci.js";
import { ownerNotesPath, readOwnerNotes } from "../src/image/owner-notes.js";
import { TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";
import type { LayerOwner } from "../src/image/unpack.js";
import { p9Client } from "./helpers/p9-client.js";

const scratch = mkdtempSync(join(tmpdir(), "owner-notes-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const me = { uid: process.getuid!(), gid: process.getgid!() };

async function layerStore(entries: TarWriteEntry[]) {
  const dir = mkdtempSync(join(scratch, "store-"));
  const t = new TarWriter();
  for (const e of entries) t.add(e);
  const raw = t.finish();
  const layout = new OciLayout(dir);
  await layout.init();
  const blob = { ...(await layout.writeBlob(gzipSync(raw))), mediaType: MediaType.ociLayerGzip };
  return { dir, layout, blob, diffId: sha256Digest(raw) };
}

const ENTRIES: TarWriteEntry[] = [
  { path: "home/", type: "directory", mode: 0o755, mtime: 0 },
  { path: "home/app/", type: "directory", mode: 0o700, mtime: 0, uid: 1000, gid: 1000 },
  { path: "home/app/data", type: "file", mode: 0o600, mtime: 0, uid: 1000, gid: 1000, data: Buffer.from("mine") },
  { path: "www", type: "directory", mode: 0o755, mtime: 0, uid: 33, gid: 44 },
  { path: "su", type: "file", mode: 0o4755, mtime: 0, data: Buffer.from("root's") },
  { path: "link", type: "symlink", mode: 0o777, mtime: 0, uid: 7, gid: 8, linkname: "www" },
  { path: "far", type: "file", mode: 0o644, mtime: 0, uid: 70000, gid: 70000, data: Buffer.from("beyond 65536") },
];

const NOTED: LayerOwner[] = [
  { path: "home/app", uid: 1000, gid: 1000, mode: 0o700 },
  { path: "home/app/data", uid: 1000, gid: 1000, mode: 0o600 },
  { path: "www", uid: 33, gid: 44, mode: 0o755 },
  { path: "link", uid: 7, gid: 8 },
  { path: "far", uid: 70000, gid: 70000, mode: 0o644 },
];

describe("owner notes of unprivileged unpacks", () => {
  it("keeps the owners it could not give beside the layer, and a backend that can gives them once", async () => {
    const s = await layerStore(ENTRIES);
    const layer = await new LayerCache(s.dir, s.layout, { privileged: false }).ensureLayer(s.blob, s.diffId);
    const sorted = (o: LayerOwner[] | undefined) => [...(o ?? [])].sort((a, b) => a.path.localeCompare(b.path));
    assert.deepEqual(sorted(readOwnerNotes(layer)), sorted(NOTED));

    // One that cannot (no subordinate ids) leaves them for the next.
    const cannot = new LayerCache(s.dir, s.layout, { privileged: false, applyOwners: async () => false });
    assert.equal(await cannot.ensureLayer(s.blob, s.diffId), layer);
    assert.ok(existsSync(ownerNotesPath(layer)));

    const given: LayerOwner[][] = [];
    const can = new LayerCache(s.dir, s.layout, { privileged: false, applyOwners: async (_dir, owners) => (given.push(owners), true) });
    assert.equal(await can.ensureLayer(s.blob, s.diffId), layer);
    assert.deepEqual(sorted(given[0]), sorted(NOTED));
    assert.equal(readOwnerNotes(layer), undefined, "given: the notes are gone");
    await can.ensureLayer(s.blob, s.diffId);
    assert.equal(given.length, 1, "given once");

    // Applied at unpack: no notes at all.
    const fresh = await layerStore(ENTRIES);
    const appliedLayer = await new LayerCache(fresh.dir, fresh.layout, { privileged: false, applyOwners: async () => true }).ensureLayer(fresh.blob, fresh.diffId);
    assert.equal(readOwnerNotes(appliedLayer), undefined);
  });

  it("go with their layer when it is pruned, and a stray one goes too", async () => {
    const s = await layerStore(ENTRIES);
    const layer = await new LayerCache(s.dir, s.layout, { privileged: false }).ensureLayer(s.blob, s.diffId);
    const stray = join(s.dir, "layers", "sha256", `${"ab".repeat(32)}.owners`);
    writeFileSync(stray, "[]");
    const pruned = await pruneStore(s.dir, s.layout);
    assert.equal(pruned.layers, 1);
    assert.equal(existsSync(layer), false);
    assert.equal(existsSync(ownerNotesPath(layer)), false);
    assert.equal(existsSync(stray), false);
  });

  it("refuses malformed notes with the file's name", async () => {
    const s = await layerStore(ENTRIES);
    const layer = await new LayerCache(s.dir, s.layout, { privileged: false }).ensureLayer(s.blob, s.diffId);
    writeFileSync(ownerNotesPath(layer), JSON.stringify([["x", -1, 0]]));
    assert.throws(() => readOwnerNotes(layer), /\.owners: a malformed owner \["x",-1,0\]/);
    writeFileSync(ownerNotesPath(layer), "{");
    assert.throws(() => readOwnerNotes(layer));
  });
});

describe("the vm's 9p server shows a layer's noted owners", () => {
  const attrs = async (host: Parameters<typeof presentedOwners>[0], readonly = true) => {
    const s = await layerStore(ENTRIES);
    const layer = await new LayerCache(s.dir, s.layout, { privileged: false }).ensureLayer(s.blob, s.diffId);
    const server = new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners(host));
    server.addExport("layer", { path: layer, readonly });
    const c = p9Client(server);
    const of = (...names: string[]) => {
      const a = c.getattr(c.walk("layer", ...names));
      return [a.uid, a.gid];
    };
    return { of, su: c.getattr(c.walk("layer", "su")) };
  };

  it("through the guest's own range where the host has no subordinate ids (macOS, Windows)", async () => {
    const { of, su } = await attrs({ uid: 501, gid: 20 });
    assert.deepEqual(of("home", "app"), [100999, 100999]);
    assert.deepEqual(of("home", "app", "data"), [100999, 100999]);
    assert.deepEqual(of("www"), [100032, 100043]);
    assert.deepEqual(of("link"), [100006, 100007]);
    assert.deepEqual(of("far"), [65534, 65534], "an id no mapping reaches: the kernel's overflow id");
    // Root's files are the user's on the host: the container's root (0 → the user) as before.
    assert.deepEqual([su.uid, su.gid], [me.uid, me.gid]);
    assert.equal(su.mode & 0o7777, 0o4755);
  });

  it("through the user's subordinate ids where it has them, as the native backend gives them", async () => {
    const { of } = await attrs({ uid: 1002, gid: 1002, subuid: { start: 165536, count: 65536 }, subgid: { start: 165536, count: 65536 } });
    assert.deepEqual(of("home", "app"), [165536 + 999, 165536 + 999]);
    assert.deepEqual(of("www"), [165536 + 32, 165536 + 43]);
  });

  it("not for a writable export (a volume), whose files are the host's", async () => {
    const { of } = await attrs({ uid: 501, gid: 20 }, false);
    assert.deepEqual(of("home", "app"), [me.uid, me.gid]);
  });

  it("not as root, whose files have their own owners", async () => {
    const { of } = await attrs({ uid: 0, gid: 0 });
    assert.deepEqual(of("home", "app"), [me.uid, me.gid]);
  });

  it("a bind mount's or volume's files as the container's user's, a chown kept as Docker Desktop's file sharing keeps it", () => {
    const dir = mkdtempSync(join(scratch, "volume-"));
    writeFileSync(join(dir, "project.json"), "{}");
    const server = new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners({ uid: 501, gid: 20 }));
    server.addExport("vol", { path: dir, readonly: false, shownOwner: { uid: 100999, gid: 100999 } });
    server.addExport("plain", { path: dir, readonly: false });
    const c = p9Client(server);
    const owner = (exp: string, ...names: string[]) => ((a) => [a.uid, a.gid])(c.getattr(c.walk(exp, ...names)));
    assert.deepEqual(owner("vol", "project.json"), [100999, 100999], "the image's uid 1000 (guest 100999)");
    assert.deepEqual(owner("vol"), [100999, 100999], "the directory itself too");
    assert.deepEqual(owner("plain", "project.json"), [me.uid, me.gid], "no container user named: the file's own");
    c.chown(c.walk("vol", "project.json"), 100032, 100032);
    assert.deepEqual(owner("vol", "project.json"), [100032, 100032]);
    assert.deepEqual(owner("plain", "project.json"), [100032, 100032], "one table for the directory, whichever export asks");
    assert.equal(statSync(join(dir, "project.json")).uid, me.uid, "the host's file is untouched");
    c.chown(c.walk("vol", "project.json"), 100999, 100999);
    assert.deepEqual(owner("plain", "project.json"), [me.uid, me.gid], "back to the export's own: nothing kept");
    // As root the files have their own owners.
    const asRoot = new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners({ uid: 0, gid: 0 }));
    asRoot.addExport("vol", { path: dir, readonly: false, shownOwner: { uid: 100999, gid: 100999 } });
    const r = p9Client(asRoot);
    assert.notEqual(r.getattr(r.walk("vol")).uid, 100999);
  });

  it("a volume keeps the owners its containers gave (a database image's entrypoint chowns it, then drops to its user)", () => {
    const host = { uid: 501, gid: 20 }; // no subordinate ids: container 0 is the user, 1.. the guest's 100000..
    const data = join(mkdtempSync(join(scratch, "data-")), "volumes", "pgdata", "_data");
    mkdirSync(data, { recursive: true });
    const serve = () => {
      const server = new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners(host));
      server.addExport("v", { path: data, readonly: false });
      return server;
    };
    const server = serve();
    const root = p9Client(server, 65536, { uid: me.uid }); // the container's root: the user's files are its own
    const pg = p9Client(server, 65536, { uid: 100998, rootFid: 10_000 }); // the image's uid 999
    const owner = (...names: string[]) => ((a) => [a.uid, a.gid])(root.getattr(root.walk("v", ...names)));
    root.chown(root.walk("v"), 100998, 100998);
    assert.deepEqual(owner(), [100998, 100998]);
    pg.mkdir(pg.walk("v"), "base", 100998);
    pg.create(pg.walk("v", "base"), "PG_VERSION", O.WRONLY, 100998);
    root.create(root.walk("v"), "root-made", O.WRONLY, me.gid);
    assert.deepEqual(owner("base", "PG_VERSION"), [100998, 100998], "a file its user made is its user's");
    assert.deepEqual(owner("root-made"), [me.uid, me.gid], "the container root's are the user's files: nothing kept");
    for (const f of ["", "base", "base/PG_VERSION", "root-made"]) assert.equal(statSync(join(data, f)).uid, me.uid, "the host's files stay the user's");
    pg.rename(pg.walk("v", "base"), pg.walk("v"), "global");
    assert.deepEqual(owner("global", "PG_VERSION"), [100998, 100998], "a renamed directory's files keep theirs");
    pg.link(pg.walk("v", "global"), pg.walk("v", "global", "PG_VERSION"), "PG_VERSION.bak");
    assert.deepEqual(owner("global", "PG_VERSION.bak"), [100998, 100998], "a hard link: the same file's owner");
    pg.unlinkat(pg.walk("v", "global"), "PG_VERSION.bak");
    pg.create(pg.walk("v", "global"), "wal.tmp", O.WRONLY, 100998);
    pg.rename(pg.walk("v", "global", "wal.tmp"), pg.walk("v", "global"), "wal");
    assert.deepEqual(owner("global", "wal"), [100998, 100998], "a renamed file keeps its owner");
    pg.unlinkat(pg.walk("v", "global"), "wal");
    pg.create(pg.walk("v"), "postmaster.pid", O.WRONLY, 100998);
    pg.unlinkat(pg.walk("v"), "postmaster.pid");
    root.create(root.walk("v"), "postmaster.pid", O.WRONLY, me.gid);
    assert.deepEqual(owner("postmaster.pid"), [me.uid, me.gid], "a removed file's owner is not its successor's");
    assert.equal(existsSync(ownerNotesPath(data)), false, "written a moment after the change, not at once");
    server.removeExport("v");
    const kept = readOwnerNotes(data)!.map((o) => [o.path, o.uid, o.gid]).sort();
    assert.deepEqual(kept, [["", 999, 999], ["global", 999, 999], ["global/PG_VERSION", 999, 999]], "kept in container ids beside the data");
    // The next start (a new guest, or a user whose guest ids differ) reads them through its own maps.
    const next = serve();
    const again = p9Client(next);
    assert.deepEqual(((a) => [a.uid, a.gid])(again.getattr(again.walk("v", "global", "PG_VERSION"))), [100998, 100998]);
    next.removeExport("v");
    const withIds = new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners({ uid: 1002, gid: 1002, subuid: { start: 165536, count: 65536 }, subgid: { start: 165536, count: 65536 } }));
    withIds.addExport("v", { path: data, readonly: false });
    const w = p9Client(withIds);
    assert.deepEqual(((a) => [a.uid, a.gid])(w.getattr(w.walk("v"))), [165536 + 998, 165536 + 998]);
  });

  it("a bind mount's kept owners live while it is exported, with no file beside the user's project", () => {
    const project = mkdtempSync(join(scratch, "project-"));
    const server = new P9Server(new NodeFs(), DEFAULT_FID_LIMITS, presentedOwners({ uid: 501, gid: 20 }));
    server.addExport("b", { path: project, readonly: false });
    const c = p9Client(server);
    c.chown(c.walk("b"), 100032, 100032);
    assert.equal(c.getattr(c.walk("b")).uid, 100032);
    server.removeExport("b");
    assert.equal(existsSync(ownerNotesPath(project)), false);
    server.addExport("b", { path: project, readonly: false });
    assert.equal(c.getattr(c.walk("b")).uid, me.uid, "a new export: the files' own again");
  });

  it("keeps at most MAX_RECORDS owners per directory (a container making millions of files of another owner)", () => {
    const records = new OwnerRecords(mkdtempSync(join(scratch, "many-")), undefined);
    for (let i = 0; i < MAX_RECORDS; i++) records.set(`f${i}`, { uid: 100998, gid: 100998 });
    records.set("one-more", { uid: 100998, gid: 100998 });
    assert.equal(records.get("one-more"), undefined, "past the bound: the export's own owner");
    records.set("f0", { uid: 100032, gid: 100032 });
    assert.deepEqual(records.get("f0"), { uid: 100032, gid: 100032 }, "a kept file's owner still changes");
  });

  it("the guest's range keeps clear of the user's own id", () => {
    assert.deepEqual(guestIdentity({ uid: 0, gid: 0 }), { uid: 0, gid: 0 });
    assert.deepEqual(guestIdentity({ uid: 501, gid: 20 }).subuid, { start: 100000, count: 65536 });
    assert.deepEqual(guestIdentity({ uid: 100005, gid: 20 }).subuid, { start: 165536, count: 65536 });
    const withIds = { uid: 1002, gid: 1002, subuid: { start: 165536, count: 65536 }, subgid: { start: 165536, count: 65536 } };
    assert.equal(guestIdentity(withIds), withIds);
  });
});
