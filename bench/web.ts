/**
 * bench/web: the playground (dist/web) in Debian's headless Chromium beside
 * Node's vm backend, in one run. Page: load → shell prompt for a first visit
 * (a new browser profile: nothing stored, nothing cached) and a returning
 * one (a new page in the same profile once the first has saved the guest
 * state), a keystroke's echo in the terminal, and a new container's first
 * output once the guest runs: after a pause, as a visitor or an embedding
 * page starts one (the Worker has a spare container ready by then), and
 * back to back (each run waits for the spare still being made, or makes its
 * own). Each visitor's browser has its profile on disk,
 * as a real one does, so a returning visit finds what Chromium keeps between
 * visits (HTTP cache, compiled scripts and wasm); the same returning visit in
 * a private window, which keeps none of that, is printed beside it. Node:
 * snapshot start → first output and a container's first output in a running
 * guest. Needs `npm run build:vm` and /usr/bin/chromium.
 *
 *   node --import tsx bench/web.ts [--runs N]
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { Runtime } from "../src/index.js";
import { packageRoot } from "../src/package-root.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { chromiumSkip, launchChromium, launchChromiumProfile, serveStatic } from "../test/helpers/browser.js";
import { vmSkip } from "../test/helpers/vm.js";
import { fmtMs, median } from "./lib/stats.js";

const runsArg = process.argv.indexOf("--runs");
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const skip = vmSkip || chromiumSkip;
if (skip) {
  console.error(`bench/web: ${skip}`);
  process.exit(1);
}

execFileSync(process.execPath, [join(packageRoot(), "scripts", "build-web.mjs")], { stdio: "inherit" });
const server = await serveStatic({ "/": join(packageRoot(), "dist", "web") });
const browser = await launchChromium();
const url = `${server.url}/index.html`;
const PROMPT = /[#$] *$/;

const screen = (page: Page) =>
  page.evaluate(() => {
    const b = (globalThis as any).playground.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
    return lines.join("\n").replace(/\n+$/, "");
  });

async function untilPrompt(page: Page): Promise<void> {
  await page.waitForFunction(() => (globalThis as any).playground?.state.attached !== undefined, null, { timeout: 180_000 });
  while (!PROMPT.test(await screen(page))) await new Promise((r) => setTimeout(r, 20));
}

/** Milliseconds from navigation to a prompt in the terminal. */
async function loadToPrompt(page: Page): Promise<number> {
  const t0 = performance.now();
  await page.goto(url);
  await untilPrompt(page);
  const ms = performance.now() - t0;
  // Where the time went: the page's steps (ms since navigation) and the Worker's (ms since its start).
  const { times, steps } = await page.evaluate(() => {
    const s = (globalThis as any).playground.state;
    return { times: s.times as Record<string, number>, steps: s.steps as Record<string, number> };
  });
  const line = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ");
  const start = await page.evaluate(() => (globalThis as any).playground.state.start as string);
  process.stderr.write(`  ${start}: page: ${line(times)}, prompt ${Math.round(ms)} | worker: ${line(steps)}\n`);
  return ms;
}

/** Whether the page stored the guest state with its shell started ahead (the Runtime's `standby`). */
const standbyStored = () => (globalThis as any).playground.state.standbySaved === true;

/** A key typed into xterm to its echo written back by the guest's pty, timed in the page. */
async function keystrokeEcho(page: Page): Promise<number> {
  await page.click("#terminal");
  const ms = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const term = (globalThis as any).playground.term;
        const t0 = performance.now();
        const sub = term.onWriteParsed(() => (sub.dispose(), resolve(performance.now() - t0)));
        term.input("x", true);
      }),
  );
  await page.keyboard.press("Backspace");
  return ms;
}

/** `rt.run` of `echo` to its first output chunk, in the page's own Runtime. */
function containerInPage(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const rt = (globalThis as any).playground.rt;
    const t0 = performance.now();
    const c = await rt.run({ image: "busybox", cmd: ["echo", "hi"] });
    const reader = c.stdout.getReader();
    await reader.read();
    const ms = performance.now() - t0;
    reader.releaseLock();
    await c.wait();
    return ms;
  });
}

const samples = { cold: [] as number[], returning: [] as number[], returningPrivate: [] as number[], firstKey: [] as number[], echo: [] as number[], container: [] as number[], burst: [] as number[] };
/** The pause before a container started "after a pause": the Worker makes its spare once the page has been quiet 2 s. */
const PAUSE_MS = 4000;

