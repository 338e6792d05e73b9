/**
 * The playground (web/, `npm run build:web`) end to end in Debian's
 * Chromium: served by a plain static server (no special headers), typed into
 * like a visitor would, answers read from the terminal (xterm's buffer).
 * One page is reused (one guest boot for the file), in a browser profile on
 * disk as a visitor's (OPFS and the caches on disk, not a private window's);
 * screenshots go to test-artifacts/web/ (gitignored).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { packageRoot } from "../src/package-root.js";
import { dockerArchive } from "./helpers/archives.js";
import { chromiumSkip, launchChromiumProfile, serveStatic, type StaticServer } from "./helpers/browser.js";
import { vmSkip } from "./helpers/vm.js";
import { skopeoCopy, startRegistry } from "./helpers/registry.js";
import { loadVmImages } from "../src/backends/vm/node/images.js";

const ARTIFACTS = join(packageRoot(), "test-artifacts", "web");
/** The shell's prompt at the end of the terminal (root's `#`, a user's `$`). */
const PROMPT = /[#$] *$/;

describe("the playground in Chromium", { skip: chromiumSkip || vmSkip }, () => {
  let server: StaticServer;
  let profile: string;
  let context: BrowserContext;
  let page: Page;
  const errors: string[] = [];

  /** The terminal's text (its whole buffer, trailing blanks dropped). */
  const screen = () =>
    page.evaluate(() => {
      const b = (globalThis as any).playground.term.buffer.active;
      const lines: string[] = [];
      for (let i = 0; i < b.length; i++) lines.push(b.getLine(i).translateToString(true));
      return lines.join("\n").replace(/\n+$/, "");
    });
  /** Waits until the terminal shows `re` (after `from` characters), returning the text. */
  const waitFor = async (re: RegExp, from = 0, ms = 60_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const text = (await screen()).slice(from);
      if (re.test(text)) return text;
      if (Date.now() > end) throw new Error(`the terminal never showed ${re}; it shows:\n${text}\n(page errors: ${errors.join("; ")})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  /** Types a command line and waits for the next prompt; returns what it printed. */
  const type = async (line: string) => {
    const from = (await screen()).length;
    await page.keyboard.type(line + "\n");
    return waitFor(PROMPT, from + line.length);
  };
  /** Clicks "new container" and waits until the terminal shows that container (the one attached before may still be running). */
  const runNew = async () => {
    const before = await page.evaluate(() => (globalThis as any).playground.state.attached?.container.id as string | undefined);
    await page.click("#run");
    await page.waitForFunction((id) => {
      const c = (globalThis as any).playground.state.attached?.container;
      return c !== undefined && c.id !== id && c.running;
    }, before, { timeout: 60_000 });
  };
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
  const ready = () => page.waitForFunction(() => (globalThis as any).playground?.state.attached !== undefined, null, { timeout: 180_000 });

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    execFileSync(process.execPath, [join(packageRoot(), "scripts", "build-web.mjs")], { stdio: "inherit" });
    server = await serveStatic({ "/": join(packageRoot(), "dist", "web") });
    profile = mkdtempSync(join(tmpdir(), "tsbox-web-profile-"));
    context = await launchChromiumProfile(profile, { width: 1200, height: 700 });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
    // A first visit: nothing stored yet.
    await page.goto(`${server.url}/index.html`);
    await page.evaluate(() => (globalThis as any).playground.rt.clearStorage());
    await page.reload();
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
    await server?.close();
  });

  it("shows progress while the guest starts, then a shell prompt in the terminal", async (t) => {
    const t0 = Date.now();
    await ready();
    await waitFor(PROMPT);
    t.diagnostic(`page load → prompt ${Date.now() - t0} ms (start: ${await page.evaluate(() => (globalThis as any).playground.state.start)})`);
    assert.match(await page.textContent("#progress-text") ?? "", /^ready \(/);
    // A first visit's shell is the one the served snapshot holds running (web/snapshot.ts).
    const served = JSON.parse(readFileSync(join(packageRoot(), "dist", "web", "guest", "snapshot.state.json"), "utf8")) as { standby?: { cid: string } };
    assert.equal(await page.evaluate(() => (globalThis as any).playground.state.attached.container.id), served.standby?.cid);
    await shot("1-prompt");
  });

  it("answers what is typed: echo, hostname, PID 1's name, the machine", async () => {
    await page.click("#terminal");
    const out = await type("echo hello; hostname; cat /proc/1/comm; uname -m");
    const id: string = await page.evaluate(() => (globalThis as any).playground.state.attached.container.id);
    const lines = out.split("\n").map((l) => l.trim());
    assert.ok(lines.includes("hello"), out);
    assert.ok(lines.includes(id.slice(0, 12)), out);
    assert.ok(lines.includes("sh"), out);
    assert.ok(lines.includes("i686"), out);
    await shot("2-typed");
  });

  it("resizes the container's pty with the window", async () => {
    await page.setViewportSize({ width: 900, height: 500 });
    await shot("2b-resized");
    await page.waitForFunction(() => (globalThis as any).playground.term.cols < 80);
    const { cols, rows } = await page.evaluate(() => ({ cols: (globalThis as any).playground.term.cols, rows: (globalThis as any).playground.term.rows }));
    const out = await type("stty size");
    assert.match(out, new RegExp(`^${rows} ${cols}$`, "m"));
    await page.setViewportSize({ width: 1200, height: 700 });
  });

  it("stacks the terminal over the panel at a phone's width, the terminal the page's width", async () => {
    await page.setViewportSize({ width: 375, height: 700 });
    try {
      await page.waitForFunction(() => (globalThis as any).playground.term.cols >= 30);
      const box = async (sel: string) => (await page.locator(sel).boundingBox())!;
      const [terminal, aside] = [await box("#terminal"), await box("aside")];
      await shot("2c-phone");
      // Before: the panel kept its 19em beside a 59 px terminal (5 columns).
      assert.ok(terminal.width > 300, `terminal ${terminal.width} px wide`);
      assert.ok(aside.y >= terminal.y + terminal.height, `panel at y ${aside.y}, terminal ends at ${terminal.y + terminal.height}`);
      const { cols, rows } = await page.evaluate(() => ({ cols: (globalThis as any).playground.term.cols, rows: (globalThis as any).playground.term.rows }));
      assert.match(await type("stty size"), new RegExp(`^${rows} ${cols}$`, "m"));
    } finally {
      await page.setViewportSize({ width: 1200, height: 700 });
    }
  });

  it("takes a pasted block into the shell, and a Ctrl-C during a long paste flushes the rest of it, as a terminal's ^C does", async (t) => {
    /** A paste as a menu's arrives: one paste event on xterm's textarea. */
    const paste = (text: string) =>
      page.evaluate((text) => {
        const area = document.querySelector(".xterm-helper-textarea")!;
        const data = new DataTransfer();
        data.setData("text/plain", text);
        area.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
      }, text);
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i} ${"x".repeat(60)}`).join("\n");
    await page.click("#terminal");
    let from = (await screen()).length;
    const t0 = Date.now();
    await paste(`cat > /tmp/pasted <<'EOF'\n${lines(50)}\nEOF\nwc -l < /tmp/pasted\n`);
    assert.match(await waitFor(/^50$/m, from), /^50$/m);
    t.diagnostic(`a 50-line heredoc (${50 * 69} bytes) pasted into sh: ${Date.now() - t0} ms`);
    // 1500 lines (~100 KB) into cat (a canonical terminal, ISIG on), Ctrl-C right behind them: before, the ^C waited
    // behind the whole paste, which cat then had in full; now the input before it is flushed, as a terminal's ^C
    // flushes its queue. (sh's own line editor turns ISIG off and reads ^C as a key, in order, as on any terminal.)
    await waitFor(PROMPT, from);
    await page.keyboard.type("cat > /tmp/cut\n");
    await paste(`${lines(1500)}\n`);
    from = (await screen()).length;
    await page.keyboard.press("Control+C");
    // What is typed before the shell's prompt is back goes with the dying cat's terminal settings, as on any terminal.
    await waitFor(PROMPT, from);
    const out = await type("echo after-$((3+4)); wc -l < /tmp/cut");
    assert.match(out, /^after-7$/m);
    const kept = Number(/^(\d+)$/m.exec(out.slice(out.indexOf("after-7")))?.[1]);
    t.diagnostic(`cat had ${kept} of 1500 pasted lines at the ^C`);
    assert.ok(kept < 1500, `cat got ${kept} lines: the paste was not flushed`);
  });

  it("runs a fresh container that does not see another's files, and execs into it", async () => {
    await type("echo secret > /tmp/mark; cat /tmp/mark");
    await runNew();
    await waitFor(PROMPT);
    await page.click("#terminal");
    const fresh = await type("ls /tmp/mark; echo mine > /tmp/own");
    assert.match(fresh, /No such file or directory/);
    await page.click("#exec");
    await waitFor(/\(exec\)/);
    await page.click("#terminal");
    const exec = await type("cat /tmp/own; echo $$");
    assert.match(exec, /^mine$/m);
    await shot("3-exec");
  });

  it("switches back from an exec'd shell to the container's own, and to another container, by clicking the list: each keeps its terminal", async () => {
    // The exec'd shell is shown; the list's attached entry is its container: its own shell (PID 1) comes back.
    await page.click("#containers li.attached");
    await page.click("#terminal");
    assert.match(await type("echo back-$((40+2)) pid-$$"), /^back-42 pid-1$/m);
    // Clicking the one shown again changes nothing.
    await page.click("#containers li.attached");
    await page.click("#terminal");
    assert.match(await type("cat /tmp/own"), /^mine$/m);
    // The first container, still running: its shell and its files.
    await page.click("#containers li:not(.attached)");
    await page.click("#terminal");
    assert.match(await type("cat /tmp/mark"), /^secret$/m);
    await page.click("#containers li:not(.attached)");
    await page.click("#terminal");
    assert.match(await type("echo $$; ls /tmp/own"), /^1$[\s\S]*\/tmp\/own$/m);
    // An exec'd shell that exits gives the terminal back to the container's own shell (before: it stayed on the
    // ended process, and typing went nowhere).
    await page.click("#exec");
    await waitFor(/\(exec\)/);
    await page.click("#terminal");
    await page.keyboard.type("exit\n");
    await page.waitForFunction(() => /exec'd shell exited \(code 0\): back to container/.test(document.getElementById("status")!.textContent ?? ""), null, { timeout: 30_000 });
    await page.click("#terminal");
    assert.match(await type("echo again-$$"), /^again-1$/m);
    assert.deepEqual(errors, []);
  });

  it("shows the container's CPU, memory and pids", async () => {
    await page.waitForFunction(() => /^\d+$/.test(document.getElementById("stat-pids")!.textContent ?? ""), null, { timeout: 30_000 });
    assert.match((await page.textContent("#stat-mem")) ?? "", /MiB/);
    await page.waitForFunction(() => /%$/.test(document.getElementById("stat-cpu")!.textContent ?? ""), null, { timeout: 30_000 });
  });

  it("stops the container", async () => {
    await page.click("#stop");
    await page.waitForFunction(() => /stopped \(exit code/.test(document.getElementById("status")!.textContent ?? ""), null, { timeout: 30_000 });
    assert.equal(await page.isDisabled("#exec"), true);
  });

  it("runs a dropped docker save archive", async () => {
    const archive = dockerArchive("example.test/dropped:1", "386", ["FROM_ARCHIVE=yes"]).toString("base64");
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], "dropped.tar", { type: "application/x-tar" }));
      document.getElementById("drop")!.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, archive);
    await page.waitForFunction(() => /loaded example\.test\/dropped:1/.test(document.getElementById("status")!.textContent ?? ""), null, { timeout: 60_000 });
    assert.equal(await page.inputValue("#image"), "example.test/dropped:1");
    await runNew();
    await waitFor(PROMPT);
    await page.click("#terminal");
    assert.match(await type("echo archive=$FROM_ARCHIVE"), /^archive=yes$/m);
    await shot("4-archive");
  });

  it("pulls an image named in the image box from a registry that allows the page (CORS) and runs it", async () => {
    const registry = await startRegistry({ cors: true });
    try {
      await skopeoCopy(`oci:${join(loadVmImages().dir, "images", "busybox")}`, `docker://${registry.host}/tools/pulled:1`);
      await page.fill("#layout-url", `${registry.host}/tools/pulled:1`);
      await page.press("#layout-url", "Enter");
      await page.waitForFunction(() => /^pulled /.test(document.getElementById("status")!.textContent ?? ""), null, { timeout: 60_000 });
      assert.equal(await page.inputValue("#image"), `${registry.host}/tools/pulled:1`);
      await runNew();
      await waitFor(PROMPT);
      await page.click("#terminal");
      assert.match(await type("cat /proc/1/comm"), /^sh$/m);
      await shot("4b-pulled");
    } finally {
      await registry.stop();
    }
  });

  it("after a reload, lists the loaded image and starts from the state this browser saved, its shell already running", async (t) => {
    // The first visit stores a state with a shell started ahead (the Runtime's `standby`).
    await page.waitForFunction(() => (globalThis as any).playground.state.standbySaved, null, { timeout: 120_000 });
    const attachedId = () => page.evaluate(() => (globalThis as any).playground.state.attached.container.id as string);
    const t0 = Date.now();
    await page.reload();
    await ready();
    await waitFor(PROMPT);
    t.diagnostic(`returning visit: page load → prompt ${Date.now() - t0} ms`);
    assert.equal(await page.evaluate(() => (globalThis as any).playground.state.start), "stored");
    // The prompt (a shell taken running) can come before the image list.
    await page.waitForFunction(() => document.querySelectorAll("#image option").length > 1, null, { timeout: 30_000 }).catch(() => {});
    const options = await page.$$eval("#image option", (os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.ok(options.includes("example.test/dropped:1"), `image list: ${options.join(",")}`);
    await shot("5-reloaded");
    await page.click("#terminal");
    const first = await attachedId();
    assert.match(await type("echo kept > /tmp/kept; echo ok-$(cat /tmp/kept)"), /^ok-kept$/m);

    // The next visit gets the same saved shell, as it was saved: nothing of the last visit's.
    await page.reload();
    await ready();
    await waitFor(PROMPT);
    assert.equal(await attachedId(), first, "the shell is the stored standby, restored");
    await page.click("#terminal");
    assert.match(await type("ls /tmp/kept; echo hello"), /No such file or directory[\s\S]*^hello$/m);
  });

  it("a guest that cannot start says why where the progress was, and its buttons are off", async () => {
    // The same files but v86.wasm (a deploy that forgot it): its own origin, so nothing of the other page's state helps.
    const broken = await serveStatic({ "/v86.wasm": join(profile, "no-such-dir"), "/": join(packageRoot(), "dist", "web") });
    const other = await context.newPage();
    try {
      await other.goto(`${broken.url}/index.html`);
      await other.waitForFunction(() => document.getElementById("progress")?.classList.contains("failed"), null, { timeout: 60_000 });
      const shown = await other.evaluate(() => ({
        text: document.getElementById("progress-text")!.textContent,
        run: (document.getElementById("run") as HTMLButtonElement).disabled,
      }));
      assert.match(shown.text ?? "", /^the guest did not start: .*v86\.wasm.*404/);
      assert.equal(shown.run, true, "Run shell is off");
      await other.screenshot({ path: join(ARTIFACTS, "failed-start.png") });
    } finally {
      await other.close();
      await broken.close();
    }
  });

  it("clears the saved data with its button", async () => {
    await page.click("#clear");
    await page.waitForFunction(() => /cleared/.test(document.getElementById("status")!.textContent ?? ""), null, { timeout: 30_000 });
    await page.reload();
    await ready();
    assert.notEqual(await page.evaluate(() => (globalThis as any).playground.state.start), "stored");
    await page.waitForFunction(() => document.querySelectorAll("#image option").length > 0, null, { timeout: 30_000 });
    const options = await page.$$eval("#image option", (os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(options, ["busybox:latest"]);
    assert.deepEqual(errors, []);
  });
});
