/**
 * Image input attacked: the registry client against hosts it should not
 * trust (a real docker-registry whose upload Location or blob redirect
 * names a second local server that records what it receives, and a token
 * realm on plain HTTP off loopback), tar archives that try to exhaust memory
 * or disk, `load` archives with symlinks, and `exec -u NAME` against a
 * container that swapped its /etc/passwd.
 */
import assert from "node:assert/strict";
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { assertNoLeaks, type Snapshot, snapshot } from "./helpers/leaks.js";
import { LayerError } from "../src/errors.js";
import { sha256Digest } from "../src/image/hash.js";
import { LayerCache } from "../src/image/layers.js";
import { layerLimits } from "../src/image/compression.js";
import { OciLayout } from "../src/image/layout.js";
import { ImageStore, type StoredImage } from "../src/image/store.js";
import { loadImages } from "../src/image/archive.js";
import { Readable } from "node:stream";
import { writeLayer } from "../src/image/commit-image.js";
import { pruneStore } from "../src/image/gc.js";
import { writeTo } from "../src/stream-write.js";
import { MediaType } from "../src/image/oci.js";
import { readTar } from "../src/image/tar.js";
import { unpackLayer } from "../src/image/unpack.js";
import { nameBytes, nameFromBytes } from "../src/name-bytes.js";
import { xattrBytes } from "../src/image/layer-paths.js";
import { paxHeader, TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";
import { identityEnv, repoRoot, tsbox } from "./helpers/cli.js";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { EMBEDDED_BUSYBOX } from "./helpers/images.js";
import { skopeoCopy, startRegistry, type TestRegistry } from "./helpers/registry.js";

const USERS = { alice: "wonderland" };
const CREDS = ["--dest-creds", `alice:${USERS.alice}`];
const scratch = mkdtempSync(join(tmpdir(), "security-parsers-"));
after(() => {
  rmSync(scratch, { recursive: true, force: true });
  cleanupIdentities();
});

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A second host: records every request; serves /cdn/<digest> from `blobs`, else a 401 luring credentials to its own realm. */
async function startRecorder(): Promise<{ url: string; seen: Recorded[]; blobs: Map<string, Buffer>; close(): Promise<void> }> {
  const seen: Recorded[] = [];
  const blobs = new Map<string, Buffer>();
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers });
    req.resume();
    const blob = /^\/cdn\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? "");
    if (blob && blobs.has(blob[1]!)) return void res.writeHead(200, { "content-length": blobs.get(blob[1]!)!.length }).end(blobs.get(blob[1]!));
    res.writeHead(401, { "www-authenticate": `Bearer realm="${url}/token",service="evil"` }).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, seen, blobs, close: () => closeServer(server) };
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A registry front that redirects blob downloads to a CDN (here the
 * recorder), as Docker Hub does, and passes everything else to `registry`.
 */
async function startRedirectingFront(registry: TestRegistry, cdn: string): Promise<{ host: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const blob = /^\/v2\/.+\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? "");
    if (blob && (req.method === "GET" || req.method === "HEAD")) return void res.writeHead(307, { location: `${cdn}/cdn/${blob[1]}` }).end();
    const [host, port] = registry.host.split(":");
    const up = httpRequest({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, close: () => closeServer(server) };
}

/** An IPv4 address of this machine that is not loopback (a token realm "off loopback"). */
function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return undefined;
}

