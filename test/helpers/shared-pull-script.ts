/**
 * Parallel pulls of one image in one process (test/registry.test.ts), as the
 * identity running it: through a proxy here that counts each blob's GETs and
 * can hold a blob's answer. Prints one JSON object of results.
 *   node --import tsx test/helpers/shared-pull-script.ts REGISTRY REPO HELD-BLOB DATADIR-A DATADIR-B
 */
import { existsSync, readdirSync } from "node:fs";
import { createServer, request } from "node:http";
import { join } from "node:path";
import { Runtime } from "../../src/index.js";

const [registry, repo, held, dirA, dirB] = process.argv.slice(2) as [string, string, string, string, string];
const gets = new Map<string, number>();
let release: () => void = () => {};
let holding = new Promise<void>((resolve) => (release = resolve));
const proxy = createServer((req, res) => {
  const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? "")?.[1];
  if (digest && req.method === "GET") gets.set(digest, (gets.get(digest) ?? 0) + 1);
  const up = request(`http://${registry}${req.url}`, { method: req.method, headers: { ...req.headers, host: registry } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    if (digest !== held || req.method !== "GET") return void answer.pipe(res);
    // The held blob: its first half at once (the pulls see it downloading), the rest once released.
    const half = Number(answer.headers["content-length"]) / 2;
    let sent = 0;
    const rest: Buffer[] = [];
    answer.on("data", (chunk: Buffer) => {
      if (sent >= half) return void rest.push(chunk);
      res.write(chunk);
      sent += chunk.length;
    });
    answer.on("end", () => void holding.then(() => res.end(Buffer.concat(rest))));
  });
  up.on("error", () => res.destroy());
  req.pipe(up);
});
await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
const image = `127.0.0.1:${(proxy.address() as { port: number }).port}/${repo}`;
const outcome = (p: Promise<{ digest: string }>) => p.then((r) => r.digest, (e: Error) => `${e.name}: ${e.message}`);
const leftovers = (dir: string) => (existsSync(join(dir, ".downloads")) ? readdirSync(join(dir, ".downloads")) : []);
const results: Record<string, unknown> = {};

// Four pulls at once on a cold store: each blob fetched once, every pull done.
release();
{
  const rt = new Runtime({ dataDir: dirA });
  const digests = await Promise.all([1, 2, 3, 4].map(() => outcome(rt.pull(image))));
  results.parallel = { digests, gets: Object.fromEntries(gets), leftovers: leftovers(dirA) };
}

// One of two callers aborts while the shared download waits for the registry: it rejects with its reason,
// the other's pull (the same download) completes; nothing is fetched twice.
gets.clear();
holding = new Promise<void>((resolve) => (release = resolve));
{
  const rt = new Runtime({ dataDir: dirB });
  const first = new AbortController();
  // Each pull says when it sees the held blob downloading: joined to the download (a late one is told its progress so far).
  const downloading = () => {
    let seen: () => void = () => {};
    const promise = new Promise<void>((resolve) => (seen = resolve));
    const onProgress = (e: { id: string; status: string; current?: number }) => {
      if (e.id === held.slice(7, 19) && e.status === "downloading" && (e.current ?? 0) > 0) seen();
    };
    return { promise, onProgress };
  };
  const [seenA, seenB] = [downloading(), downloading()];
  const a = outcome(rt.pull(image, { signal: first.signal, onProgress: seenA.onProgress }));
  const b = outcome(rt.pull(image, { onProgress: seenB.onProgress }));
  await Promise.all([seenA.promise, seenB.promise]);
  first.abort();
  const aborted = await a;
  release();
  results.abort = { aborted, other: await b, gets: Object.fromEntries(gets), leftovers: leftovers(dirB) };
}
proxy.close();
console.log(JSON.stringify(results));
