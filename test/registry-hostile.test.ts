/**
 * A hostile registry: a small HTTP server in this test that speaks just
 * enough of the distribution API, one misbehaviour per repository name.
 * What each case shows: a pull reads no more than it needs of what the
 * registry sends (error pages and token replies that never end, a config of
 * any size), refuses what would reach the user's terminal or later commands
 * (a platform with escape sequences, JSON of the wrong shape), and ends
 * (tag pages that link to themselves); a registry that ignores a resume's
 * Range still gets the blob. Pulls only, no container; as each identity.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { gzipSync } from "node:zlib";
import { identities, cleanupIdentities, freshStore } from "./helpers/identities.js";
import { tsbox } from "./helpers/cli.js";
import { hostPlatform } from "../src/image/platform.js";

const digestOf = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

/** An image of one empty layer, its config edited by `edit`. */
function image(edit: (config: Record<string, unknown>) => void = () => {}) {
  const tar = Buffer.alloc(1024);
  const layer = gzipSync(tar);
  const { os, architecture } = hostPlatform();
  const config: Record<string, unknown> = { os, architecture, rootfs: { type: "layers", diff_ids: [digestOf(tar)] }, config: { Cmd: ["true"] } };
  edit(config);
  const configBlob = json(config);
  const manifest = json({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: digestOf(configBlob), size: configBlob.length },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: digestOf(layer), size: layer.length }],
  });
  return { manifest, layer: digestOf(layer), blobs: new Map([[digestOf(configBlob), configBlob], [digestOf(layer), layer]]) };
}

/** Bytes the server got into its socket before the client stopped reading (an endless body is cut at 256 MiB). */
const sent = new Map<string, number>();
const requests: string[] = [];
let server: Server;
let host: string;

/** Writes `chunk` until the client goes away or 256 MiB are out, counting what was accepted under `key`. */
function endless(res: ServerResponse, key: string, chunk: Buffer): void {
  let total = 0;
  const pump = () => {
    while (total < 256 * 1024 * 1024) {
      total += chunk.length;
      sent.set(key, total);
      if (!res.write(chunk)) return void res.once("drain", pump);
    }
    res.end();
  };
  res.on("close", () => sent.set(key, total));
  pump();
}

const images: Record<string, ReturnType<typeof image>> = {
  good: image(),
  bigconfig: image(),
  badplatform: image((c) => (c.variant = "v8\x1b]0;PWNED\x07\x1b[2J")),
  badenv: image((c) => (c.config = { Env: "PATH=/bin" })),
};
// A manifest that says its config is 29 bytes longer than the config the registry sends (whole, Content-Length and all).
images.shortconfig = image();
{
  const m = JSON.parse(images.shortconfig.manifest.toString()) as { config: { size: number } };
  m.config.size += 29;
  images.shortconfig = { ...images.shortconfig, manifest: json(m) };
}
// A manifest that says its config is 5 MiB: refused before the config is fetched.
{
  const m = JSON.parse(images.bigconfig!.manifest.toString()) as { config: { size: number } };
  m.config.size = 5 * 1024 * 1024;
  images.bigconfig = { ...images.bigconfig!, manifest: json(m) };
}
/** Blob GETs per repository (the "range" repository cuts the first one off half-way, then ignores Range). */
const blobGets = new Map<string, number>();

function handle(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? "/", "http://x");
  requests.push(url.pathname);
  if (url.pathname === "/v2/") return void res.writeHead(200, { "docker-distribution-api-version": "registry/2.0" }).end("{}");
  if (url.pathname === "/token") return void (res.writeHead(200, { "content-type": "application/json" }), endless(res, "token", Buffer.from('{"token":"' + "t".repeat(65536 - 10))));
  const m = /^\/v2\/hostile\/([a-z0-9]+)\/(manifests|blobs|tags)\/(.+)$/.exec(url.pathname);
  if (!m) return void res.writeHead(404).end();
  const [, repo, kind, ref] = m as unknown as [string, string, string, string];
  if (repo === "errorpage") return void (res.writeHead(404, { "content-type": "application/json" }), endless(res, "errorpage", Buffer.alloc(65536, "x")));
  if (repo === "token" && req.headers.authorization === undefined) {
    return void res.writeHead(401, { "www-authenticate": `Bearer realm="http://${host}/token",service="hostile"` }).end();
  }
  if (repo === "tagloop" && kind === "tags") {
    return void res.writeHead(200, { "content-type": "application/json", link: `</v2/hostile/tagloop/tags/list?n=1000>; rel="next"` }).end(JSON.stringify({ name: "hostile/tagloop", tags: [] }));
  }
  if (repo === "badindex" && kind === "manifests") {
    const body = json({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: {} });
    return void res.writeHead(200, { "content-type": "application/vnd.oci.image.index.v1+json", "docker-content-digest": digestOf(body) }).end(body);
  }
  // "hangup": the connection closes without an answer (a registry going down behind a proxy that accepted it).
  if (repo === "hangup") return void req.socket.destroy();
  const img = images[repo === "range" || repo === "token" ? "good" : repo];
  if (!img) return void res.writeHead(404).end();
  if (kind === "manifests") {
    return void res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json", "docker-content-digest": digestOf(img.manifest) }).end(img.manifest);
  }
  const blob = img.blobs.get(ref);
  if (!blob) return void res.writeHead(404).end();
  const n = (blobGets.get(`${repo} ${ref}`) ?? 0) + 1;
  blobGets.set(`${repo} ${ref}`, n);
  blobGets.set(repo, (blobGets.get(repo) ?? 0) + 1);
  // "range": the layer's first GET stops half-way (the pull keeps a partial), every later one ignores Range (200, all).
  if (repo === "range" && ref === img.layer && n === 1) {
    res.writeHead(200, { "content-length": String(blob.length) });
    res.write(blob.subarray(0, blob.length >> 1));
    return void setTimeout(() => res.destroy(), 50);
  }
  res.writeHead(200, { "content-length": String(blob.length) }).end(blob);
}

