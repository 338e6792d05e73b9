import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromiumProfile, serveStatic } from "../test/helpers/browser.js";
const server = await serveStatic({ "/": process.env.WEB ?? "/work/main/dist/web" });
const url = `${server.url}/index.html`;
const PROMPT = /[#$] *$/;
const screen = (page: any) => page.evaluate(() => { const b = (globalThis as any).playground.term.buffer.active; const l: string[] = []; for (let i = 0; i < b.length; i++) l.push(b.getLine(i).translateToString(true)); return l.join("\n").replace(/\n+$/, ""); });
async function visit(ctx: any) {
  const page = await ctx.newPage();
  page.on("console", (m: any) => console.log("page:", m.text()));
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as any).playground?.state.attached !== undefined, null, { timeout: 180000 });
  while (!PROMPT.test(await screen(page))) await new Promise((r) => setTimeout(r, 10));
  return page;
}
const dir = mkdtempSync(join(tmpdir(), "chr-"));
const ctx = await launchChromiumProfile(dir);
const first = await visit(ctx);
await first.waitForFunction(() => (globalThis as any).playground.state.standbySaved === true, null, { timeout: 120000, polling: 100 });
await first.close();
const page = await visit(ctx);
await new Promise((r) => setTimeout(r, Number(process.argv[2] ?? 3000)));
const times = await page.evaluate(async ([n, gap, echo]: number[]) => { const process = { env: { ECHO: echo } };
  const rt = (globalThis as any).playground.rt; const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const c = process.env.ECHO ? await rt.run({ image: "busybox", cmd: ["echo", "hi"] }) : await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo $0 $(id -u) $(pwd) $FOO $(cat /proc/1/comm)", String(i)], env: { FOO: "foo" + i }, workdir: "/tmp/w" + i, user: String(i % 2 ? 1000 : 0) });
    const reader = c.stdout.getReader(); const r = await reader.read(); const ms = Math.round(performance.now() - t0); reader.releaseLock(); const st = await c.wait();
    out.push(`${ms}ms ${new TextDecoder().decode(r.value).trim()} exit=${st.exitCode}`);
    await new Promise((r) => setTimeout(r, gap));
  }
  return out;
}, [Number(process.argv[3] ?? 6), Number(process.argv[4] ?? 2500), process.env.ECHO ? 1 : 0]);
console.log(times.join("\n"));
await ctx.close(); await server.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0);