describe("registry client: credentials go to the registry only", () => {
  const who = identities()[0]!;
  const env = () => ({ TSBOX_DATA_DIR: mkdtempSync(join(scratch, "store-")), HOME: mkdtempSync(join(scratch, "home-")) });
  let recorder: Awaited<ReturnType<typeof startRecorder>>;
  before(async () => (recorder = await startRecorder()));
  after(() => recorder.close());
  const noCredentials = () => {
    assert.ok(recorder.seen.length > 0, "the second host was asked");
    for (const r of recorder.seen) assert.equal(r.headers.authorization, undefined, `${r.method} ${r.url} carried ${r.headers.authorization}`);
    assert.ok(!recorder.seen.some((r) => r.url.startsWith("/token")), "no token request went to the second host");
  };

  it("push: an upload Location naming another host gets no Authorization (nor a credential for its challenge)", async () => {
    const registry = await startRegistry({ auth: "basic", users: USERS, httpHost: recorder.url });
    try {
      recorder.seen.length = 0;
      const e = env();
      assert.equal((await tsbox(who, ["login", "-u", "alice", "-p", USERS.alice, registry.host], { env: e })).code, 0);
      assert.equal((await tsbox(who, ["tag", "busybox", `${registry.host}/team/bb:1`], { env: e })).code, 0);
      const push = await tsbox(who, ["push", `${registry.host}/team/bb:1`], { env: e });
      assert.equal(push.code, 1, push.stderr);
      noCredentials();
    } finally {
      await registry.stop();
    }
  });

  it("pull: a blob redirected to another host (a CDN) is fetched without Authorization, and the pull works", async () => {
    const registry = await startRegistry({ auth: "basic", users: USERS });
    const front = await startRedirectingFront(registry, recorder.url);
    try {
      await skopeoCopy(`oci:${EMBEDDED_BUSYBOX}:latest`, `docker://${registry.host}/test/busybox:latest`, CREDS);
      // The CDN serves what the registry has.
      const { OciLayout } = await import("../src/image/layout.js");
      const layout = new OciLayout(EMBEDDED_BUSYBOX);
      const manifest = await layout.readJsonBlob<{ config: { digest: string }; layers: { digest: string }[] }>((await layout.readIndex()).manifests[0]!.digest);
      for (const d of [manifest.config, ...manifest.layers]) recorder.blobs.set(d.digest, await layout.readBlob(d.digest));
      recorder.seen.length = 0;
      const e = env();
      assert.equal((await tsbox(who, ["login", "-u", "alice", "-p", USERS.alice, front.host], { env: e })).code, 0);
      const pull = await tsbox(who, ["pull", `${front.host}/test/busybox`], { env: e });
      assert.equal(pull.code, 0, pull.stderr);
      assert.ok(recorder.seen.some((r) => r.url.startsWith("/cdn/")));
      noCredentials();
    } finally {
      await front.close();
      await registry.stop();
    }
  });

  const address = externalAddress();
  it("login: basic credentials never go to a plain-HTTP token realm off loopback, unless it is listed as insecure", { skip: address ? false : "no non-loopback IPv4 address here" }, async () => {
    const registry = await startRegistry({ auth: "token", users: USERS, tokenHost: address! });
    try {
      const e = env();
      const login = await tsbox(who, ["login", "-u", "alice", "-p", USERS.alice, registry.host], { env: e });
      assert.equal(login.code, 1);
      assert.match(login.stderr, new RegExp(`^tsbox: refusing to send the credentials for ${registry.host} to the token server http://${address!.replace(/\./g, "\\.")}:\\d+/token over plain HTTP`));
      assert.deepEqual(registry.tokenRequests.filter((t) => t.user !== null), []);
      const listed = await tsbox(who, ["login", "-u", "alice", "-p", USERS.alice, registry.host], { env: { ...e, TSBOX_INSECURE_REGISTRIES: address! } });
      assert.equal(listed.code, 0, listed.stderr);
      assert.ok(registry.tokenRequests.some((t) => t.user === "alice"));
    } finally {
      await registry.stop();
    }
  });
});

// ---- tar: metadata that would grow without bound --------------------------