before(async () => {
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  cleanupIdentities();
});


for (const who of identities()) {
  describe(`a hostile registry, pulled from as ${who.name}`, () => {
    const pull = (repo: string, args: string[] = []) => tsbox(who, ["pull", ...args, `${host}/hostile/${repo}`], { env: freshStore(who), timeoutMs: 60_000 });

    it("an error page or a token reply that never ends is not read past what is needed", async () => {
      const page = await pull("errorpage");
      assert.equal(page.code, 1);
      assert.match(page.stderr, /not found/);
      assert.ok((sent.get("errorpage") ?? 0) < 16 * 1024 * 1024, `the client read ${sent.get("errorpage")} bytes of an endless error page (all of it: 256 MiB)`);
      // Before: "cannot reach registry H: UND_ERR_SOCKET" (undici's code), for a registry that was reached.
      const hangup = await pull("hangup");
      assert.equal(hangup.code, 1);
      assert.match(hangup.stderr, /^tsbox: registry 127\.0\.0\.1:\d+ closed the connection before it answered \(other side closed\)\n$/);
      const token = await pull("token");
      assert.equal(token.code, 1);
      assert.match(token.stderr, /token server of 127\.0\.0\.1:\d+ sent more than 1048576 bytes/);
      assert.ok((sent.get("token") ?? 0) < 16 * 1024 * 1024, `the client read ${sent.get("token")} bytes of an endless token reply`);
    });

    it("a config over 4 MiB is refused before it is fetched; one of the wrong shape or with a hostile platform is not stored", async () => {
      const env = freshStore(who);
      const run = (repo: string) => tsbox(who, ["pull", `${host}/hostile/${repo}`], { env, timeoutMs: 60_000 });
      const big = await run("bigconfig");
      assert.equal(big.code, 1);
      assert.match(big.stderr, /its config is 5242880 bytes, more than 4194304/);
      assert.equal(blobGets.get("bigconfig") ?? 0, 0, "no blob of it was fetched");
      const platform = await run("badplatform");
      assert.equal(platform.code, 1);
      assert.match(platform.stderr, /names a malformed platform: "linux\/amd64\/v8\\u001b\]0;PWNED\\u0007\\u001b\[2J"/);
      assert.doesNotMatch(platform.stderr + platform.stdout, /\x1b/, "no escape reaches the terminal");
      const env2 = await run("badenv");
      assert.equal(env2.code, 1);
      assert.match(env2.stderr, /malformed image config \(config\.Env must be a list of strings\)/);
      const index = await run("badindex");
      assert.equal(index.code, 1);
      assert.match(index.stderr, /malformed index/);
      const listed = await tsbox(who, ["images", "--format", "{{.Repository}}"], { env });
      assert.doesNotMatch(listed.stdout, /hostile/, "nothing of them is named in the store");
    });

    it("a complete answer shorter than the descriptor fails at once, not retried as a cut connection", async () => {
      blobGets.clear();
      const started = Date.now();
      const r = await pull("shortconfig");
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^tsbox: blob sha256:[0-9a-f]{64} from 127\.0\.0\.1:\d+ is \d+ bytes, not the \d+ its descriptor says \(the registry's answer was complete\)\n$/);
      assert.equal(blobGets.get("shortconfig"), 1, "asked for once (before: 5 times over 15 s)");
      assert.ok(Date.now() - started < 10_000);
    });

    it("a resumed download gets the blob from a registry that ignores Range, and pull -a ends on tag pages that link to themselves", async () => {
      const env = freshStore(who);
      blobGets.clear();
      // Cut off half-way, the pull resumes at once (a retry); its Range ignored, it reads the whole answer.
      const resumed = await tsbox(who, ["pull", `${host}/hostile/range`], { env, timeoutMs: 60_000 });
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(blobGets.get(`range ${images.good!.layer}`), 2, "cut off once, then read whole");
      const before = requests.filter((p) => p.includes("tagloop/tags")).length;
      const loop = await tsbox(who, ["pull", "-a", `${host}/hostile/tagloop`], { env, timeoutMs: 60_000 });
      assert.notEqual(loop.code, 0);
      assert.equal(requests.filter((p) => p.includes("tagloop/tags")).length - before, 1, "one page that adds no tag ends the list");
      assert.doesNotMatch(loop.stderr, /MaxListenersExceeded/);
    });
  });
}
