/**
 * The "host" side of bench/net.ts, run in the bench's network namespace:
 *   sink  PORT BYTES  accepts connections, reads BYTES from each and closes
 *                     it; prints {"mbps": …} per connection (first byte to last)
 *   http  PORT        answers every request with "ok" (connection latency)
 *   fetch URL BYTES   downloads BYTES from URL (a published port), prints {"mbps": …}
 *   connect HOST PORT N  N connections that each wait for the first byte; prints {"ms": median}
 * Prints {"port": N} first when it listens.
 */
import { createServer, connect } from "node:net";

const [mode, a, b, c] = process.argv.slice(2);
const out = (o: object) => process.stdout.write(JSON.stringify(o) + "\n");

if (mode === "sink") {
  const want = Number(b);
  const server = createServer((s) => {
    let got = 0;
    let t0 = 0;
    s.on("data", (d: Buffer) => {
      if (got === 0) t0 = performance.now();
      got += d.length;
      if (got >= want) {
        out({ mbps: (got * 8) / 1e6 / ((performance.now() - t0) / 1000) });
        s.destroy();
      }
    });
    s.on("error", () => {});
  });
  server.listen(Number(a), "0.0.0.0", () => out({ port: (server.address() as { port: number }).port }));
} else if (mode === "http") {
  const server = createServer((s) => {
    s.once("data", () => s.end("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n"));
    s.on("error", () => {});
  });
  server.listen(Number(a), "0.0.0.0", () => out({ port: (server.address() as { port: number }).port }));
} else if (mode === "fetch") {
  const want = Number(b);
  const url = new URL(a!);
  const s = connect(Number(url.port), url.hostname, () => s.write(`GET ${url.pathname} HTTP/1.0\r\n\r\n`));
  let got = 0;
  let t0 = 0;
  s.on("data", (d: Buffer) => {
    if (got === 0) t0 = performance.now();
    got += d.length;
    if (got >= want) {
      out({ mbps: (got * 8) / 1e6 / ((performance.now() - t0) / 1000) });
      s.destroy();
    }
  });
  s.on("close", () => got < want && out({ error: `connection closed after ${got} bytes` }));
} else if (mode === "connect") {
  const n = Number(c);
  const times: number[] = [];
  const once = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const s = connect(Number(b), a!, () => s.write("GET / HTTP/1.0\r\n\r\n"));
      s.once("data", () => {
        times.push(performance.now() - t0);
        s.destroy();
      });
      s.on("error", () => {});
      s.on("close", () => resolve());
    });
  for (let i = 0; i < n; i++) await once();
  times.sort((x, y) => x - y);
  out({ ms: times[Math.floor(times.length / 2)] ?? null, ok: times.length });
}