/** `count` pax headers of one distinct `size`-byte record each, then one file; counts the bytes pulled. */
function paxFlood(count: number, size: number, global: boolean): { source: AsyncIterable<Buffer>; pulled: () => number } {
  let pulled = 0;
  const source = (async function* () {
    for (let i = 0; i < count; i++) {
      const block = paxHeader({ [`SCHILY.xattr.user.k${i}`]: "v".repeat(size) }, global);
      pulled += block.length;
      yield block;
    }
    const t = new TarWriter();
    t.add({ path: "f", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") });
    yield t.finish();
  })();
  return { source, pulled: () => pulled };
}

describe("tar reader: bounded metadata", () => {
  for (const global of [false, true]) {
    it(`consecutive ${global ? "global" : "per-entry"} pax headers do not accumulate without bound`, async () => {
      const flood = paxFlood(400, 64 * 1024, global);
      await assert.rejects(
        (async () => {
          for await (const e of readTar(flood.source)) for await (const _ of e.body);
        })(),
        (err: Error) => err instanceof LayerError && /pax .*more than 1 MiB/.test(err.message),
      );
      assert.ok(flood.pulled() < 2 * 1024 * 1024, `read ${flood.pulled()} bytes before refusing`);
    });
  }

  it("still reads a pax header of a few hundred KiB (long xattrs, paths)", async () => {
    const t = new TarWriter();
    t.add({ path: "f", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x"), pax: { "SCHILY.xattr.user.big": "v".repeat(300 * 1024) } });
    const entries = [];
    for await (const e of readTar((async function* () { yield t.finish(); })())) {
      for await (const _ of e.body);
      entries.push(e);
    }
    assert.equal(entries[0]!.pax["SCHILY.xattr.user.big"]!.length, 300 * 1024);
  });

  it("keeps an xattr's value as bytes (a file capability is binary, not UTF-8), other records as text", async () => {
    // vfs_cap_data v2 with the effective flag and CAP_NET_RAW permitted: bytes 0x00, 0x01, 0x02, 0x20 and none ASCII text.
    const cap = Buffer.from([0x01, 0, 0, 0x02, 0, 0x20, 0, 0, ...new Array(12).fill(0)]);
    const high = Buffer.from([0xff, 0xfe, 0x80, 0xc3, 0x28]);
    const t = new TarWriter();
    t.add({ path: "ping", type: "file", mode: 0o755, mtime: 0, data: Buffer.from("x"), pax: { "SCHILY.xattr.security.capability": cap.toString("latin1"), "SCHILY.xattr.user.raw": high.toString("latin1"), path: "pïng" } });
    const entries = [];
    for await (const e of readTar((async function* () { yield t.finish(); })())) {
      for await (const _ of e.body);
      entries.push(e);
    }
    assert.deepEqual(Buffer.from(xattrBytes(entries[0]!.pax["SCHILY.xattr.security.capability"]!)), cap);
    assert.deepEqual(Buffer.from(xattrBytes(entries[0]!.pax["SCHILY.xattr.user.raw"]!)), high);
    assert.equal(entries[0]!.path, "pïng", "a path stays UTF-8");
  });

  it("keeps a name's bytes when they are not UTF-8: ustar fields, pax records (Go's and GNU tar's raw form) and GNU long names; unpacked as those bytes; `..` still refused", async () => {
    // Before: every name was decoded as UTF-8, so \xff became U+FFFD (three other bytes) in the tree and in any tar written again.
    const raw = (text: string) => Buffer.from(text, "latin1");
    const long = `${"d".repeat(150)}/${"f".repeat(110)}\xff`;
    const t = new TarWriter();
    t.add({ path: nameFromBytes(raw("a\xffb")), type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") });
    t.add({ path: nameFromBytes(raw(long)), type: "file", mode: 0o644, mtime: 0, data: Buffer.from("y") });
    t.add({ path: nameFromBytes(raw("l\x80")), type: "symlink", mode: 0o777, mtime: 0, linkname: nameFromBytes(raw("t\xfd")) });
    t.add({ path: "\ufeffbom", type: "file", mode: 0o644, mtime: 0 });
    const written = t.finish();
    assert.ok(written.includes(raw("a\xffb\0")), "a short name in the ustar field, as its bytes");
    assert.ok(written.includes(raw(` path=${long}\n`)), "a long one in a pax record, as its bytes (what Go writes)");
    // GNU tar's own form of a long name ('L'), written by GNU tar itself.
    const dir = mkdtempSync(join(tmpdir(), "tsbox-scratch-rawnames-"));
    try {
      mkdirSync(join(dir, "src", "d".repeat(150)), { recursive: true });
      writeFileSync(raw(`${dir}/src/${long}`), "z");
      const gnu = execFileSync("tar", ["--format=gnu", "-cf", "-", "-C", join(dir, "src"), "."]);
      const names = async (archive: Buffer) => {
        const out: Buffer[] = [];
        for await (const e of readTar((async function* () { yield archive; })())) {
          for await (const _ of e.body);
          out.push(nameBytes(e.path), ...(e.linkname ? [nameBytes(e.linkname)] : []));
        }
        return out.map((b) => b.toString("latin1"));
      };
      assert.deepEqual(await names(written), ["a\xffb", long, "l\x80", "t\xfd", "\xef\xbb\xbfbom"], "a leading U+FEFF is a name's bytes too");
      assert.ok((await names(gnu)).includes(`./${long}`), "GNU long names");
      // Unpacked with those bytes; a `..` among them still escapes nothing.
      mkdirSync(join(dir, "out"));
      mkdirSync(join(dir, "out2"));
      await unpackLayer(readTar((async function* () { yield written; })()), join(dir, "out"), { privileged: false });
      assert.equal(readFileSync(raw(`${dir}/out/${long}`), "utf8"), "y");
      assert.deepEqual(readlinkSync(raw(`${dir}/out/l\x80`), { encoding: "buffer" }), raw("t\xfd"));
      const escape = new TarWriter();
      escape.add({ path: nameFromBytes(raw("\xff/../../escaped")), type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") });
      await assert.rejects(unpackLayer(readTar((async function* () { yield escape.finish(); })()), join(dir, "out2"), { privileged: false }), /escapes the layer root/);
      assert.ok(!existsSync(join(dir, "escaped")));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- layers: size and decompression ratio caps ---------------------------

/** A store with one gzip'd layer holding a file of `size` zero bytes (a compression bomb in miniature). */
async function zeroLayer(dir: string, size: number): Promise<{ layout: OciLayout; blob: { digest: string; size: number; mediaType: string }; diffId: string }> {
  const t = new TarWriter();
  t.add({ path: "zeros", type: "file", mode: 0o644, mtime: 0, data: Buffer.alloc(size) });
  return gzipLayer(dir, t.finish());
}

/** A store with `raw` (a tar) as its one gzip'd layer. */
async function gzipLayer(dir: string, raw: Buffer): Promise<{ layout: OciLayout; blob: { digest: string; size: number; mediaType: string }; diffId: string }> {
  const layout = new OciLayout(dir);
  await layout.init();
  const blob = await layout.writeBlob(gzipSync(raw, { level: 9 }));
  return { layout, blob: { ...blob, mediaType: MediaType.ociLayerGzip }, diffId: sha256Digest(raw) };
}

describe("layer unpacking: size and ratio caps", () => {
  it("has defaults that no real image meets, and takes TSBOX_MAX_LAYER_SIZE / TSBOX_MAX_LAYER_RATIO / TSBOX_MAX_LAYER_ENTRIES", () => {
    assert.deepEqual(layerLimits({}), { maxBytes: 64 * 2 ** 30, maxRatio: 1000, ratioFloor: 2 ** 30, maxEntries: 2_000_000 });
    assert.deepEqual(layerLimits({ TSBOX_MAX_LAYER_SIZE: "8M", TSBOX_MAX_LAYER_RATIO: "50", TSBOX_MAX_LAYER_ENTRIES: "1000" }), { maxBytes: 8 * 2 ** 20, maxRatio: 50, ratioFloor: 2 ** 30, maxEntries: 1000 });
    assert.throws(() => layerLimits({ TSBOX_MAX_LAYER_SIZE: "lots" }), /TSBOX_MAX_LAYER_SIZE/);
    assert.throws(() => layerLimits({ TSBOX_MAX_LAYER_ENTRIES: "1e9" }), /TSBOX_MAX_LAYER_ENTRIES/);
  });

  it("stops a layer of more entries than the cap (tiny files by the million were a few MB of gzip that ran Node out of memory), with no leftovers", async () => {
    const dir = mkdtempSync(join(scratch, "caps-"));
    const tar = new TarWriter();
    for (let i = 0; i < 50; i++) tar.add({ path: `f${i}`, type: "file", mode: 0o644, uid: 1000, gid: 1000, mtime: 0, data: Buffer.alloc(0) });
    const { layout, blob, diffId } = await gzipLayer(join(dir, "store"), tar.finish());
    const cache = new LayerCache(dir, layout, { limits: { maxEntries: 20 } });
    await assert.rejects(cache.ensureLayer(blob, diffId), new RegExp(`layer ${blob.digest} has more than 20 entries \\(TSBOX_MAX_LAYER_ENTRIES\\)`));
    assert.deepEqual(readdirSync(join(dir, "layers")).filter((n) => n.startsWith(".unpack")), []);
  });

  it("stops a layer that unpacks past the size cap, with a clear error and no leftovers", async () => {
    const dir = mkdtempSync(join(scratch, "caps-"));
    const { layout, blob, diffId } = await zeroLayer(join(dir, "store"), 48 * 1024 * 1024);
    const cache = new LayerCache(dir, layout, { limits: { maxBytes: 8 * 1024 * 1024 } });
    await assert.rejects(cache.ensureLayer(blob, diffId), /unpacks to more than 8 MiB \(TSBOX_MAX_LAYER_SIZE\)/);
    assert.deepEqual(readdirSync(join(dir, "layers")).filter((n) => n.startsWith(".unpack")), []);
  });

  it("stops a layer whose decompression ratio passes the cap", async () => {
    const dir = mkdtempSync(join(scratch, "caps-"));
    const { layout, blob, diffId } = await zeroLayer(join(dir, "store"), 48 * 1024 * 1024);
    const cache = new LayerCache(dir, layout, { limits: { maxRatio: 100, ratioFloor: 1024 * 1024 } });
    await assert.rejects(cache.ensureLayer(blob, diffId), /decompresses more than 100 times its size \(TSBOX_MAX_LAYER_RATIO\)/);
    // Within the caps it unpacks.
    const ok = new LayerCache(dir, layout, { limits: { maxRatio: 2000, ratioFloor: 1024 * 1024 } });
    assert.ok(existsSync(join(await ok.ensureLayer(blob, diffId), "zeros")));
  });

  it("an unpack failure names the layer and its image (run's message; before, only the entry: which layer of which image was not said)", async () => {
    const dir = mkdtempSync(join(scratch, "caps-"));
    const t = new TarWriter();
    t.add({ path: "../../escape", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("x") });
    const { layout, blob, diffId } = await gzipLayer(join(dir, "store"), t.finish());
    const image = (name: string) => ({ name, manifestDigest: blob.digest, manifest: { schemaVersion: 2, config: blob, layers: [blob] }, configDigest: blob.digest, config: { os: "linux", architecture: "amd64", rootfs: { type: "layers", diff_ids: [diffId] } } }) as StoredImage;
    const cache = new LayerCache(dir, layout);
    await assert.rejects(cache.ensureLayers(image("docker.io/test/hostile:1")), { message: `layer ${blob.digest} of test/hostile:1: refusing layer entry ../../escape: it escapes the layer root` });
    await assert.rejects(cache.ensureLayers(image(`sha256:${"ab".repeat(32)}`)), { message: `layer ${blob.digest} of image abababababab: refusing layer entry ../../escape: it escapes the layer root` });
    // A message that names the layer already gets the image after it.
    const capped = new LayerCache(dir, layout, { limits: { maxEntries: 0 } });
    await assert.rejects(capped.ensureLayers(image("docker.io/test/hostile:1")), { message: `layer ${blob.digest} of test/hostile:1 has more than 0 entries (TSBOX_MAX_LAYER_ENTRIES)` });
  });

  it("holds an archive loaded from a stream (stdin) to the ratio as it holds one from a file, leaving nothing behind", async () => {
    const dir = mkdtempSync(join(scratch, "caps-"));
    const t = new TarWriter();
    t.add({ path: "zeros", type: "file", mode: 0o644, mtime: 0, data: Buffer.alloc(48 * 1024 * 1024) });
    const bomb = gzipSync(t.finish(), { level: 9 });
    const path = join(dir, "bomb.tar.gz");
    writeFileSync(path, bomb);
    const store = new ImageStore(join(dir, "store"));
    const limits = { maxRatio: 100, ratioFloor: 1024 * 1024 };
    await assert.rejects(loadImages(store, join(dir, "store"), path, { limits }), /archive .*bomb\.tar\.gz decompresses more than 100 times its size \(TSBOX_MAX_LAYER_RATIO\)/);
    // Before: no ratio for a stream, the whole 48 MiB was written, then "not an image archive".
    await assert.rejects(loadImages(store, join(dir, "store"), Readable.from([bomb.subarray(0, 1000), bomb.subarray(1000)]), { limits }), /archive stdin decompresses more than 100 times its size \(TSBOX_MAX_LAYER_RATIO\): \d+ bytes to over \d+/);
    assert.deepEqual(readdirSync(join(dir, "store")).filter((n) => n.startsWith(".load-")), []);
  });

  it("does not hold a layer this store compressed itself (commit, build) to the ratio: a Dockerfile's file of zeros is no bomb", async () => {
    const dir = mkdtempSync(join(scratch, "caps-"));
    const layout = new OciLayout(join(dir, "store"));
    const t = new TarWriter();
    t.add({ path: "zeros", type: "file", mode: 0o644, mtime: 0, data: Buffer.alloc(48 * 1024 * 1024) });
    const raw = t.finish();
    const layer = await writeLayer(layout, async (tar) => void (await writeTo(tar, raw)));
    assert.ok(layout.madeHere(layer.descriptor.digest));
    const cache = new LayerCache(dir, layout, { limits: { maxRatio: 100, ratioFloor: 1024 * 1024 } });
    assert.ok(existsSync(join(await cache.ensureLayer(layer.descriptor, layer.diffId), "zeros")));
    // The size cap still holds, and prune drops the mark with its blob.
    const capped = new LayerCache(join(dir, "other"), layout, { limits: { maxBytes: 8 * 1024 * 1024 } });
    await assert.rejects(capped.ensureLayer(layer.descriptor, layer.diffId), /unpacks to more than 8 MiB/);
    await pruneStore(dir, layout);
    assert.equal(layout.madeHere(layer.descriptor.digest), false);
  });
});

// ---- load: archives never make tsbox follow a link ------------------------

/** An OCI archive (tar) of `entries` plus a valid oci-layout file. */
function archive(path: string, entries: TarWriteEntry[]): string {
  const t = new TarWriter();
  t.add({ path: "oci-layout", type: "file", mode: 0o644, mtime: 0, data: Buffer.from('{"imageLayoutVersion":"1.0.0"}') });
  for (const e of entries) t.add(e);
  writeFileSync(path, t.finish());
  chmodSync(path, 0o644);
  return path;
}

const blobEntry = (data: Buffer): TarWriteEntry => ({ path: `blobs/sha256/${sha256Digest(data).slice(7)}`, type: "file", mode: 0o644, mtime: 0, data });

/** An image whose one layer is `layer`: its config, manifest and index entries (the layer blob not included). */
function imageEntries(layer: Buffer, name: string): { entries: TarWriteEntry[]; layerDigest: string } {
  const layerDigest = sha256Digest(layer);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: { Cmd: ["sh"] }, rootfs: { type: "layers", diff_ids: [layerDigest] } }));
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: { mediaType: MediaType.ociConfig, digest: sha256Digest(config), size: config.length }, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: layer.length }] }));
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: MediaType.ociManifest, digest: sha256Digest(manifest), size: manifest.length, annotations: { "io.containerd.image.name": name } }] }));
  return { entries: [blobEntry(config), blobEntry(manifest), { path: "index.json", type: "file", mode: 0o644, mtime: 0, data: index }], layerDigest };
}

