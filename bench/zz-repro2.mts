import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchChromiumProfile, serveStatic } from "../test/helpers/browser.js";
import { dockerArchive } from "../test/helpers/archives.js";
const server = await serveStatic({ "/": "/work/main/dist/web" });
const url = `${server.url}/index.html`;
const dir = mkdtempSync(join(tmpdir(), "chr-"));
const ctx = await launchChromiumProfile(dir);
const page = await ctx.newPage();
page.on("console", (m: any) => console.log("page:", m.text()));
await page.goto(url);
await page.waitForFunction(() => (globalThis as any).playground?.state.attached !== undefined, null, { timeout: 180000 });
const archive = dockerArchive("example.test/dropped:1", "386", ["FROM_ARCHIVE=yes"]).toString("base64");
const rounds = Number(process.argv[2] ?? 4);
const r = await page.evaluate(`(async (rounds, b64) => {
  const rt = globalThis.playground.rt; const log = [];
  const idle = (ms) => new Promise((r) => setTimeout(r, ms));
  await rt.load(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
  const shell = async (image, say) => {
    const c = await rt.run({ image, cmd: ["sh"], tty: { cols: 80, rows: 24 }, stdin: true, env: { PS1: "P$ " } });
    let text = "";
    const dec = new TextDecoder();
    (async () => { for await (const ch of c.stdout) text += dec.decode(ch); })();
    const until = async (re, ms) => { const end = performance.now() + ms; while (!re.test(text)) { if (performance.now() > end) return false; await idle(50); } return true; };
    const prompt = await until(/P\\$ $/, 20000);
    const w = c.stdin.getWriter();
    await w.write(new TextEncoder().encode("echo " + say + "\\n"));
    w.releaseLock();
    const answered = await until(new RegExp(say + "\\\\r\\\\nP"), 15000);
    return { prompt, answered, text: JSON.stringify(text.slice(-200)) };
  };
  for (let i = 0; i < rounds; i++) {
    const a = await shell("example.test/dropped:1", "aa" + i);
    await idle(1000 + Math.random() * 2500);
    await rt.loadLayout("/guest/images/busybox", "example.test/img" + i + ":1");
    const b = await shell("example.test/img" + i + ":1", "bb" + i);
    log.push(i + " A " + a.prompt + "/" + a.answered + " B " + b.prompt + "/" + b.answered + (b.answered ? "" : " " + b.text));
  }
  return log;
})(${rounds}, "${archive}")`);
console.log((r as string[]).join("\n"));
await ctx.close(); await server.close(); rmSync(dir, { recursive: true, force: true }); process.exit(0);
