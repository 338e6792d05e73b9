import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM, serveStatic } from "../test/helpers/browser.js";
const server = await serveStatic({ "/": process.env.WEB ?? "/work/main/dist/web" });
const url = `${server.url}/index.html`;
const PROMPT = /[#$] *$/;
const args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const screen = (page: any) => page.evaluate(() => { const b = (globalThis as any).playground.term.buffer.active; const l: string[] = []; for (let i = 0; i < b.length; i++) l.push(b.getLine(i).translateToString(true)); return l.join("\n").replace(/\n+$/, ""); });
async function visit(ctx: any) {
  const page = await ctx.newPage();
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as any).playground?.state.attached !== undefined, null, { timeout: 180000 });
  while (!PROMPT.test(await screen(page))) await new Promise((r) => setTimeout(r, 10));
  return page;
}
const dir = mkdtempSync(join(tmpdir(), "chr-"));
const ctx = await chromium.launchPersistentContext(dir, { executablePath: CHROMIUM, args });
const first = await visit(ctx);
await first.waitForFunction(() => (globalThis as any).playground.state.standbySaved === true, null, { timeout: 120000, polling: 100 });
await first.close();
const page = await visit(ctx); page.on("console", (m: any) => console.log("page:", m.text()));
const wait = Number(process.argv[2] ?? 0);
if (process.argv[4] === "nostats") await page.evaluate(() => { for (let i = 0; i < 10000; i++) clearInterval(i); });
await new Promise((r) => setTimeout(r, wait));
const times = await page.evaluate(async (n: number) => {
  const rt0 = (globalThis as any).playground.rt; const s = await rt0.run({ image: "busybox", cmd: ["sleep", "1000"] }); const ex: number[] = [];
  for (let i = 0; i < n; i++) { const t0 = performance.now(); await s.exec(["echo", "hi"]); ex.push(Math.round(performance.now() - t0)); }
  console.log("exec " + ex.join(" "));
  const rt = (globalThis as any).playground.rt; const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = await rt.run({ image: "busybox", cmd: ["echo", "hi"] });
    const reader = c.stdout.getReader(); await reader.read(); out.push(Math.round(performance.now() - t0)); reader.releaseLock(); await c.wait();
  }
  return out;
}, Number(process.argv[3] ?? 25));
console.log(times.join(" "));
await ctx.close(); await server.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0);
