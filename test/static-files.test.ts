/**
 * scripts/static-files.mjs, the one rule of `npm run serve:web`, the served
 * snapshot's step and the tests' server: paths kept under their folder, a
 * path that does not decode answered 400 (it used to throw in the handler
 * and end serve:web), types, validators and 304. A real HTTP server on
 * 127.0.0.1 built as serve:web builds it; no browser, no guest.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileUnder, requestPath, sendFile } from "../scripts/static-files.mjs";

describe("static files (serve:web's rules)", () => {
  let dir: string;
  let server: Server;
  let base: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "tsbox-static-"));
    mkdirSync(join(dir, "site"));
    writeFileSync(join(dir, "site", "index.html"), "<p>hi</p>");
    writeFileSync(join(dir, "site", "v86.wasm"), Buffer.from([0, 0x61, 0x73, 0x6d]));
    writeFileSync(join(dir, "secret.txt"), "outside");
    const root = join(dir, "site");
    server = createServer((req, res) => {
      const path = requestPath(req);
      if (path === undefined) return void res.writeHead(400).end();
      const file = fileUnder(root, path.endsWith("/") ? path + "index.html" : path);
      if (!file) return void res.writeHead(404).end();
      sendFile(req, res, file);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves files under the folder with their type and validators, and 304 to a request that has them", async () => {
    const res = await fetch(`${base}/v86.wasm`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/wasm");
    assert.equal(res.headers.get("content-length"), "4");
    const etag = res.headers.get("etag");
    assert.ok(etag && res.headers.get("last-modified"));
    await res.arrayBuffer();
    const again = await fetch(`${base}/v86.wasm`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    assert.equal(await (await fetch(`${base}/`)).text(), "<p>hi</p>");
  });

  it("keeps paths under the folder, and answers a path that does not decode with 400 and goes on serving", async () => {
    for (const path of ["/../secret.txt", "/%2e%2e/secret.txt", "/%2e%2e%2fsecret.txt", "/nothing"]) {
      assert.equal((await fetch(base + path)).status, 404, path);
    }
    assert.equal(fileUnder(join(dir, "site"), "/../secret.txt"), undefined);
    assert.equal((await fetch(`${base}/%E0%A4%A`)).status, 400);
    assert.equal((await fetch(`${base}/index.html`)).status, 200, "still serving");
    assert.equal(requestPath({ url: "/a%20b/" } as never), "/a b/");
    assert.equal(requestPath({ url: "/%ZZ" } as never), undefined);
  });
});
