/**
 * Real-browser tests and bench: Debian's Chromium driven by playwright-core
 * (never a downloaded browser), a static file server on 127.0.0.1 for the
 * page, the bundles, v86's wasm and the guest's files, and a page that
 * drives BrowserVm (dist/browser) for the test.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { packageRoot } from "../../src/package-root.js";
import { CONTENT_TYPES, fileUnder, requestPath, sendFile } from "../../scripts/static-files.mjs";

export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser suites cannot run here, or false. */
export const chromiumSkip: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium (scripts/setup.sh does)`;

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

/** A browser whose contexts are private windows: storage kept while a context lives, nothing on disk. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/**
 * A browser with a profile on disk in `userDataDir`, as a visitor's own: its
 * HTTP cache, and the compiled code Chromium keeps beside it (V8's code cache
 * for scripts, compiled wasm), outlive a page; a private window keeps neither.
 */
export async function launchChromiumProfile(userDataDir: string, viewport?: { width: number; height: number }): Promise<BrowserContext> {
  const { chromium } = await import("playwright-core");
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, ...(viewport ? { viewport } : {}) });
}

export interface StaticServer {
  url: string;
  /** Requests served, by path (for asserting what the page fetched). */
  served: string[];
  close(): Promise<void>;
}

/**
 * Serves `routes` (URL prefix → directory) and `pages` (path → HTML, or a
 * script for a path ending in .js) on 127.0.0.1. Paths never leave their directory.
 */
export async function serveStatic(routes: Record<string, string>, pages: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<StaticServer> {
  const served: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = requestPath(req);
    if (path === undefined) return void res.writeHead(400).end();
    served.push(path);
    // Headers every response carries (a Content-Security-Policy, as a site sets one).
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    const page = pages[path];
    if (page !== undefined) {
      res.writeHead(200, { "content-type": CONTENT_TYPES[path.endsWith(".js") ? ".js" : ".html"]! });
      res.end(page);
      return;
    }
    const prefix = Object.keys(routes).find((p) => path.startsWith(p));
    const file = prefix === undefined ? undefined : fileUnder(routes[prefix]!, path.slice(prefix.length));
    if (!file) return void res.writeHead(404).end();
    sendFile(req, res, file);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** Bundles dist/browser from the current sources (a test is of this tree, not of an old build). */
export function bundleBrowser(): void {
  execFileSync(process.execPath, [join(packageRoot(), "scripts", "bundle-browser.mjs")], { stdio: "inherit" });
}

/**
 * The test page: `tsbox/browser` (dist/browser/tsbox.js) as `window.tsbox`,
 * and a few helpers scripts use. Tests send plain JS (`VmPage.eval`), so
 * none of the test's transpiled code runs in the page.
 */
const VM_PAGE = `<!doctype html><meta charset="utf-8"><title>tsbox vm</title>
<script type="module">
import * as tsbox from "/dist/tsbox.js";
window.tsbox = tsbox;
window.since = (t0) => Math.round(performance.now() - t0);
window.failure = (e) => ({ message: e.message, exitCode: e.exitCode, code: e.code, name: e.name });
/** A Runtime kept as window.rt, booted: its progress events, notices and time. */
window.boot = async (options = {}) => {
  window.rt?.terminate();
  const events = [], notices = [], t0 = performance.now();
  window.rt = new tsbox.Runtime({ assets: "/dist/", ...options, onProgress: (e) => events.push({ ...e, at: since(t0) }), onNotice: (m) => notices.push(m) });
  try {
    await window.rt.boot();
    return { ok: true, events, notices, ms: since(t0) };
  } catch (e) {
    return { ok: false, error: e.message, events, notices, ms: since(t0) };
  }
};
window.pageReady = true;
</script>`;

/** The page at "/", dist/browser (bundles, v86.wasm, guest/) at /dist/. */
export function serveVmPage(extra: Record<string, string> = {}): Promise<StaticServer> {
  return serveStatic({ "/dist/": join(packageRoot(), "dist", "browser"), ...extra }, { "/": VM_PAGE });
}

export interface StartResult {
  ok: boolean;
  error?: string;
  ms: number;
  events: { phase: string; loaded?: number; total?: number; start?: string; at: number }[];
  notices: string[];
}

/** A refusal as the page saw it: a TsboxError's message, exit code, code and class name. */
export interface PageError {
  message: string;
  exitCode: number;
  code: string;
  name: string;
}

/** One page with `window.tsbox` and `window.rt` (one Runtime at a time: boot replaces it). */
export class VmPage {
  readonly errors: string[] = [];

  private constructor(readonly page: Page) {
    page.on("pageerror", (e) => this.errors.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && this.errors.push(m.text())));
  }

  /** A page in a new private window (a Browser), or one more tab of a window (a BrowserContext: the same storage). */
  static async open(browser: Browser | BrowserContext, server: StaticServer): Promise<VmPage> {
    const vm = new VmPage(await browser.newPage());
    await vm.page.goto(`${server.url}/`);
    await vm.page.waitForFunction(() => (globalThis as { pageReady?: boolean }).pageReady === true);
    return vm;
  }

  /** A new Runtime (RuntimeOptions as JSON; `config` for the machine), booted. */
  boot(options: Record<string, unknown> = {}): Promise<StartResult> {
    return this.page.evaluate((o) => (globalThis as any).boot(o), options);
  }

  /**
   * Runs `body`, the text of an async function's body with `rt`, `tsbox` and
   * `arg` in scope, in the page; returns what it returns (JSON). A throw
   * comes back as `{ error: PageError }`.
   */
  eval<T = any>(body: string, arg: unknown = null): Promise<T> {
    const source = `(async (arg) => { const rt = window.rt, tsbox = window.tsbox; try { ${body}\n } catch (e) { return { error: failure(e) }; } })(${JSON.stringify(arg)})`;
    return this.page.evaluate(source) as Promise<T>;
  }

  /** Closing the page ends its Worker and the guest in it. */
  close(): Promise<void> {
    return this.page.close();
  }
}
