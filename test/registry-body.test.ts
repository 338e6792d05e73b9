/**
 * Response bodies read with an abort that always ends the read
 * (src/image/registry/body.ts), against a real HTTP server on loopback.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { bodyBytes, bodyChunks } from "../src/image/registry/body.js";

let server: Server;
let base: string;

before(async () => {
  // /full/N: N bytes; /stall/N: N bytes of a declared 2N, then nothing more.
  server = createServer((req, res) => {
    const [, mode, n] = req.url!.split("/");
    const size = Number(n);
    res.writeHead(200, { "content-length": String(mode === "stall" ? 2 * size : size) });
    if (mode === "stall") res.write(Buffer.alloc(size, 1));
    else res.end(Buffer.alloc(size, 1));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Fails instead of hanging the file when a read never ends. */
function withinTenSeconds<T>(p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the read never ended")), 10_000)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe("response bodies", () => {
  it("reads a whole body, chunk by chunk and at once", async () => {
    let total = 0;
    for await (const chunk of bodyChunks(await fetch(`${base}/full/300000`))) total += chunk.byteLength;
    assert.equal(total, 300000);
    const bytes = await bodyBytes(await fetch(`${base}/full/1000`), undefined, 1000, () => new Error("too large"));
    assert.deepEqual(bytes, Buffer.alloc(1000, 1));
  });

  it("ends a read of a stalled body when the signal aborts, with an AbortError", async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/stall/65536`, { signal: controller.signal });
    let got = 0;
    const reading = (async () => {
      for await (const chunk of bodyChunks(res, controller.signal)) {
        got += chunk.byteLength;
        if (got === 65536) controller.abort();
      }
    })();
    await assert.rejects(withinTenSeconds(reading), { name: "AbortError" });
    assert.equal(got, 65536, "what arrived before the abort was read");
  });

  it("refuses a body over its limit as soon as it passes it", async () => {
    // The stalled body never ends: only stopping at the limit returns.
    await assert.rejects(withinTenSeconds(bodyBytes(await fetch(`${base}/stall/4096`), undefined, 1024, () => new Error("manifest too large"))), /manifest too large/);
  });

  it("throws at once for a signal that is already aborted", async () => {
    const controller = new AbortController();
    const res = await fetch(`${base}/full/10`);
    controller.abort();
    await assert.rejects(bodyBytes(res, controller.signal, 100, () => new Error("too large")), { name: "AbortError" });
  });
});
