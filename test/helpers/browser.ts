/**
 * Real-browser tests: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), and a static file server on 127.0.0.1 for the page,
 * the bundles, v86's wasm and the guest's files.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import type { Browser } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser suites cannot run here, or false. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`;

export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

export interface StaticServer {
  url: string;
  /** Requests served, by path (for asserting what the page fetched). */
  served: string[];
  close(): Promise<void>;
}

/**
 * Serves `routes` (URL prefix → directory) and `pages` (path → HTML) on
 * 127.0.0.1. Paths never leave their directory.
 */
export async function serveStatic(routes: Record<string, string>, pages: Record<string, string> = {}): Promise<StaticServer> {
  const served: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    served.push(path);
    const page = pages[path];
    if (page !== undefined) {
      res.writeHead(200, { "content-type": TYPES[".html"]! });
      res.end(page);
      return;
    }
    const prefix = Object.keys(routes).find((p) => path.startsWith(p));
    const dir = prefix === undefined ? undefined : resolve(routes[prefix]!);
    const file = dir === undefined ? undefined : resolve(join(dir, path.slice(prefix!.length)));
    if (!dir || !file || !file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    const body = readFileSync(file);
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