describe("load: links inside archives are never followed", () => {
  let dir: string;
  let hostSecret: string;
  let hostFifo: string;
  let secretLayer: Buffer;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "security-load-"));
    chmodSync(dir, 0o755);
    // A host file outside any archive (a valid layer tar, so importing it would "work"), and a FIFO.
    const t = new TarWriter();
    t.add({ path: "marker", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("read from the host\n") });
    secretLayer = t.finish();
    hostSecret = join(dir, "host-secret.tar");
    writeFileSync(hostSecret, secretLayer);
    chmodSync(hostSecret, 0o644);
    hostFifo = join(dir, "host-fifo");
    execFileSync("mkfifo", ["-m", "666", hostFifo]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const who of identities()) {
    describe(`as ${who.name}`, () => {
      const env = () => {
        const store = join(who.scratch, `load-${Math.random().toString(16).slice(2)}`);
        mkdirSync(store);
        execFileSync("chown", [`${who.uid}:${who.gid}`, store]);
        return { TSBOX_DATA_DIR: store };
      };

      it("a blob that is a symlink to a host file is not imported", async () => {
        const { entries, layerDigest } = imageEntries(secretLayer, "test/linked:1");
        const a = archive(join(dir, `linked-${who.name}.tar`), [...entries, { path: `blobs/sha256/${layerDigest.slice(7)}`, type: "symlink", mode: 0o777, mtime: 0, linkname: hostSecret }]);
        const e = env();
        const r = await tsbox(who, ["load", "-i", a], { env: e });
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /^tsbox: .*(not in the archive|does not contain|missing)/m);
        assert.notEqual((await tsbox(who, ["inspect", "test/linked:1"], { env: e })).code, 0);
      });

      it("index.json as a symlink to a host FIFO fails at once instead of hanging", async () => {
        const a = archive(join(dir, `fifo-${who.name}.tar`), [{ path: "index.json", type: "symlink", mode: 0o777, mtime: 0, linkname: hostFifo }, { path: "blobs/sha256", type: "directory", mode: 0o755, mtime: 0 }]);
        const r = await tsbox(who, ["load", "-i", a], { env: env(), timeoutMs: 15_000 });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /^tsbox: not an image archive/);
      });

      it("a layout directory holding a symlinked blob is refused, naming it", async () => {
        const layoutDir = join(dir, `layout-${who.name}`);
        const { entries, layerDigest } = imageEntries(secretLayer, "test/linked-dir:1");
        for (const e of entries) {
          mkdirSync(join(layoutDir, e.path, ".."), { recursive: true });
          writeFileSync(join(layoutDir, e.path), e.data!);
        }
        writeFileSync(join(layoutDir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
        execFileSync("ln", ["-s", hostSecret, join(layoutDir, "blobs", "sha256", layerDigest.slice(7))]);
        execFileSync("chmod", ["-R", "a+rX", layoutDir]);
        const r = await tsbox(who, ["load", "-i", layoutDir], { env: env() });
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^tsbox: blobs/sha256/${layerDigest.slice(7)} in .* is a symlink`));
      });

      it("a gzip'd archive that expands past TSBOX_MAX_LAYER_SIZE is refused, leaving nothing behind", async () => {
        const t = new TarWriter();
        t.add({ path: "oci-layout", type: "file", mode: 0o644, mtime: 0, data: Buffer.alloc(24 * 1024 * 1024) });
        const a = join(dir, `bomb-${who.name}.tar.gz`);
        writeFileSync(a, gzipSync(t.finish(), { level: 9 }));
        chmodSync(a, 0o644);
        const e = env();
        const r = await tsbox(who, ["load", "-i", a], { env: { ...e, TSBOX_MAX_LAYER_SIZE: "4M" } });
        assert.equal(r.code, 1);
        assert.match(r.stderr, /unpacks to more than 4 MiB \(TSBOX_MAX_LAYER_SIZE\)/);
        assert.deepEqual(readdirSync(e.TSBOX_DATA_DIR).filter((n) => n.startsWith(".load")), []);
      });

      it("still loads an old docker archive whose layer.tar links to another layer of the archive", async () => {
        const layer = new TarWriter();
        layer.add({ path: "hello", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("hi\n") });
        const tar = layer.finish();
        const diff = sha256Digest(tar);
        const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [diff, diff] } }));
        const t = new TarWriter();
        t.add({ path: "a/layer.tar", type: "file", mode: 0o644, mtime: 0, data: tar });
        t.add({ path: "b/layer.tar", type: "symlink", mode: 0o777, mtime: 0, linkname: "../a/layer.tar" });
        t.add({ path: "cfg.json", type: "file", mode: 0o644, mtime: 0, data: config });
        t.add({ path: "manifest.json", type: "file", mode: 0o644, mtime: 0, data: Buffer.from(JSON.stringify([{ Config: "cfg.json", RepoTags: ["test/old-docker:1"], Layers: ["a/layer.tar", "b/layer.tar"] }])) });
        const a = join(dir, `old-docker-${who.name}.tar`);
        writeFileSync(a, t.finish());
        chmodSync(a, 0o644);
        const r = await tsbox(who, ["load", "-i", a], { env: env() });
        assert.equal(r.code, 0, r.stderr);
      });
    });
  }
});

describe("import: a tar no container could unpack is refused at import, naming the entry", () => {
  const file = (path: string): TarWriteEntry => ({ path, type: "file", mode: 0o644, mtime: 0, data: Buffer.from("evil\n") });
  const cases: [string, TarWriteEntry[], RegExp][] = [
    ["a ../ entry", [file("ok"), file("../../../../tmp/escaped")], /refusing layer entry \.\.\/\.\.\/\.\.\/\.\.\/tmp\/escaped: it escapes the layer root/],
    // An absolute name is docker's too (below); `..` after it still escapes.
    ["an absolute entry climbing out", [file("ok"), file("/../../tmp/escaped")], /refusing layer entry \/\.\.\/\.\.\/tmp\/escaped: it escapes the layer root/],
    ["a write through its own symlink", [{ path: "lnk", type: "symlink", mode: 0o777, mtime: 0, linkname: "/tmp" }, file("lnk/escaped")], /refusing to write lnk\/escaped through the symlink lnk/],
    ["a directory replaced by a symlink, then written through", [{ path: "d", type: "directory", mode: 0o755, mtime: 0 }, { path: "d", type: "symlink", mode: 0o777, mtime: 0, linkname: "/etc" }, file("d/x")], /refusing to write d\/x through the symlink d/],
    ["a hard link out of its root", [file("ok"), { path: "h", type: "hardlink", mode: 0o644, mtime: 0, linkname: "../etc/passwd" }], /refusing hard link h -> \.\.\/etc\/passwd: it escapes the layer root/],
    ["a hard link to what it does not hold", [{ path: "h", type: "hardlink", mode: 0o644, mtime: 0, linkname: "etc/passwd" }], /hard link h points at etc\/passwd, which is not in the layer/],
  ];
  for (const who of identities()) {
    describe(`as ${who.name}`, () => {
      for (const [what, entries, pattern] of cases) {
        it(`refuses ${what}`, async () => {
          const store = join(who.scratch, `import-${Math.random().toString(16).slice(2)}`);
          mkdirSync(store);
          execFileSync("chown", [`${who.uid}:${who.gid}`, store]);
          const t = new TarWriter();
          for (const e of entries) t.add(e);
          // Before: "sha256:…", exit 0, and every run of the image failed with this error.
          const r = await tsbox(who, ["import", "-", "hostile:1"], { env: { TSBOX_DATA_DIR: store }, stdin: t.finish() });
          assert.equal(r.code, 1, r.stderr);
          assert.match(r.stderr, new RegExp(`^tsbox: the input cannot be imported: ${pattern.source}\n$`));
          assert.equal((await tsbox(who, ["images", "-q"], { env: { TSBOX_DATA_DIR: store } })).stdout, "", "no image");
          assert.ok(!existsSync("/tmp/escaped"));
        });
      }
      it("imports a tar of absolute paths (tar -cP) as docker does: each file at its path, under the image's root", async () => {
        const store = join(who.scratch, `import-${Math.random().toString(16).slice(2)}`);
        mkdirSync(store);
        execFileSync("chown", [`${who.uid}:${who.gid}`, store]);
        const tree = mkdtempSync(join(scratch, "abs-"));
        mkdirSync(join(tree, "bin"));
        execFileSync("cp", ["/usr/bin/busybox", join(tree, "bin", "busybox")]);
        writeFileSync(join(tree, "data"), "absolute\n");
        const tarPath = join(who.scratch, `${tree.split("/").pop()}.tar`);
        execFileSync("tar", ["-cPf", tarPath, tree]);
        chmodSync(tarPath, 0o644);
        assert.match(execFileSync("tar", ["-tPf", tarPath]).toString(), new RegExp(`^${tree}/data$`, "m"), "absolute names in the tar");
        const env = { TSBOX_DATA_DIR: store };
        // Before: "the input cannot be imported: refusing layer entry /tmp/…: absolute path".
        const imported = await tsbox(who, ["import", tarPath, "absolute:1"], { env });
        assert.equal(imported.code, 0, imported.stderr);
        const r = await tsbox(who, ["run", "--rm", "--entrypoint", `${tree}/bin/busybox`, "absolute:1", "cat", `${tree}/data`], { env });
        assert.equal(r.stderr, "");
        assert.equal(r.stdout, "absolute\n");
        assert.equal(r.code, 0);
      });

      it("still imports a tar whose links and replaced entries stay inside it", async () => {
        const store = join(who.scratch, `import-${Math.random().toString(16).slice(2)}`);
        mkdirSync(store);
        execFileSync("chown", [`${who.uid}:${who.gid}`, store]);
        const t = new TarWriter();
        for (const e of [file("d/f"), { path: "lnk", type: "symlink", mode: 0o777, mtime: 0, linkname: "d" }, { path: "h", type: "hardlink", mode: 0o644, mtime: 0, linkname: "d/f" }, file("lnk"), file("lnk/x")] as TarWriteEntry[]) t.add(e);
        // The last two: not "lnk/x through the symlink lnk" but "lnk is not a directory" — refused as the unpacker would.
        const refused = await tsbox(who, ["import", "-"], { env: { TSBOX_DATA_DIR: store }, stdin: t.finish() });
        assert.match(refused.stderr, /^tsbox: the input cannot be imported: cannot write lnk\/x: lnk is not a directory\n$/);
        const ok = new TarWriter();
        for (const e of [file("d/f"), { path: "lnk", type: "symlink", mode: 0o777, mtime: 0, linkname: "d" }, { path: "h", type: "hardlink", mode: 0o644, mtime: 0, linkname: "d/f" }, { path: "d", type: "directory", mode: 0o755, mtime: 0 }, file("d/g")] as TarWriteEntry[]) ok.add(e);
        const r = await tsbox(who, ["import", "-", "fine:1"], { env: { TSBOX_DATA_DIR: store }, stdin: ok.finish() });
        assert.equal(r.code, 0, r.stderr);
      });
    });
  }
});

// ---- exec -u NAME: the running container's /etc/passwd, read safely ------

describe("reading a file in a tree someone else controls (no container)", () => {
  it("never follows a symlink in any component, never opens a FIFO, bounds the size", async () => {
    const { readFileInTree } = await import("../src/image/safe-open.js");
    const root = mkdtempSync(join(scratch, "tree-"));
    const outside = mkdtempSync(join(scratch, "outside-"));
    writeFileSync(join(outside, "passwd"), "evil:x:4242:4242::/:/bin/sh\n");
    mkdirSync(join(root, "etc"));
    writeFileSync(join(root, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n");
    execFileSync("ln", ["-s", outside, join(root, "etc-link")]);
    execFileSync("ln", ["-s", join(outside, "passwd"), join(root, "etc", "linked")]);
    execFileSync("mkfifo", [join(root, "etc", "fifo")]);
    writeFileSync(join(root, "etc", "big"), Buffer.alloc(2048));
    assert.equal(String((readFileInTree(root, "etc/passwd", 1024) as { data: Buffer }).data), "root:x:0:0::/root:/bin/sh\n");
    assert.deepEqual(readFileInTree(root, "etc-link/passwd", 1024), { kind: "hidden" });
    assert.deepEqual(readFileInTree(root, "etc/linked", 1024), { kind: "hidden" });
    assert.deepEqual(readFileInTree(root, "etc/fifo", 1024), { kind: "hidden" });
    assert.deepEqual(readFileInTree(root, "etc/none", 1024), { kind: "missing" });
    assert.deepEqual(readFileInTree(root, "none/passwd", 1024), { kind: "missing" });
    assert.deepEqual(readFileInTree(root, "etc/passwd/x", 1024), { kind: "hidden" });
    assert.throws(() => readFileInTree(root, "etc/big", 1024), /larger than 1024 bytes/);
  });
});

describe("exec -u NAME against a container that attacks its own /etc/passwd", () => {
  let hostDir: string;
  before(() => {
    hostDir = mkdtempSync(join(tmpdir(), "security-passwd-"));
    chmodSync(hostDir, 0o755);
    writeFileSync(join(hostDir, "passwd"), "evil:x:4242:4242::/:/bin/sh\n");
    chmodSync(join(hostDir, "passwd"), 0o644);
  });
  after(() => rmSync(hostDir, { recursive: true, force: true }));

  for (const who of identities()) {
    describe(`as ${who.name}`, () => {
      let snap: Snapshot;
      beforeEach(() => (snap = snapshot()));
      afterEach(() => assertNoLeaks(snap, [who]));

      it("never reads a host file through a symlinked /etc/passwd, nor a huge one into memory", async () => {
        const r = await new Promise<{ swap: string[]; huge: string }>((resolve, reject) => {
          const child = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "test", "helpers", "exec-user-probe.ts"), hostDir], {
            uid: who.uid,
            gid: who.gid,
            cwd: repoRoot,
            env: identityEnv(who),
            stdio: ["ignore", "pipe", "pipe"],
          });
          let out = "";
          let err = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (err += d));
          child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`probe exited ${code}: ${err}`))));
        });
        assert.deepEqual(r.swap, ["unable to find user evil: no matching entries in passwd file"]);
        assert.equal(r.huge, "unable to read the container's /etc/passwd: it is larger than 4 MiB");
      });
    });
  }
});
