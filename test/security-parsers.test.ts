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
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { LayerError } from "../src/errors.js";
import { sha256Digest } from "../src/image/hash.js";
import { LayerCache } from "../src/image/layers.js";
import { layerLimits } from "../src/image/compression.js";
import { OciLayout } from "../src/image/layout.js";
import { MediaType } from "../src/image/oci.js";
import { readTar } from "../src/image/tar.js";
import { paxHeader, TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";
import { tsbox } from "./helpers/cli.js";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { EMBEDDED_BUSYBOX } from "./helpers/images.js";
import { skopeoCopy, startRegistry, type TestRegistry } from "./helpers/registry.js";

const USERS = { alice: "wonderland" };
const CREDS = ["--dest-creds", `alice:${USERS.alice}`];
const scratch = mkdtempSync(join(tmpdir(), "security-parsers-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

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
  after(async () => {
    await recorder.close();
    cleanupIdentities();
  });
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
      assert.equal(push.code, 125, push.stderr);
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
      assert.equal(login.code, 125);
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
});

// ---- layers: size and decompression ratio caps ---------------------------

/** A store with one gzip'd layer holding a file of `size` zero bytes (a compression bomb in miniature). */
async function zeroLayer(dir: string, size: number): Promise<{ layout: OciLayout; blob: { digest: string; size: number; mediaType: string }; diffId: string }> {
  const t = new TarWriter();
  t.add({ path: "zeros", type: "file", mode: 0o644, mtime: 0, data: Buffer.alloc(size) });
  const raw = t.finish();
  const layout = new OciLayout(dir);
  await layout.init();
  const blob = await layout.writeBlob(gzipSync(raw, { level: 9 }));
  return { layout, blob: { ...blob, mediaType: MediaType.ociLayerGzip }, diffId: sha256Digest(raw) };
}

describe("layer unpacking: size and ratio caps", () => {
  it("has defaults that no real image meets, and takes TSBOX_MAX_LAYER_SIZE / TSBOX_MAX_LAYER_RATIO", () => {
    assert.deepEqual(layerLimits({}), { maxBytes: 64 * 2 ** 30, maxRatio: 1000, ratioFloor: 2 ** 30 });
    assert.deepEqual(layerLimits({ TSBOX_MAX_LAYER_SIZE: "8M", TSBOX_MAX_LAYER_RATIO: "50" }), { maxBytes: 8 * 2 ** 20, maxRatio: 50, ratioFloor: 2 ** 30 });
    assert.throws(() => layerLimits({ TSBOX_MAX_LAYER_SIZE: "lots" }), /TSBOX_MAX_LAYER_SIZE/);
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
});
