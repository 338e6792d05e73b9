/**
 * Real-browser tests and bench: Debian's Chromium driven by playwright-core
 * (never a downloaded browser), a static file server on 127.0.0.1 for the
 * page, the bundles, v86's wasm and the guest's files, and a page that
 * drives BrowserVm (dist/browser) for the test.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { extname, join, resolve, sep } from "node:path";
import type { Browser, Page } from "playwright-core";
import { v86Dir } from "../../src/backends/vm/images.js";
import { packageRoot } from "../../src/package-root.js";

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

/** Bundles dist/browser from the current sources (a test is of this tree, not of an old build). */
export function bundleBrowser(): void {
  execFileSync(process.execPath, [join(packageRoot(), "scripts", "bundle-browser.mjs")], { stdio: "inherit" });
}

/**
 * The page: BrowserVm plus a small harness the test drives. Plain JS, so
 * nothing of the test's transpiled code has to run in the page.
 */
const VM_PAGE = `<!doctype html><meta charset="utf-8"><title>tsbox vm</title>
<script type="module">
import { BrowserVm } from "/dist/tsbox-vm.js";
const since = (t0) => Math.round(performance.now() - t0);
window.harness = {
  async start(files, config) {
    window.vm?.terminate();
    const events = [], notices = [], t0 = performance.now();
    try {
      window.vm = await BrowserVm.start(files, { config, onProgress: (e) => events.push({ ...e, at: since(t0) }), onNotice: (m) => notices.push(m) });
      return { ok: true, events, notices, ms: since(t0) };
    } catch (e) {
      return { ok: false, error: e.message, events, notices, ms: since(t0) };
    }
  },
  async run(options) {
    const t0 = performance.now(), chunks = [];
    const { stdinRepeat, ...rest } = options;
    const stdin = stdinRepeat ? new TextEncoder().encode(stdinRepeat.text.repeat(stdinRepeat.times)) : options.stdin;
    try {
      const r = await window.vm.run({ ...rest, stdin, onStdout: () => chunks.push(since(t0)) });
      return { ...r, chunkTimes: chunks, ms: since(t0) };
    } catch (e) {
      return { error: failure(e), chunkTimes: chunks, ms: since(t0) };
    }
  },
  // Containers kept running under a name, and processes exec'd into them.
  containers: {},
  spawn(name, options) {
    const c = (this.containers[name] = window.vm.spawn(options));
    return outcome(async () => ({ pid: await c.started, containerId: c.containerId }));
  },
  exec(name, options) {
    return outcome(() => this.containers[name].exec(options));
  },
  /** spawnExec with stdin open: its pid, then the chunks written one by one, then end of file. */
  spawnExec(name, options, chunks) {
    return outcome(async () => {
      const p = this.containers[name].spawnExec({ ...options, stdin: true });
      const pid = await p.started;
      for (const chunk of chunks) p.write(chunk);
      p.end();
      return { ...(await p.exited), pid };
    });
  },
  /** Ends a container's stdin and waits for its result. */
  finish(name) {
    const c = this.containers[name];
    c.end();
    return outcome(() => c.exited);
  },
};
function failure(e) {
  return { message: e.message, exitCode: e.exitCode, code: e.code, name: e.name };
}
async function outcome(fn) {
  try {
    return await fn();
  } catch (e) {
    return { error: failure(e) };
  }
}
window.pageReady = true;
</script>`;

/** URLs of the guest's files as serveVmPage serves them. */
export const GUEST_FILES = { wasm: "/v86/v86.wasm", bios: "/guest/bios.bin", kernel: "/guest/bzImage", initrd: "/guest/initramfs.cpio", image: { layout: "/guest/images/busybox/" } };
export const SNAPSHOT = { state: "/guest/snapshot.state", meta: "/guest/snapshot.state.json", manifest: "/guest/manifest.json" };

