import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromiumProfile, serveStatic } from "../test/helpers/browser.js";
const server = await serveStatic({ "/": "/work/main/dist/web" });
const url = `${server.url}/index.html`;
const dir = mkdtempSync(join(tmpdir(), "chr-"));
const ctx = await launchChromiumProfile(dir);
const page = await ctx.newPage();
page.on("console", (m: any) => console.log("page:", m.text()));
await page.goto(url);
await page.waitForFunction(() => (globalThis as any).playground?.state.attached !== undefined, null, { timeout: 180000 });
const rounds = Number(process.argv[2] ?? 4);
const r = await page.evaluate(`(async (rounds) => {
  const rt = globalThis.playground.rt; const log = [];
  const idle = (ms) => new Promise((r) => setTimeout(r, ms));
  const shell = async (image) => {
    const t0 = performance.now();
    const c = await rt.run({ image, cmd: ["sh"], tty: { cols: 80, rows: 24 }, stdin: true, env: { PS1: "P$ " } });
    const reader = c.stdout.getReader();
    const got = await Promise.race([reader.read().then((x) => new TextDecoder().decode(x.value)), idle(20000).then(() => "TIMEOUT")]);
    log.push(image + ": " + Math.round(performance.now() - t0) + " ms " + JSON.stringify(got));
    reader.releaseLock();
    return c;
  };
  for (let i = 0; i < rounds; i++) {
    await rt.loadLayout("/guest/images/busybox", "example.test/img" + i + ":1");
    await shell("example.test/img" + i + ":1");
    await idle(i % 2 ? 2500 : 3500);
  }
  return log;
})(${rounds})`);
console.log(r.join("\n"));
await ctx.close(); await server.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0);