/** A first visit to the prompt (timed into `cold`, if given) and the page closed once it stored the guest state with its shell started ahead. */
async function firstVisit(context: BrowserContext, cold?: number[]): Promise<void> {
  const first = await context.newPage();
  const ms = await loadToPrompt(first);
  cold?.push(ms);
  await first.waitForFunction(standbyStored, null, { timeout: 120_000, polling: 100 });
  await first.close();
}

for (let i = 0; i < runs; i++) {
  // A visitor's browser: a new profile has nothing stored, a first visit. The
  // returning one is a new page in it (a reload would also time the old page's teardown).
  const profile = mkdtempSync(join(tmpdir(), "tsbox-bench-profile-"));
  const visitor = await launchChromiumProfile(profile);
  // A browser in use before the visit: its profile's caches and stores set up, by another site (another origin).
  await visitor.pages()[0]!.goto(`${server.url.replace("127.0.0.1", "localhost")}/playground.css`);
  await firstVisit(visitor, samples.cold);
  const page = await visitor.newPage();
  samples.returning.push(await loadToPrompt(page));
  // The first key right at the prompt waits for the restored shell's image root to be served again
  // (its input is held until then); the others are the terminal's steady echo.
  samples.firstKey.push(await keystrokeEcho(page));
  await new Promise((r) => setTimeout(r, 1000));
  for (let k = 0; k < 5; k++) samples.echo.push(await keystrokeEcho(page));
  for (let k = 0; k < 3; k++) {
    await new Promise((r) => setTimeout(r, PAUSE_MS));
    samples.container.push(await containerInPage(page));
  }
  for (let k = 0; k < 3; k++) samples.burst.push(await containerInPage(page));
  await visitor.close();
  rmSync(profile, { recursive: true, force: true });

  // The same returning visit in a private window (nothing on disk: no compiled code kept).
  const privateWindow = await browser.newContext();
  await firstVisit(privateWindow);
  samples.returningPrivate.push(await loadToPrompt(await privateWindow.newPage()));
  await privateWindow.close();
}

// Node's vm backend, same hour: snapshot start → first output, then containers in the running guest.
const dataDir = mkdtempSync(join(tmpdir(), "tsbox-bench-web-"));
const node = { start: [] as number[], container: [] as number[] };
for (let i = 0; i < runs; i++) {
  const backend = new VmBackend({ idleMs: 60_000 });
  const rt = new Runtime({ backend, dataDir });
  const firstOutput = async () => {
    const t0 = performance.now();
    const c = await rt.run({ image: "busybox", cmd: ["echo", "hi"], remove: true });
    await new Promise((resolve) => c.stdout!.once("data", resolve));
    const ms = performance.now() - t0;
    await c.wait();
    return ms;
  };
  node.start.push(await firstOutput());
  for (let k = 0; k < 3; k++) node.container.push(await firstOutput());
  await backend.shutdown();
}
rmSync(dataDir, { recursive: true, force: true });
await browser.close();
await server.close();

console.log(`bench/web: ${runs} runs, medians (issue's targets in brackets)`);
console.log(`  page load → prompt, first visit (served snapshot) ${fmtMs(median(samples.cold))}  [< 3 s cold]`);
console.log(`  page load → prompt, returning visit (stored state)  ${fmtMs(median(samples.returning))}  [< 1 s]`);
console.log(`    the same in a private window (no code kept)       ${fmtMs(median(samples.returningPrivate))}`);
console.log(`  keystroke → echo in the terminal                     ${fmtMs(median(samples.echo))}  [< 50 ms]`);
console.log(`    the first key, typed as the prompt shows            ${fmtMs(median(samples.firstKey))}`);
console.log(`  new container → first output, in the page            ${fmtMs(median(samples.container))}  [< 300 ms]`);
console.log(`    the same back to back (no pause for a spare)        ${fmtMs(median(samples.burst))}`);
console.log(`  Node vm: snapshot start → first output               ${fmtMs(median(node.start))}`);
console.log(`  Node vm: new container → first output (guest up)     ${fmtMs(median(node.container))}`);
// The load moves the page and Node alike: the ratios are what compares across runs and machines.
const ratio = (a: number[], b: number[]) => `${(median(a) / median(b)).toFixed(2)}x`;
console.log(`  ratios to Node's snapshot start → first output: first visit ${ratio(samples.cold, node.start)}, returning ${ratio(samples.returning, node.start)} (private window ${ratio(samples.returningPrivate, node.start)})`);
console.log(`  a new container in the page / in Node's running guest: ${ratio(samples.container, node.container)} (back to back ${ratio(samples.burst, node.container)})`);