/** The page at "/", dist/browser at /dist/, v86's build at /v86/, vm-images/dist at /guest/. */
export function serveVmPage(imagesDir: string): Promise<StaticServer> {
  return serveStatic({ "/dist/": join(packageRoot(), "dist", "browser"), "/v86/": join(v86Dir(), "build"), "/guest/": imagesDir }, { "/": VM_PAGE });
}

export interface StartResult {
  ok: boolean;
  error?: string;
  ms: number;
  events: { phase: string; loaded?: number; total?: number; start?: string; at: number }[];
  notices: string[];
}

export interface RunInPage {
  cmd?: string[];
  env?: Record<string, string>;
  cwd?: string;
  hostname?: string;
  stdin?: string;
  /** A large stdin made in the page: `text` repeated. */
  stdinRepeat?: { text: string; times: number };
}

export interface RunInPageResult {
  exitCode: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Milliseconds from run() to each stdout chunk, and to the result. */
  chunkTimes: number[];
  ms: number;
  /** The run was refused (e.g. exit code 127: command not found). */
  error?: { message: string; exitCode: number; code: string };
}

export interface ExecInPage {
  cmd: string[];
  env?: Record<string, string>;
  cwd?: string;
  user?: string;
  stdin?: string;
}

/** A refusal as the page saw it: a TsboxError's message, exit code, code and class name. */
export interface PageError {
  message: string;
  exitCode: number;
  code: string;
  name: string;
}

/** The result, or (with the others missing) `error`. */
export interface ExecInPageResult {
  exitCode: number;
  signal: string | null;
  stdout: string;
  stderr: string;
  error?: PageError;
}

/** One page with the harness: one BrowserVm at a time (start replaces it). */
export class VmPage {
  readonly errors: string[] = [];

  private constructor(readonly page: Page) {
    page.on("pageerror", (e) => this.errors.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && this.errors.push(m.text())));
  }

  static async open(browser: Browser, server: StaticServer): Promise<VmPage> {
    const vm = new VmPage(await browser.newPage());
    await vm.page.goto(`${server.url}/`);
    await vm.page.waitForFunction(() => (globalThis as { pageReady?: boolean }).pageReady === true);
    return vm;
  }

  start(files: object, config?: object): Promise<StartResult> {
    return this.page.evaluate(([f, c]) => (globalThis as any).harness.start(f, c), [files, config] as const);
  }

  run(options: RunInPage): Promise<RunInPageResult> {
    return this.page.evaluate((o) => (globalThis as any).harness.run(o), options);
  }

  /** Starts a container kept under `name` (BrowserVm.spawn); resolves once it runs. */
  spawn(name: string, options: Omit<RunInPage, "stdin" | "stdinRepeat"> & { stdin?: boolean }): Promise<{ pid?: number; containerId?: string; error?: PageError }> {
    return this.page.evaluate(([n, o]) => (globalThis as any).harness.spawn(n, o), [name, options] as const);
  }

  /** BrowserContainer.exec in the container `name`. */
  exec(name: string, options: ExecInPage): Promise<ExecInPageResult> {
    return this.page.evaluate(([n, o]) => (globalThis as any).harness.exec(n, o), [name, options] as const);
  }

  /** BrowserContainer.spawnExec in the container `name`, stdin written as `chunks`, then closed. */
  spawnExec(name: string, options: Omit<ExecInPage, "stdin">, chunks: string[]): Promise<ExecInPageResult & { pid?: number }> {
    return this.page.evaluate(([n, o, c]) => (globalThis as any).harness.spawnExec(n, o, c), [name, options, chunks] as const);
  }

  /** Ends the stdin of the container `name` and waits for its result. */
  finish(name: string): Promise<ExecInPageResult> {
    return this.page.evaluate((n) => (globalThis as any).harness.finish(n), name);
  }

  /** Closing the page ends its Worker and the guest in it. */
  close(): Promise<void> {
    return this.page.close();
  }
}
