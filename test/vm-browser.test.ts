/**
 * The vm backend in a browser: the v86 guest in a Web Worker of real
 * Chromium, the image's root unpacked into an in-memory 9p file system.
 * Without a guest: the 9p server over MemoryFs (path safety, read-only
 * exports, xattrs) and the in-memory image root (whiteouts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { openBrowserStore } from "../src/backends/vm/browser/browser-store.js";
import { GUEST_FILE_OWNER, guestIdOf } from "../src/backends/vm/browser/container-spec.js";
import { buildImageRoot } from "../src/backends/vm/browser/image-root.js";
import { ImageRoots } from "../src/backends/vm/browser/image-roots.js";
import { stateFilesDir } from "../src/backends/vm/browser/state-files.js";
import { heldOutput, requestedSize, type StandbyRecord, standbyFromJson, standbyKey, standbyToJson } from "../src/backends/vm/browser/standby.js";
import { WorkerLink } from "../src/backends/vm/browser/worker-link.js";
import { loadVmImages } from "../src/backends/vm/node/images.js";
import { DEFAULT_CONFIG, machineFingerprint } from "../src/backends/vm/node/machine.js";
import { MemoryFs } from "../src/backends/vm/core/p9/memory-fs.js";
import { O } from "../src/backends/vm/core/p9/fs.js";
import { P9Server } from "../src/backends/vm/core/p9/server.js";
import { loadSnapshot, packagedSnapshotPath } from "../src/backends/vm/node/snapshot.js";
import { TarWriter } from "../src/image/tar-writer.js";
import { dockerArchive, ociArchive } from "./helpers/archives.js";
import { bundleBrowser, chromiumSkip, launchChromium, serveStatic, serveVmPage, type StartResult, type StaticServer, VmPage } from "./helpers/browser.js";
import { vmSkip } from "./helpers/vm.js";
import { EMBEDDED_BUSYBOX } from "./helpers/images.js";
import { skopeoCopy, startRegistry } from "./helpers/registry.js";
import { p9Client as client } from "./helpers/p9-client.js";
import { packageRoot } from "../src/package-root.js";

// ---- no guest -----------------------------------------------------------

function memoryFile(fs: MemoryFs, path: string, text: string): void {
  const fd = fs.open(path, O.WRONLY | O.CREAT | O.EXCL, 0o644);
  fs.write(fd, new TextEncoder().encode(text), 0);
  fs.close(fd);
}

describe("9p over an in-memory file system (no guest)", () => {
  const ENOENT = 2;
  const EBADF = 9;
  const EACCES = 13;
  const ESTALE = 116;
  const EROFS = 30;
  const ENODATA = 61;

  const setup = () => {
    const fs = new MemoryFs();
    for (const d of ["/rw", "/ro", "/outside"]) fs.mkdir(d, 0o755);
    memoryFile(fs, "/rw/hello", "hello from memory\n");
    memoryFile(fs, "/ro/file", "read only\n");
    memoryFile(fs, "/outside/secret", "not exported\n");
    fs.symlink("/outside/secret", "/rw/escape");
    fs.symlink("../outside", "/rw/up");
    fs.setxattr("/rw/hello", "user.note", new TextEncoder().encode("kept"));
    const server = new P9Server(fs);
    server.addExport("rw", { path: "/rw", readonly: false });
    server.addExport("ro", { path: "/ro", readonly: true });
    return { fs, server, c: client(server) };
  };

  it("serves files, and writes the guest makes land in the tree", () => {
    const { fs, c } = setup();
    const hello = c.walk("rw", "hello");
    c.open(hello);
    assert.equal(c.read(hello), "hello from memory\n");
    const dir = c.walk("rw");
    c.create(dir, "new");
    assert.deepEqual(fs.readdir("/rw").sort(), ["escape", "hello", "new", "up"]);
  });

  it("reopens, after a restore, what a fid held open when the state was saved (once its export is served again)", () => {
    const { fs, server, c } = setup();
    const hello = c.walk("rw", "hello");
    c.open(hello);
    const unopened = c.walk("rw", "hello");
    // A restore: the fids come back holding nothing; a read fails until the export is served again.
    const restored = new P9Server(fs);
    restored.loadState(JSON.parse(JSON.stringify(server.saveState())));
    const r = client(restored, 65536, { attached: true });
    assert.equal(r.errno(() => r.read(hello)), ESTALE);
    restored.addExport("rw", { path: "/rw", readonly: false });
    assert.equal(r.read(hello), "hello from memory\n");
    assert.equal(r.errno(() => r.read(unopened)), EBADF, "a fid that was never opened reads nothing");
  });

  it("never follows a symlink out of an export, nor walks through one or past a missing name", () => {
    const { c } = setup();
    const escape = c.walk("rw", "escape");
    assert.equal(c.errno(() => c.open(escape)), EACCES);
    // A walk never goes through a symlink: the guest resolves links itself.
    assert.throws(() => c.walk("rw", "up", "secret"), /walk stopped after 2 of 3/);
    assert.throws(() => c.walk("rw", "missing"), /walk stopped after 1 of 2/);
    assert.equal(c.errno(() => c.walk("no-such-export")), ENOENT);
  });

  it("refuses changes to a read-only export with EROFS", () => {
    const { c } = setup();
    const dir = c.walk("ro");
    assert.equal(c.errno(() => c.create(dir, "x")), EROFS);
    assert.equal(c.errno(() => c.open(c.walk("ro", "file"), O.WRONLY)), EROFS);
  });

  it("answers xattrs from the tree (names, values, ENODATA)", () => {
    const { c } = setup();
    const hello = c.walk("rw", "hello");
    assert.equal(c.xattr(hello, "user.note"), "kept");
    assert.equal(c.xattr(hello, ""), "user.note\0");
    assert.equal(c.errno(() => c.xattr(hello, "user.none")), ENODATA);
  });

  it("builds an image root from layers, applying whiteouts and refusing escapes", async () => {
    const layer = (entries: Parameters<TarWriter["add"]>[0][]) => {
      const t = new TarWriter();
      for (const e of entries) t.add(e);
      return new Uint8Array(gzipSync(t.finish()));
    };
    const file = (path: string, text: string) => ({ path, type: "file" as const, mode: 0o644, mtime: 1000, data: Buffer.from(text) });
    const dir = (path: string) => ({ path, type: "directory" as const, mode: 0o755, mtime: 1000 });
    const lower = layer([dir("etc/"), file("etc/keep", "k"), file("etc/gone", "g"), dir("opaque/"), file("opaque/old", "o"), { path: "lib", type: "symlink", mode: 0o777, mtime: 1, linkname: "usr/lib" }, { ...dir("home/app/"), uid: 1000, gid: 1000, mode: 0o700 }, { ...file("home/app/su", "s"), mode: 0o4755, gid: 50 }]);
    const upper = layer([file("etc/.wh.gone", ""), dir("opaque/"), file("opaque/.wh..wh..opq", ""), file("opaque/new", "n"), file("lib/real", "replaces the lower symlink")]);
    const fs = new MemoryFs();
    await buildImageRoot(fs, "/img", [lower, upper], guestIdOf);
    assert.deepEqual(fs.readdir("/img/etc"), ["keep"]);
    // The image's owners, as container ids on the guest's (container-spec.ts: container 0 = GUEST_FILE_OWNER).
    const owner = (path: string) => ((st) => [st.uid, st.gid, st.mode & 0o7777])(fs.lstat(path));
    assert.deepEqual(owner("/img/home/app"), [GUEST_FILE_OWNER + 1000, GUEST_FILE_OWNER + 1000, 0o700]);
    assert.deepEqual(owner("/img/home/app/su"), [GUEST_FILE_OWNER, GUEST_FILE_OWNER + 50, 0o4755]);
    assert.deepEqual(owner("/img/etc/keep"), [GUEST_FILE_OWNER, GUEST_FILE_OWNER, 0o644]);
    assert.deepEqual(fs.readdir("/img/opaque"), ["new"]);
    assert.deepEqual(fs.readdir("/img/lib"), ["real"]);

    const escape = layer([{ path: "link", type: "symlink", mode: 0o777, mtime: 1, linkname: "/outside" }, file("link/x", "through the link")]);
    await assert.rejects(buildImageRoot(new MemoryFs(), "/img", [escape], guestIdOf), /refusing to write link\/x through link/);
    await assert.rejects(buildImageRoot(new MemoryFs(), "/img", [layer([file("../x", "up")])], guestIdOf), /escapes the layer root/);
  });

  it("matches a run to the standby started for the same options, whatever its terminal size", () => {
    const shell = { image: "busybox", cmd: ["sh"], stdin: true, env: { PS1: "$ " }, tty: { cols: 80, rows: 24 } };
    const key = standbyKey(shell);
    assert.equal(standbyKey({ tty: { cols: 132, rows: 50 }, env: { PS1: "$ " }, stdin: true, cmd: ["sh"], image: "docker.io/library/busybox:latest" }), key);
    assert.notEqual(standbyKey({ ...shell, cmd: ["ash"] }), key);
    assert.notEqual(standbyKey({ ...shell, tty: false }), key);
    assert.notEqual(standbyKey({ ...shell, image: "busybox:1.36" }), key);
    assert.notEqual(standbyKey({ ...shell, user: "1000" }), key);
    assert.deepEqual(requestedSize(shell), { cols: 80, rows: 24 });
    assert.equal(requestedSize({ ...shell, tty: true }), null);
  });

  it("keeps a standby's held output with its streams through the served sidecar's JSON; an older untagged output reads as stdout, as it was replayed", () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    const record: StandbyRecord = {
      key: "k",
      cid: "a".repeat(64),
      pid: 7,
      image: { name: "docker.io/library/busybox:latest", manifestDigest: "sha256:x" },
      imageRoot: "/images/x",
      spec: { process: { terminal: false } } as StandbyRecord["spec"],
      exports: [],
      channels: { stdin: null, stdout: 3, stderr: 4 },
      size: null,
      output: [
        { stream: "stderr", data: bytes("to-stderr\n") },
        { stream: "stdout", data: bytes("to-stdout\n") },
      ],
    };
    const back = standbyFromJson(JSON.parse(JSON.stringify(standbyToJson(record))));
    assert.deepEqual(back?.output, record.output);
    // A sidecar or stored record written before the streams were kept: one run of bytes, stdout's.
    const old = standbyFromJson({ ...standbyToJson(record), output: btoa("old\n") });
    assert.deepEqual(heldOutput(old!.output), [{ stream: "stdout", data: bytes("old\n") }]);
    assert.deepEqual(heldOutput(new Uint8Array(0)), []);
  });

  it("numbers a restored guest's link on from the saved session: no request id or channel of it is reused", () => {
    const saved = new WorkerLink({ send: () => {} });
    void saved.request("ping", {}, 10).catch(() => {});
    const kept = saved.openOutput(() => {});
    const numbering = saved.numbering();
    assert.deepEqual(numbering, { nextId: 2, nextChannel: 2 });
    const restored = new WorkerLink({ send: () => {} });
    restored.continueNumbering(numbering);
    // The kept container's channel is registered under its own number; new ones come after it.
    assert.equal(restored.openOutput(() => {}, kept.channel).channel, kept.channel);
    assert.equal(restored.openInput().channel, 2);
    assert.equal(restored.numbering().nextId, 2);
    saved.close(new Error("done"));
    restored.close(new Error("done"));
  });

  it("imports the embedded busybox once when two lookups overlap (a standby's and the warm-up's), and knows its digest without importing it", { skip: vmSkip }, async () => {
    const layout = await serveStatic({ "/": join(loadVmImages().dir, "images", "busybox") });
    try {
      const images = new ImageRoots(new MemoryFs(), await openBrowserStore(null), `${layout.url}/`);
      const [a, b] = await Promise.all([images.image("busybox"), images.image("docker.io/library/busybox:latest")]);
      assert.equal(a.manifestDigest, b.manifestDigest);
      assert.equal(layout.served.filter((p) => p === "/index.json").length, 1, layout.served.join(" "));
      await images.image("busybox");
      assert.equal(layout.served.filter((p) => p === "/index.json").length, 1, "once stored, it is not fetched again");
      assert.equal(await images.manifestDigest("busybox"), a.manifestDigest);

      // A restored standby's check: the digest from the layout's index alone, nothing imported.
      const fresh = new ImageRoots(new MemoryFs(), await openBrowserStore(null), `${layout.url}/`);
      const before = layout.served.length;
      assert.equal(await fresh.manifestDigest("busybox"), a.manifestDigest);
      assert.deepEqual(layout.served.slice(before), ["/index.json"]);
    } finally {
      await layout.close();
    }
  });
});

// ---- in Chromium ----------------------------------------------------------

describe("vm backend in a browser Worker (Chromium)", { skip: chromiumSkip || vmSkip }, () => {
  let server: StaticServer;
  let browser: Browser;
  let vm: VmPage;
  let coldBoot: StartResult;

  before(async () => {
    bundleBrowser();
    server = await serveVmPage();
    browser = await launchChromium();
    vm = await VmPage.open(browser, server);
    // Cold, nothing stored: the boot path a first visit without a snapshot takes.
    coldBoot = await vm.boot({ storage: false, files: { snapshot: { state: "/none", meta: "/none" } } });
    assert.ok(coldBoot.ok, `${coldBoot.error} (page: ${vm.errors.join("; ")})`);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  it("reports boot progress: loading with byte counts, booting, ready", () => {
    const phases = coldBoot.events.map((e) => e.phase);
    assert.equal(phases[0], "loading");
    assert.ok(phases.includes("booting"), phases.join(","));
    assert.equal(phases.at(-1), "ready");
    const lastLoad = coldBoot.events.filter((e) => e.phase === "loading").at(-1)!;
    assert.ok(lastLoad.total! > 4_000_000 && lastLoad.loaded === lastLoad.total, JSON.stringify(lastLoad));
    assert.equal(coldBoot.events.at(-1)!.start, "cold");
    assert.match(coldBoot.notices.join("\n"), /vm snapshot is not usable: its sidecar cannot be read/);
  });

  it("runs a container: run resolves once it runs, output() has stdout, stderr and the exit code", async (t) => {
    const r = await vm.eval(`
      const t0 = performance.now();
      const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo hello from the browser; echo err >&2; exit 3"] });
      const running = c.running, pid = c.pid, id = c.id;
      const out = await c.output();
      return { ...out, running, pid, id, ms: since(t0), streams: c.stdout instanceof ReadableStream && c.stdin === null };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual([r.exitCode, r.stdout, r.stderr], [3, "hello from the browser\n", "err\n"]);
    assert.equal(r.running, true);
    assert.ok(r.pid > 0 && /^[0-9a-f]{64}$/.test(r.id), JSON.stringify(r));
    assert.equal(r.streams, true);
    t.diagnostic(`cold boot ${coldBoot.ms} ms, then a container start to exit ${r.ms} ms`);
  });

  it("runs under the README's Content-Security-Policy, and names the fix at once when worker-src lacks blob: or script-src 'wasm-unsafe-eval'", async () => {
    const script = `import { Runtime } from "/dist/tsbox.js";
const rt = new Runtime({ assets: "/dist/", storage: false });
try { const c = await rt.run({ image: "busybox", cmd: ["echo", "under csp"] }); window.result = { out: (await c.output()).stdout }; }
catch (e) { window.result = { error: e.message }; }
rt.terminate();`;
    const pages = { "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/csp.js"></script>', "/csp.js": script };
    const results: { out?: string; error?: string; ms: number }[] = [];
    for (const [scripts, workers] of [["'self' 'wasm-unsafe-eval'", "'self' blob:"], ["'self' 'wasm-unsafe-eval'", "'self'"], ["'self'", "'self' blob:"]]) {
      const csp = `default-src 'self'; script-src ${scripts}; worker-src ${workers}`;
      const site = await serveStatic({ "/dist/": join(packageRoot(), "dist", "browser") }, pages, { "content-security-policy": csp });
      const page = await browser.newPage();
      try {
        const t0 = Date.now();
        await page.goto(`${site.url}/`);
        await page.waitForFunction(() => (globalThis as { result?: unknown }).result !== undefined, null, { timeout: 120_000 });
        results.push({ ...(await page.evaluate(() => (globalThis as unknown as { result: { out?: string; error?: string } }).result)), ms: Date.now() - t0 });
      } finally {
        await page.close();
        await site.close();
      }
    }
    assert.equal(results[0]!.out, "under csp\n", JSON.stringify(results[0]));
    // Before, the guest stalled and a run failed ~20 s later with "the vm was shut down", naming no cause.
    assert.match(results[1]!.error ?? "", /Content-Security-Policy \(worker-src\) blocked the emulator's helper Worker \(a blob: URL\): allow it with worker-src 'self' blob:/);
    // The browser's own message names 'unsafe-eval' (far more than the emulator needs).
    assert.match(results[2]!.error ?? "", /Content-Security-Policy does not let the emulator compile WebAssembly: add 'wasm-unsafe-eval' to script-src/);
  });

  it("gives each visitor restored from the served snapshot random numbers of its own (the agent reseeds the CRNG)", async () => {
    // Before: three fresh windows read the same first 16 bytes of /dev/urandom (the snapshot's CRNG state, which an
    // initialised kernel rekeys only on its timer), predictable to anyone who downloads the snapshot.
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const visitor = await VmPage.open(browser, server);
      try {
        const booted = await visitor.boot({ storage: false, warmUp: "off" });
        assert.ok(booted.ok, booted.error);
        assert.equal(booted.events.at(-1)!.start, "snapshot", JSON.stringify(booted.events.at(-1)));
        const r = await visitor.eval(`return (await (await rt.run({ image: "busybox", remove: true, cmd: ["od", "-An", "-tx1", "-N16", "/dev/urandom"] })).output()).stdout.trim();`);
        assert.match(r, /^[0-9a-f ]{47}$/, JSON.stringify(r));
        seen.push(r);
      } finally {
        await visitor.close();
      }
    }
    assert.equal(new Set(seen).size, 3, seen.join("\n"));
  });

  it("runs the command as PID 1 of its own PID namespace, with its own hostname and /etc files", async () => {
    const r = await vm.eval(`const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo $$; hostname; ls /proc | grep -c '^[0-9]'; cat /etc/hostname; grep -c localhost /etc/hosts; ls /sys/class/net"], hostname: "in-a-browser" }); return c.output();`);
    assert.equal(r.exitCode, 0, r.stderr);
    const [pid, hostname, procs, etcHostname, localhost, nets] = r.stdout.trim().split("\n");
    assert.equal(pid, "1");
    assert.equal(hostname, "in-a-browser");
    assert.ok(Number(procs) <= 3, `sees ${procs} processes`);
    assert.equal(etcHostname, "in-a-browser");
    assert.ok(Number(localhost) >= 1, r.stdout);
    assert.equal(nets, "lo");
  });

  it("has loopback only: a client to a closed port there fails cleanly (exit 1, not a crash)", async () => {
    const r = await vm.eval(`const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "wget -q -O - http://localhost:1/; echo wget=$?; nc 127.0.0.1 1 </dev/null; echo nc=$?"] }); return c.output();`);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /wget=1\nnc=1\n/);
    assert.match(r.stderr, /Connection refused/);
  });

  it("gives every container a fresh writable layer", async () => {
    const r = await vm.eval(`
      const first = await (await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo secret > /tmp/left-behind && echo x >> /etc/passwd && cat /tmp/left-behind"] })).output();
      const second = await (await rt.run({ image: "busybox", cmd: ["sh", "-c", "test ! -e /tmp/left-behind && ! grep -qx x /etc/passwd && echo clean"] })).output();
      return { first, second };`);
    assert.equal(r.first.stdout, "secret\n", r.first.stderr);
    assert.equal(r.second.stdout, "clean\n", r.second.stderr);
  });

  it("passes stdin through a WritableStream (200 KB, with flow control) and streams output before the exit", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", cmd: ["wc", "-c"], stdin: true });
      const w = c.stdin.getWriter();
      for (let i = 0; i < 20; i++) await w.write(new TextEncoder().encode("0123456789".repeat(1000)));
      await w.close();
      const big = await c.output();
      const s = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo first; sleep 1; echo second"] });
      const t0 = performance.now(), times = [];
      let text = "";
      for await (const chunk of s.stdout) { times.push(since(t0)); text += new TextDecoder().decode(chunk); }
      return { big, text, times, exit: await s.wait(), total: since(t0) };`);
    assert.equal(r.big.stdout.trim(), "200000", JSON.stringify(r));
    assert.equal(r.text, "first\nsecond\n");
    assert.ok(r.times.length >= 2 && r.times[0] < r.total - 700, JSON.stringify(r));
    assert.deepEqual(r.exit, { exitCode: 0, signal: null, oomKilled: false });
  });

  it("refuses stdin that is not bytes or text: only that stream fails, the guest goes on", async () => {
    const r = await vm.eval(`
      const box = await rt.run({ image: "busybox", cmd: ["sleep", "60"] });
      const refused = await box.exec(["cat"], { stdin: 5 }).catch(failure);
      const cat = await box.spawn(["wc", "-c"]);
      const w = cat.stdin.getWriter();
      await w.write(new TextEncoder().encode("abc"));
      await w.write(new Uint16Array([1, 2]).buffer);
      const written = await w.write({ not: "bytes" }).then(() => "written", (e) => e.message);
      const out = await cat.output();
      const after = await box.exec(["echo", "still up"]);
      await box.kill();
      return { refused, written, out, after };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    // Before, the value reached the Worker, whose link to the guest broke ("head.data.subarray is not a function").
    assert.equal(r.refused.message, "exec options: stdin: expected a string or a Uint8Array, got number 5");
    assert.equal(r.written, "stdin takes Uint8Array chunks (or strings), not an object");
    assert.deepEqual([r.out.exitCode, r.out.stdout.trim()], [0, "7"]);
    assert.equal(r.after.stdout, "still up\n");
  });

  it("iterates output with for await where the browser's ReadableStream cannot (Safari), and leaving the loop early cancels the stream", async () => {
    const r = await vm.eval(`
      const proto = ReadableStream.prototype, native = Object.getOwnPropertyDescriptor(proto, Symbol.asyncIterator);
      delete proto[Symbol.asyncIterator];
      try {
        const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo one; echo two"] });
        let text = "";
        for await (const chunk of c.stdout) text += new TextDecoder().decode(chunk);
        const early = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo a; sleep 1; echo b"] });
        for await (const chunk of early.stdout) break;
        const after = await early.stdout.getReader().read();
        return { text, cancelled: after.done, early: await early.wait() };
      } finally {
        Object.defineProperty(proto, Symbol.asyncIterator, native);
      }`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.text, "one\ntwo\n");
    assert.equal(r.cancelled, true);
    // Its later `echo b` met the closed pipe (as natively: "sh: write error: Broken pipe", exit 1).
    assert.equal(r.early.exitCode, 1);
  });

  it("a cancelled output stream closes the process's pipe: it ends by EPIPE or SIGPIPE, as the Node library's destroyed stream and a child process's", async () => {
    const r = await vm.eval(`
      const firstThenCancel = async (stream) => {
        const reader = stream.getReader();
        const { value } = await reader.read();
        await reader.cancel();
        return new TextDecoder().decode(value).slice(0, 2);
      };
      const c = await rt.run({ image: "busybox", cmd: ["yes"] });
      const initSaw = await firstThenCancel(c.stdout);
      const init = await c.wait();
      const d = await rt.run({ image: "busybox", cmd: ["sleep", "600"] });
      const p = await d.spawn(["yes"]);
      const execSaw = await firstThenCancel(p.stdout);
      const exec = await p.wait();
      const left = (await d.exec(["ps", "-o", "args"])).stdout;
      await d.kill();
      return { initSaw, init, execSaw, exec, left };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    // Before, the process wrote on for ever into a stream nobody read (its bytes acked and dropped).
    assert.deepEqual([r.initSaw, r.init.exitCode], ["y\n", 1]); // PID 1: SIGPIPE is not for it, EPIPE ends it
    assert.deepEqual([r.execSaw, r.exec.exitCode, r.exec.signal], ["y\n", 141, "SIGPIPE"]);
    assert.doesNotMatch(r.left, /\byes\b/);
  });

  it("runs a container in a spare made while the guest was idle: the run's own command, environment, directory, user and terminal size; another kind gets its own, and no spare is left over", async () => {
    const r = await vm.eval(`
      const idle = () => new Promise((r) => setTimeout(r, 6000));
      const kind = { image: "busybox", stdin: false };
      await (await rt.run({ ...kind, cmd: ["true"] })).output();
      // The spare is made once the page's starts are done and its input has been quiet a while.
      await idle();
      const t0 = performance.now();
      const script = 'echo "$0 $(id -u) $(pwd) $FOO $(cat /proc/1/comm)"; cut -d" " -f1 /proc/uptime; cut -d" " -f22 /proc/1/stat';
      const spare = await (await rt.run({ ...kind, cmd: ["sh", "-c", script, "spare"], env: { FOO: "bar" }, workdir: "/made/here", user: "1000" })).output();
      const asked = since(t0) / 1000;
      await idle();
      const missing = await rt.run({ ...kind, cmd: ["no-such-command"] }).catch(failure);
      await idle();
      const again = await (await rt.run({ ...kind, cmd: ["sh", "-c", "ls /made 2>&1; id -u"] })).output();
      // A terminal of another size: the spare made for the last one's kind takes it.
      await (await rt.run({ image: "busybox", tty: { cols: 80, rows: 24 }, stdin: false, cmd: ["true"] })).output();
      await idle();
      const t1 = performance.now();
      const tty = await (await rt.run({ image: "busybox", tty: { cols: 100, rows: 30 }, stdin: false, cmd: ["sh", "-c", 'stty size; cut -d" " -f1 /proc/uptime; cut -d" " -f22 /proc/1/stat'] })).output();
      const ttyAsked = since(t1) / 1000;
      const other = await (await rt.run({ ...kind, hostname: "elsewhere", cmd: ["hostname"] })).output();
      await idle();
      const sleeper = await rt.run({ ...kind, cmd: ["sleep", "30"] });
      await idle();
      const stats = await sleeper.stats();
      await sleeper.kill("SIGKILL");
      await sleeper.wait();
      return { spare, asked, missing, again, tty, ttyAsked, other, containers: stats.guest.containers };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    // Its PID 1 was cloned before the run was asked for (USER_HZ 100): the spare's, set up ahead.
    const madeAhead = (uptime: string, started: string, asked: number) =>
      assert.ok(Number(started) / 100 < Number(uptime) - asked - 1, `PID 1 started at ${Number(started) / 100} s, the run asked at ${Number(uptime) - asked} s`);
    const [line, uptime, started] = r.spare.stdout.trim().split("\n");
    assert.equal(line, "spare 1000 /made/here bar sh", r.spare.stderr);
    assert.equal(r.spare.exitCode, 0);
    madeAhead(uptime, started, r.asked);
    // A command that is not there fails as in a container of its own.
    assert.equal(r.missing.exitCode, 127, JSON.stringify(r.missing));
    assert.match(r.missing.message, /no-such-command/);
    // The next spare is a new container: nothing of the last one's files, the image's user.
    assert.equal(r.again.stdout, "ls: /made: No such file or directory\n0\n");
    const [size, ttyUptime, ttyStarted] = r.tty.stdout.trim().split(/\r?\n/);
    assert.equal(size, "30 100");
    madeAhead(ttyUptime, ttyStarted, r.ttyAsked);
    assert.equal(r.other.stdout, "elsewhere\n");
    // The sleeper and one spare for the next run like it: the spare of the other kind was removed.
    assert.equal(r.containers, 2);
  });

  it("rejects run with exit code 127 for a missing command, and refuses what a page cannot do by name", async () => {
    const r = await vm.eval(`
      const outcome = async (fn) => { try { await fn(); return "ran"; } catch (e) { return failure(e); } };
      return {
        missing: await outcome(() => rt.run({ image: "busybox", cmd: ["no-such-command"] })),
        volumes: await outcome(() => rt.run({ image: "busybox", volumes: [{ host: "/x", container: "/x" }] })),
        inherit: await outcome(() => rt.run({ image: "busybox", stdout: "inherit" })),
        unknown: await outcome(() => rt.run({ image: "busybox", memory: "64m" })),
        noImage: await outcome(() => rt.run({ image: "alpine" })),
        dataDir: await outcome(() => new tsbox.Runtime({ dataDir: "/tmp" })),
        native: await outcome(() => new tsbox.Runtime({ backend: "native" })),
        badName: await outcome(() => rt.run({ image: "busybox", name: "no spaces" })),
        cmdString: await outcome(() => rt.run({ image: "busybox", cmd: "echo hi" })),
      };`);
    assert.equal(r.missing.exitCode, 127, JSON.stringify(r.missing));
    assert.match(r.missing.message, /no-such-command/);
    assert.match(r.volumes.message, /volumes are not supported in the browser/);
    assert.equal(r.volumes.name, "UsageError");
    assert.match(r.inherit.message, /stdio "inherit" is not supported in the browser/);
    assert.match(r.unknown.message, /run options: unknown option "memory"/);
    assert.equal(r.noImage.name, "ImageError");
    assert.match(r.noImage.message, /unable to find image alpine/);
    assert.match(r.dataDir.message, /IndexedDB/);
    assert.match(r.native.message, /only the vm backend runs there/);
    assert.equal(r.badName.name, "UsageError"); // docker's 400, as on Node
    // As on Node (before, the command "e": the string's first character).
    assert.equal(r.cmdString.message, 'run options: cmd: expected an array of strings, got the string "echo hi"');
  });

  it("runs as the image's users by name and number, with their home", async () => {
    const r = await vm.eval(`
      const as = async (user) => (await rt.run({ image: "busybox", user, cmd: ["sh", "-c", "id -u; id -g; echo $HOME"] })).output();
      return { nobody: await as("nobody"), numeric: await as("1000:1000"), missing: await as("nosuchuser").catch(failure) };`);
    assert.equal(r.nobody.stdout, "65534\n65534\n/home\n", JSON.stringify(r.nobody));
    assert.equal(r.numeric.stdout, "1000\n1000\n/\n", JSON.stringify(r.numeric));
    assert.match(r.missing.message, /unable to find user nosuchuser/);
  });

  it("gives a container a terminal that follows resize", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", cmd: ["sh"], tty: { cols: 100, rows: 30 }, stdin: true });
      const w = c.stdin.getWriter();
      let text = "";
      const reading = (async () => { for await (const ch of c.stdout) text += new TextDecoder().decode(ch); })();
      const until = async (re) => { for (let i = 0; i < 300 && !re.test(text); i++) await new Promise((r) => setTimeout(r, 50)); };
      await w.write(new TextEncoder().encode("stty size; tty; echo \\$TERM\\n"));
      await until(/\\n30 100\\r?\\n/);
      c.resize(132, 40);
      await w.write(new TextEncoder().encode("stty size; exit\\n"));
      await reading;
      return { text, stderr: c.stderr, exit: await c.wait() };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.text, /30 100/);
    assert.match(r.text, /40 132/);
    assert.match(r.text, /xterm/);
    assert.equal(r.stderr, null);
    assert.equal(r.exit.exitCode, 0);
  });

  it("loads OCI and docker archives into the browser's store and runs them by name; refuses another platform's", async () => {
    const archive = ociArchive("example.test/tools/box:1").toString("base64");
    const docker = dockerArchive("example.test/tools/old:2").toString("base64");
    const amd64 = dockerArchive("example.test/tools/wrong:1", "amd64").toString("base64");
    const r = await vm.eval(`
      const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const names = await rt.load(new Blob([bytes(arg.archive)]));
      const out = await (await rt.run({ image: "example.test/tools/box:1", cmd: ["echo", "from the archive"] })).output();
      const oldNames = await rt.load(bytes(arg.docker));
      const old = await (await rt.run({ image: "example.test/tools/old:2", cmd: ["echo", "from docker save"] })).output();
      const wrong = await rt.load(bytes(arg.amd64)).catch(failure);
      const list = new DataTransfer();
      list.items.add(new File([bytes(arg.docker)], "old.tar"));
      const fileList = await rt.load(list.files).catch(failure);
      const images = (await rt.images()).map((i) => i.name + " " + i.platform);
      await rt.removeImage("example.test/tools/box:1");
      return { names, out, oldNames, old, wrong, fileList, images, after: (await rt.images()).map((i) => i.name) };`, { archive, docker, amd64 });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual(r.names, ["example.test/tools/box:1"]);
    assert.equal(r.out.stdout, "from the archive\n");
    assert.deepEqual(r.oldNames, ["example.test/tools/old:2"]);
    assert.equal(r.old.stdout, "from docker save\n", JSON.stringify(r.old));
    assert.equal(r.wrong.name, "ImageError");
    assert.match(r.wrong.message, /is linux\/amd64: the vm guest runs linux\/386 images/);
    // Said on the page, naming what it got (null failed in the Worker as "the archive is empty").
    assert.equal(r.fileList.message, "load takes the archive as a Blob (a File), an ArrayBuffer or a Uint8Array, not a FileList");
    assert.ok(r.images.includes("example.test/tools/box:1 linux/386") && r.images.includes("example.test/tools/old:2 linux/386"), JSON.stringify(r.images));
    assert.ok(!r.after.includes("example.test/tools/box:1"));
  });

  it("refuses a docker archive whose layer is not its config's diff_id, with Node's message, storing nothing", async () => {
    const t = new TarWriter();
    t.add({ path: "evil", type: "file", mode: 0o644, mtime: 0, data: Buffer.from("not busybox\n") });
    const archive = dockerArchive("example.test/tools/tampered:1", "386", [], gzipSync(t.finish()));
    // Node's load of the same archive: the message the page must give.
    const dir = mkdtempSync(join(tmpdir(), "tampered-"));
    let onNode: string;
    try {
      writeFileSync(join(dir, "a.tar"), archive);
      const { spawnSync } = await import("node:child_process");
      const r = spawnSync(process.execPath, [join(packageRoot(), "bin", "tsbox.js"), "load", "-i", join(dir, "a.tar")], { env: { ...process.env, TSBOX_DATA_DIR: join(dir, "data") }, encoding: "utf8" });
      assert.equal(r.status, 1, r.stderr);
      onNode = r.stderr.replace(/^tsbox: /, "").trimEnd();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(onNode, /^layer 1 \(abc\/layer\.tar\) of archive image config\.json does not match its diff_id in the config: expected sha256:[0-9a-f]{64}, got sha256:[0-9a-f]{64}$/);
    const r = await vm.eval(`
      const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const refused = await rt.load(bytes(arg.archive)).catch(failure);
      const images = (await rt.images()).map((i) => i.name);
      return { refused, images };`, { archive: archive.toString("base64") });
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    // Before: stored as good, and its runs got the tampered files.
    assert.equal(r.refused.name, "ImageError");
    assert.equal(r.refused.message, onNode);
    assert.ok(!r.images.includes("example.test/tools/tampered:1"), JSON.stringify(r.images));
  });

  it("pulls from a registry that allows the page (CORS), anonymously and through a Bearer token; refuses another platform's and a registry that does not", async () => {
    const open = await startRegistry({ cors: true });
    const tokened = await startRegistry({ cors: true, auth: "token" });
    const closed = await startRegistry();
    try {
      const guestBusybox = join(loadVmImages().dir, "images", "busybox");
      for (const reg of [open, tokened]) await skopeoCopy(`oci:${guestBusybox}`, `docker://${reg.host}/tools/busybox:386`);
      await skopeoCopy(`oci:${EMBEDDED_BUSYBOX}:latest`, `docker://${open.host}/tools/amd64:latest`);
      const seeded = tokened.tokenRequests.length;
      const manifestDigest = (JSON.parse(readFileSync(join(guestBusybox, "index.json"), "utf8")) as { manifests: { digest: string }[] }).manifests[0]!.digest;
      const r = await vm.eval(`
        const events = [];
        const pulled = await rt.pull(arg.open + "/tools/busybox:386", { onProgress: (e) => events.push(e) });
        const out = await (await rt.run({ image: pulled.name, cmd: ["echo", "pulled"] })).output();
        const byToken = await rt.pull(arg.tokened + "/tools/busybox:386");
        const byDigest = await rt.pull(arg.open + "/tools/busybox@" + pulled.digest);
        const wrong = await rt.pull(arg.open + "/tools/amd64").catch(failure);
        const missing = await rt.pull(arg.open + "/tools/nothing:1").catch(failure);
        const refused = await rt.pull(arg.closed + "/tools/busybox:386").catch(failure);
        const images = (await rt.images()).map((i) => i.name);
        for (const name of [pulled.name, byToken.name, byDigest.name]) await rt.removeImage(name);
        return { pulled, events, out, byToken, byDigest, wrong, missing, refused, images };`, { open: open.host, tokened: tokened.host, closed: closed.host });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.deepEqual(r.pulled, { name: `${open.host}/tools/busybox:386`, digest: manifestDigest });
      assert.equal(r.out.stdout, "pulled\n", JSON.stringify(r.out));
      // Progress as Node's pull reports it: per blob, downloading, then done with its size.
      const layer = (JSON.parse(readFileSync(join(guestBusybox, "blobs", "sha256", manifestDigest.slice(7)), "utf8")) as { layers: { digest: string; size: number }[] }).layers[0]!;
      const mine = r.events.filter((e: { id: string }) => e.id === layer.digest.slice(7, 19));
      assert.deepEqual(mine[0], { id: layer.digest.slice(7, 19), kind: "layer", status: "downloading", current: 0, total: layer.size });
      assert.deepEqual(mine.at(-1), { id: layer.digest.slice(7, 19), kind: "layer", status: "done", current: layer.size, total: layer.size });
      assert.ok(r.events.some((e: { kind: string; status: string }) => e.kind === "config" && e.status === "done"), JSON.stringify(r.events));
      assert.equal(r.byToken.digest, manifestDigest);
      const page = tokened.tokenRequests.slice(seeded);
      assert.deepEqual(page.map((t) => t.user), [null], "one anonymous token");
      assert.deepEqual(page[0]!.scopes, ["repository:tools/busybox:pull"]);
      assert.equal(r.byDigest.name, `${open.host}/tools/busybox@${manifestDigest}`);
      assert.equal(r.wrong.name, "ImageError");
      assert.match(r.wrong.message, /linux\/386/);
      assert.match(r.missing.message, /not found/);
      assert.match(r.refused.message, /cannot reach .*CORS/);
      assert.ok(r.images.includes(`${open.host}/tools/busybox:386`), JSON.stringify(r.images));
    } finally {
      await Promise.all([open.stop(), tokened.stop(), closed.stop()]);
    }
  });

  it("pauses and unpauses a container through the guest's cgroup freezer", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "i=0; while true; i=$((i+1)); do echo $i; sleep 0.1; done"] });
      let out = "";
      const dec = new TextDecoder();
      const reading = (async () => { for await (const ch of c.stdout) out += dec.decode(ch); })();
      const wait = (ms) => new Promise((r) => setTimeout(r, ms));
      await wait(1500);
      await c.pause();
      await wait(500); // what was in flight arrives
      const before = out.length;
      await wait(2000);
      const during = out.length;
      await c.unpause();
      await wait(2000);
      const after = out.length;
      await c.kill("SIGKILL");
      await c.wait();
      await reading;
      await c.remove();
      return { before, during, after, late: await c.pause().catch(failure) };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok(r.before > 0, JSON.stringify(r));
    assert.equal(r.during, r.before, "no output while frozen");
    assert.ok(r.after > r.during, "output again once thawed");
    assert.match(r.late.message, /is not running/);
  });

  it("refuses exec and spawn into a paused container, a second pause and an unpause of a running one, as Node's (reason paused); containers() says paused", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", name: "paused-one", cmd: ["sleep", "300"] });
      const refusal = (e) => ({ ...failure(e), reason: e.reason });
      const notPaused = await c.unpause().catch(refusal);
      await c.pause();
      const exec = await c.exec(["echo", "in-paused"]).catch(refusal);
      const spawn = await c.spawn(["echo", "in-paused"]).catch(refusal);
      const again = await c.pause().catch(refusal);
      const listed = (await rt.containers({ all: false })).filter((x) => x.name === "paused-one").map((x) => x.status);
      await c.unpause();
      const after = await c.exec(["echo", "thawed"]);
      const status = (await rt.containers()).find((x) => x.name === "paused-one").status;
      await c.kill();
      await c.wait();
      await c.remove();
      return { notPaused, exec, spawn, again, listed, after: after.stdout, status };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    // Node's wordings (errors.ts pauseRefusal), the container called by its name.
    assert.deepEqual([r.exec.name, r.exec.reason, r.exec.message], ["ContainerError", "paused", "container paused-one is paused, unpause the container before exec"]);
    assert.deepEqual([r.spawn.reason, r.spawn.message], ["paused", "container paused-one is paused, unpause the container before exec"]);
    assert.equal(r.again.message, "container paused-one is already paused");
    assert.equal(r.notPaused.message, "container paused-one is not paused");
    assert.deepEqual(r.listed, ["paused"]);
    assert.equal(r.after, "thawed\n");
    assert.equal(r.status, "running");
  });

  it("follows logs without losing or repeating an entry while its consumer awaits between them", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "for i in $(seq 1 300); do echo line-$i; sleep 0.01; done"] });
      void c.stdout.pipeTo(new WritableStream({}));
      let text = "";
      for await (const e of c.logs({ follow: true })) {
        text += e.data;
        await new Promise((r) => setTimeout(r, 30)); // a page's rendering, a fetch: entries arrive meanwhile
      }
      await c.remove();
      return { lines: text.split(/\\n/).filter(Boolean) };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.deepEqual(r.lines, Array.from({ length: 300 }, (_, i) => `line-${i + 1}`));
  });

  it("reports a running container's cgroup stats and keeps its logs; names and removal", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", name: "stats-me", cmd: ["sh", "-c", "echo one; echo two >&2; sleep 30"] });
      await new Promise((r) => setTimeout(r, 300));
      const stats = await c.stats();
      const taken = await rt.run({ image: "busybox", name: "stats-me" }).catch(failure);
      const busy = await rt.removeContainer("stats-me").catch(failure);
      const listed = (await rt.containers({ all: false })).map((x) => x.name);
      const status = await c.stop(2000);
      const logs = []; for await (const e of c.logs()) logs.push(e.stream + ":" + e.data);
      await c.remove();
      return { stats, taken, busy, listed, status, logs, after: (await rt.containers()).map((x) => x.name), late: await c.stats().catch(failure) };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok(r.stats.memory.usage > 0 && r.stats.pids.current >= 1, JSON.stringify(r.stats));
    assert.equal(r.taken.name, "ContainerError");
    assert.match(r.taken.message, /the container name "stats-me" is already in use/);
    assert.match(r.busy.message, /cannot remove running container/);
    assert.deepEqual(r.listed, ["stats-me"]);
    // sh as PID 1 of its namespace ignores SIGTERM: stop kills it after the timeout.
    assert.deepEqual(r.status, { exitCode: 137, signal: "SIGKILL", oomKilled: false });
    assert.deepEqual(r.logs.sort(), ["stderr:two\n", "stdout:one\n"]);
    assert.ok(!r.after.includes("stats-me"));
    assert.match(r.late.message, /is not running/);
  });

  it("checks logs, containers, remove, removeContainer, removeImage, load and pull options with Node's tables; Node's options a page cannot have are refused by name", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", cmd: ["echo", "logged"] });
      await c.wait();
      const logs = async (o) => { let out = ""; for await (const e of c.logs(o)) out += e.data; return out; };
      const refused = {
        logs: await logs({ folow: true }).catch(failure),
        tail: await logs({ tail: "2" }).catch(failure),
        logSignal: await logs({ signal: new AbortController().signal }).catch(failure),
        containers: await rt.containers({ al: false }).catch(failure),
        remove: await rt.removeContainer(c.id, { forse: true }).catch(failure),
        load: await rt.load(new Uint8Array(10), { repo: "x" }).catch(failure),
        loadSignal: await rt.load(new Uint8Array(10), { signal: new AbortController().signal }).catch(failure),
        pull: await rt.pull("example.test/x", { onProgres: () => {} }).catch(failure),
        platform: await rt.pull("example.test/x", { platform: { os: "linux", architecture: "amd64" } }).catch(failure),
        containerRemove: await c.remove({ forse: true }).catch(failure),
        removeImage: await rt.removeImage("busybox", { forse: true }).catch(failure),
        removeImagePrune: await rt.removeImage("busybox", { prune: false }).catch(failure),
      };
      // Container.remove's force, as Node's: a running one is killed, then deleted.
      const sleeper = await rt.run({ image: "busybox", cmd: ["sleep", "600"] });
      const unforced = await sleeper.remove().catch(failure);
      await sleeper.remove({ force: true });
      const forced = !(await rt.containers()).some((x) => x.id === sleeper.id);
      // Node's time forms: an ISO 8601 string, Unix seconds.
      const since = { old: await logs({ since: "2000-01-01T00:00:00Z" }), later: await logs({ since: Date.now() / 1000 + 3600 }) };
      const kept = (await rt.containers()).some((x) => x.id === c.id);
      await rt.removeContainer(c.id, { volumes: true });
      return { refused, since, kept, gone: !(await rt.containers()).some((x) => x.id === c.id), unforced: unforced.message, forced };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const said = Object.fromEntries(Object.entries(r.refused as Record<string, { name: string; message: string }>).map(([k, v]) => [k, `${v.name}: ${v.message}`]));
    // Before: each was taken as its default (logs without follow, all containers, a removal without force…).
    assert.deepEqual(said, {
      logs: 'UsageError: logs options: unknown option "folow" (follow, tail, since, until, signal)',
      tail: 'UsageError: logs options: tail: expected a whole number from 0, got the string "2"',
      logSignal: "UsageError: logs option \"signal\" is not supported in the browser: a page's follow ends when the container exits or the loop is left",
      containers: 'UsageError: containers options: unknown option "al" (all)',
      remove: 'UsageError: removeContainer options: unknown option "forse" (force, volumes)',
      load: 'UsageError: load options: unknown option "repo" (repository, signal)',
      loadSignal: 'UsageError: load option "signal" is not supported in the browser: a load in the page runs to its end',
      pull: 'UsageError: pull options: unknown option "onProgres" (platform, signal, env, onProgress, concurrency)',
      platform: "UsageError: pull option \"platform\" is not supported in the browser: the page's guest runs linux/386 images, the one platform it pulls",
      containerRemove: 'UsageError: remove options: unknown option "forse" (force, volumes)',
      removeImage: 'UsageError: removeImage options: unknown option "forse" (platform, force, prune)',
      removeImagePrune: "UsageError: removeImage option \"prune\" is not supported in the browser: a page's images have no parent images to keep or prune",
    });
    assert.match(r.unforced, /cannot remove running container .* or use force: true/);
    assert.equal(r.forced, true, "remove({ force: true }) kills and deletes a running container");
    assert.deepEqual(r.since, { old: "logged\n", later: "" });
    assert.equal(r.kept, true, "a refused removal removes nothing");
    assert.equal(r.gone, true);
  });

  it("takes Node's stop and kill forms: stop({ timeout }) lets a TERM trap finish, kill() is SIGKILL; misspelt options and signals are refused", async () => {
    const r = await vm.eval(`
      const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "trap 'echo term; exit 0' TERM; echo armed; while true; do sleep 0.1; done"] });
      let out = "";
      const dec = new TextDecoder();
      const reading = (async () => { for await (const ch of c.stdout) out += dec.decode(ch); })();
      while (!out.includes("armed")) await new Promise((r) => setTimeout(r, 50));
      const refused = {
        exec: await c.exec(["pwd"], { workdir: "/tmp" }).catch(failure),
        spawn: await c.spawn(["pwd"], { wd: "/x" }).catch(failure),
        signal: await c.kill("SIGFOO").catch(failure),
        stop: await c.stop({ timeot: 1 }).catch(failure),
      };
      const stopped = await c.stop({ timeout: 20 });
      await reading;
      await c.remove();
      const k = await rt.run({ image: "busybox", cmd: ["sleep", "600"], remove: true });
      await k.kill();
      return { refused, stopped, out, killed: await k.wait() };`);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.match(r.refused.exec.message, /^exec options: unknown option "workdir" \(env, cwd, user, tty, privileged, stdin, maxBuffer, signal\)$/);
    assert.match(r.refused.spawn.message, /^spawn options: unknown option "wd"/);
    assert.match(r.refused.signal.message, /SIGFOO/);
    assert.match(r.refused.stop.message, /^stop options: unknown option "timeot" \(timeout, signal\)$/);
    assert.deepEqual([r.stopped, r.out], [{ exitCode: 0, signal: null, oomKilled: false }, "armed\nterm\n"]);
    assert.deepEqual(r.killed, { exitCode: 137, signal: "SIGKILL", oomKilled: false });
  });

  it("terminate() ends the page's containers as exited (137, SIGKILL: Node's vm record of a container whose guest was stopped), so they can be removed", async () => {
    const p = await VmPage.open(browser, server);
    try {
      const booted = await p.boot({ storage: false, warmUp: "off" });
      assert.ok(booted.ok, booted.error);
      const r = await p.eval(`
        const c = await rt.run({ image: "busybox", cmd: ["sleep", "100"], name: "app" });
        rt.terminate();
        return {
          running: c.running,
          listed: (await rt.containers()).map((x) => [x.status, x.exitCode, x.signal]),
          active: (await rt.containers({ all: false })).length,
          wait: await c.wait().then(() => "resolved", (e) => e.message),
          stop: await c.stop(),
          remove: await c.remove().then(() => "removed", failure),
          after: (await rt.containers()).length,
          boot: await rt.boot().then(() => "resolved", (e) => e.message),
        };`);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.running, false);
      assert.deepEqual(r.listed, [["exited", 137, "SIGKILL"]]);
      assert.equal(r.active, 0);
      // What waited on the guest is told why it ended.
      assert.equal(r.wait, "the vm was terminated");
      assert.deepEqual(r.stop, { exitCode: 137, signal: "SIGKILL", oomKilled: false });
      assert.equal(r.remove, "removed");
      assert.equal(r.after, 0);
      // Before: boot() resolved on a terminated Runtime that could run nothing.
      assert.equal(r.boot, "the vm was terminated");
    } finally {
      await p.close();
    }
  });

  it("a standby without a terminal hands its early stderr to the taking run's stderr, also from the state saved with it", async () => {
    const p = await VmPage.open(browser, server);
    const storage = `tsbox-test-standby-${process.pid}`;
    try {
      const r = await p.eval(`
        const opts = { image: "busybox", cmd: ["sh", "-c", "echo to-stderr >&2; echo to-stdout; sleep 1; echo late-stderr >&2"] };
        await new tsbox.Runtime({ storage: arg }).clearStorage();
        const take = async () => {
          const phases = [];
          const runtime = new tsbox.Runtime({ assets: "/dist/", storage: arg, standby: opts, onProgress: (e) => phases.push(e) });
          await runtime.boot();
          const start = phases.find((e) => e.phase === "ready").start;
          // "standby": its output so far is held and saved with the state; a restored one's is told too (before,
          // a returning visit never heard it, and a page waiting for it waited for ever).
          while (!phases.some((e) => e.phase === "standby")) await new Promise((r) => setTimeout(r, 100));
          const out = await (await runtime.run(opts)).output();
          runtime.terminate();
          return { start, saved: phases.find((e) => e.phase === "standby").saved, ...out };
        };
        const first = await take();
        const stored = await take();
        await new tsbox.Runtime({ storage: arg }).clearStorage();
        return { first, stored };`, storage);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      for (const run of [r.first, r.stored]) {
        assert.deepEqual([run.exitCode, run.stdout, run.stderr], [0, "to-stdout\n", "to-stderr\nlate-stderr\n"], JSON.stringify(run));
      }
      assert.equal(r.stored.start, "stored");
      assert.deepEqual([r.first.saved, r.stored.saved], [true, true]);
    } finally {
      await p.close();
    }
  });

  it("terminate() while the guest starts rejects the boot and every call awaiting it; an HTML page served for a guest file is named", async () => {
    const p = await VmPage.open(browser, server);
    try {
      const r = await p.eval(`
        const early = new tsbox.Runtime({ storage: false, files: { snapshot: { state: "/none", meta: "/none" } } });
        const booting = early.boot().then(() => "resolved", failure);
        const running = early.run({ image: "busybox", cmd: ["true"] }).then(() => "resolved", failure);
        await new Promise((r) => setTimeout(r, 300));
        early.terminate();
        return { booting: await booting, running: await running, again: await early.boot().then(() => "resolved", failure) };`);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      for (const k of ["booting", "running", "again"]) assert.equal(r[k].message, "the vm was terminated", k);
      // A single-page app's host answers a path it lacks with its index.html (here the test page, text/html).
      const html = await p.boot({ storage: false, files: { manifest: "/", snapshot: { state: "/none", meta: "/none" } } });
      assert.equal(html.ok, false);
      assert.match(html.error!, /could not fetch http:\/\/127\.0\.0\.1:\d+\/: the server answered with a web page \(text\/html\), not the file/);
    } finally {
      await p.close();
    }
  });

  it("fails to start with the reason when a file cannot be fetched", async () => {
    const p = await VmPage.open(browser, server);
    try {
      const r = await p.boot({ storage: false, files: { kernel: "/dist/guest/no-such-kernel", snapshot: { state: "/none", meta: "/none" } } });
      assert.equal(r.ok, false);
      assert.match(r.error!, /could not fetch http:\/\/127\.0\.0\.1:\d+\/dist\/guest\/no-such-kernel: HTTP 404/);
      // A Worker of another origin (a CDN's): boot() rejects, as a promise-returning call does (it threw), naming the fix.
      const crossOrigin = await p.eval(`
        let booting;
        try { booting = new tsbox.Runtime({ storage: false, workerUrl: "http://localhost:1/tsbox-vm-worker.js" }).boot(); } catch (e) { return "threw: " + e.message; }
        return booting.then(() => "booted", (e) => e.message);`);
      assert.match(crossOrigin, /^the vm Worker could not be started from http:\/\/localhost:1\/tsbox-vm-worker\.js: .*serve a copy of tsbox-vm-worker\.js there and name it with `workerUrl`/);
    } finally {
      await p.close();
    }
  });

  it("takes `assets` as a folder whether or not it ends with a slash", async () => {
    const p = await VmPage.open(browser, server);
    try {
      // Before, "/dist" meant the folder above it: the Worker was looked for at /tsbox-vm-worker.js.
      for (const assets of ["/dist", "dist"]) {
        const r = await p.boot({ assets, storage: false });
        assert.ok(r.ok, `${assets}: ${r.error}`);
      }
    } finally {
      await p.close();
    }
  });

  it("runs in a Vite app as README says (public/tsbox/, assets from BASE_URL, a non-root base); without assets, boot() names the option", async () => {
    // The app as a developer has it: tsbox in node_modules (this tree), its files copied into public/tsbox/.
    const app = mkdtempSync(join(tmpdir(), "vite-app-"));
    try {
      mkdirSync(join(app, "node_modules"));
      symlinkSync(packageRoot(), join(app, "node_modules", "tsbox"));
      for (const f of ["tsbox-vm-worker.js", "v86.wasm", "guest"]) cpSync(join(packageRoot(), "dist", "browser", f), join(app, "public", "tsbox", f), { recursive: true });
      writeFileSync(join(app, "index.html"), '<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>');
      writeFileSync(
        join(app, "main.js"),
        `import { Runtime } from "tsbox/browser";
const failure = (e) => ({ name: e.name, text: String(e) });
window.result = (async () => {
  const bundled = await new Runtime({ storage: false }).boot().then(() => "booted", failure);
  const rt = new Runtime({ assets: import.meta.env.BASE_URL + "tsbox/", storage: false });
  try {
    return { bundled, out: (await (await rt.run({ image: "busybox", cmd: ["echo", "hi from vite"] })).output()).stdout };
  } catch (e) {
    return { bundled, error: failure(e) };
  } finally {
    rt.terminate();
  }
})();`,
      );
      execFileSync(process.execPath, [join(packageRoot(), "node_modules", "vite", "bin", "vite.js"), "build", "--base=/app/", "--logLevel=warn", app], { cwd: app, stdio: "inherit", timeout: 120_000 });
      const site = await serveStatic({ "/app/": join(app, "dist") });
      const page = await browser.newPage();
      try {
        await page.goto(`${site.url}/app/index.html`);
        const r = await page.evaluate(() => (globalThis as unknown as { result: Promise<Record<string, any>> }).result);
        assert.equal(r.out, "hi from vite\n", JSON.stringify(r));
        // Vite bundled tsbox.js into the app's chunk: its own folder is unknown (was "Invalid URL": Vite inlined dist/browser.js as a data: URL).
        assert.equal(r.bundled.name, "TsboxError");
        assert.match(r.bundled.text, /^TsboxError: tsbox cannot find its Worker and guest files: a bundler moved tsbox\/browser \(it runs from http:\/\/127\.0\.0\.1:\d+\/app\/assets\/index-[\w-]+\.js, .*name it with the Runtime's `assets` option/);
      } finally {
        await page.close();
        await site.close();
      }
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it("boots cold with a notice when the served snapshot is corrupt (the emulator made while it downloaded is let go)", async (t) => {
    const images = loadVmImages();
    if (loadSnapshot(packagedSnapshotPath(images.dir), machineFingerprint(images, DEFAULT_CONFIG)).kind !== "ok") return t.skip("vm-images has no usable snapshot");
    const bad = mkdtempSync(join(tmpdir(), "vm-browser-bad-"));
    const state = readFileSync(join(images.dir, "snapshot.state"));
    const mid = state.length >> 1;
    state.writeUInt8(state.readUInt8(mid) ^ 0xff, mid);
    writeFileSync(join(bad, "snapshot.state"), state);
    copyFileSync(join(images.dir, "snapshot.state.json"), join(bad, "snapshot.state.json"));
    const badServer = await serveVmPage({ "/bad/": bad });
    const p = await VmPage.open(browser, badServer);
    try {
      const r = await p.boot({ storage: false, warmUp: "off", files: { snapshot: { state: "/bad/snapshot.state", meta: "/bad/snapshot.state.json" } } });
      assert.ok(r.ok, r.error);
      assert.equal(r.events.at(-1)!.start, "cold");
      assert.match(r.notices.join("\n"), /vm snapshot is not usable: it is corrupt/);
      const out = await p.eval(`const c = await rt.run({ image: "busybox", cmd: ["echo", "booted cold"] }); return c.output();`);
      assert.equal(out.stdout, "booted cold\n");
    } finally {
      await p.close();
      await badServer.close();
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it("names the file and the likely causes when a fetch gets no answer (CORS), or a boot file or v86.wasm is cut short; a snapshot cut mid-download boots cold naming it", async (t) => {
    const images = loadVmImages();
    const cut = mkdtempSync(join(tmpdir(), "vm-browser-cut-"));
    writeFileSync(join(cut, "bzImage"), readFileSync(join(images.dir, "bzImage")).subarray(0, 1_000_000));
    writeFileSync(join(cut, "v86.wasm"), readFileSync(join(packageRoot(), "dist", "browser", "v86.wasm")).subarray(0, 100_000));
    // Another origin that sends no Access-Control-Allow-Origin: the Worker's fetch gets no answer it may read.
    const noCors = await serveStatic({ "/": images.dir });
    // Another origin (CORS allowed) whose snapshot.state connection drops after 3 MB of its declared length.
    const state = readFileSync(join(images.dir, "snapshot.state"));
    const dropping = createServer((req, res) => {
      res.setHeader("access-control-allow-origin", "*");
      if (req.url === "/snapshot.state.json") return void res.writeHead(200, { "content-type": "application/json" }).end(readFileSync(join(images.dir, "snapshot.state.json")));
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": state.length });
      res.write(state.subarray(0, 3_000_000), () => setTimeout(() => res.socket?.destroy(), 100));
    });
    await new Promise<void>((done) => dropping.listen(0, "127.0.0.1", done));
    const droppingUrl = `http://127.0.0.1:${(dropping.address() as { port: number }).port}`;
    const cutServer = await serveVmPage({ "/cut/": cut });
    const p = await VmPage.open(browser, cutServer);
    const none = { state: "/none", meta: "/none" };
    try {
      const refused = await p.boot({ storage: false, files: { kernel: `${noCors.url}/bzImage`, snapshot: none } });
      assert.equal(refused.ok, false);
      assert.equal(refused.error, `could not fetch ${noCors.url}/bzImage: the browser got no answer (Failed to fetch); likely its host does not allow this page's origin (CORS: Access-Control-Allow-Origin on ${noCors.url}), or the page's Content-Security-Policy leaves it out of connect-src, or the browser is offline or the host cannot be reached (the browser's console says which)`);
      // Before: the emulator crashed ("RuntimeError: unreachable", a #GP panic), naming no file.
      const kernel = await p.boot({ storage: false, files: { kernel: "/cut/bzImage", snapshot: none } });
      assert.equal(kernel.ok, false);
      assert.match(kernel.error!, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/cut/bzImage is 1000000 bytes, manifest\\.json says ${statSync(join(images.dir, "bzImage")).size}: it is cut short`));
      const wasm = await p.boot({ storage: false, files: { wasm: "/cut/v86.wasm" } });
      assert.equal(wasm.ok, false);
      assert.match(wasm.error!, /^http:\/\/127\.0\.0\.1:\d+\/cut\/v86\.wasm is not a usable WebAssembly module: /);
      if (loadSnapshot(packagedSnapshotPath(images.dir), machineFingerprint(images, DEFAULT_CONFIG)).kind !== "ok") return t.skip("vm-images has no usable snapshot");
      const dropped = await p.boot({ storage: false, warmUp: "off", files: { snapshot: { state: `${droppingUrl}/snapshot.state`, meta: `${droppingUrl}/snapshot.state.json` } } });
      assert.ok(dropped.ok, dropped.error);
      assert.equal(dropped.events.at(-1)!.start, "cold");
      assert.match(dropped.notices.join("\n"), new RegExp(`vm snapshot is not usable: could not fetch ${droppingUrl}/snapshot\\.state: the download broke off after \\d+ of ${state.length} bytes \\(.+\\): booting the vm from scratch`));
      const out = await p.eval(`const c = await rt.run({ image: "busybox", cmd: ["echo", "booted cold"] }); return c.output();`);
      assert.equal(out.stdout, "booted cold\n");
    } finally {
      await p.close();
      await cutServer.close();
      await noCors.close();
      dropping.closeAllConnections();
      await new Promise((done) => dropping.close(done));
      rmSync(cut, { recursive: true, force: true });
    }
  });

  it("in an iframe sandboxed without allow-same-origin, boot() says the page's origin is opaque and what the iframe needs", async () => {
    const frame = `import { Runtime } from "/dist/tsbox.js";
new Runtime({ storage: false, assets: "/dist/" }).boot().then(() => parent.postMessage("booted", "*"), (e) => parent.postMessage(e.message, "*"));`;
    // The frame's origin is "null": its module scripts are cross-origin fetches (CORS) from there.
    const site = await serveStatic(
      { "/dist/": join(packageRoot(), "dist", "browser") },
      {
        "/": `<!doctype html><script>window.result = new Promise((r) => addEventListener("message", (e) => r(e.data)));</script><iframe sandbox="allow-scripts" src="/frame.html"></iframe>`,
        "/frame.html": `<!doctype html><script type="module" src="/frame.js"></script>`,
        "/frame.js": frame,
      },
      { "access-control-allow-origin": "*" },
    );
    const page = await browser.newPage();
    try {
      await page.goto(`${site.url}/`);
      const message = await page.evaluate(() => (globalThis as unknown as { result: Promise<string> }).result);
      // Before: "serve a copy of tsbox-vm-worker.js there", and an opaque origin has no "there".
      assert.match(message, /^the vm Worker (could not be started from .*|failed: )this page's origin is opaque \("null"\): it is in an iframe sandboxed without allow-same-origin, where tsbox cannot start its Worker; give the iframe sandbox="allow-scripts allow-same-origin"/);
    } finally {
      await page.close();
      await site.close();
    }
  });

  it("clearStorage in one tab while another tab's guest holds the database: the deletion goes through, and both tabs go on", async () => {
    const window = await browser.newContext();
    const storage = `tsbox-tabs-${process.pid}`;
    const [a, b] = [await VmPage.open(window, server), await VmPage.open(window, server)];
    try {
      const booted = await a.boot({ storage, warmUp: "off" });
      assert.ok(booted.ok, booted.error);
      // Before, the other tab's open connection blocked the deletion, and every open after it (the next boot of any tab) waited forever.
      const cleared = await b.eval(`
        await new tsbox.Runtime({ storage: arg }).clearStorage();
        // An open answers once no deletion is pending (aborted in its upgrade: the database stays deleted).
        const req = indexedDB.open(arg);
        req.onupgradeneeded = () => req.transaction.abort();
        return await new Promise((resolve) => { req.onerror = () => resolve("answered"); setTimeout(() => resolve("still waiting after 10 s"), 10_000); });`, storage);
      assert.equal(cleared, "answered");
      // The tab whose connection was let go opens it again when it next needs it.
      const after = await a.eval(`const c = await rt.run({ image: "busybox", cmd: ["echo", "still here"] }); const out = (await c.output()).stdout; await rt.clearStorage(); return out;`);
      assert.equal(after, "still here\n");
    } finally {
      await window.close();
    }
  });

  it("restores the served snapshot, keeps it in IndexedDB for the next start, and refuses one that does not fit", async (t) => {
    const images = loadVmImages();
    const packaged = loadSnapshot(packagedSnapshotPath(images.dir), machineFingerprint(images, DEFAULT_CONFIG));
    const p = await VmPage.open(browser, server);
    const storage = `tsbox-test-${process.pid}`;
    try {
      await p.eval(`await new tsbox.Runtime({ storage: arg }).clearStorage();`, storage);
      const first = await p.boot({ storage, warmUp: "off" });
      assert.ok(first.ok, first.error);
      if (packaged.kind !== "ok") {
        assert.equal(first.events.at(-1)!.start, "cold");
        t.diagnostic("vm-images has no usable snapshot: the served-snapshot path was not taken");
      } else {
        assert.equal(first.events.at(-1)!.start, "snapshot", first.notices.join("; "));
      }
      const echo = await p.eval(`const c = await rt.run({ image: "busybox", cmd: ["echo", "after restore"] }); return c.output();`);
      assert.equal(echo.stdout, "after restore\n");
      // The next start needs neither the served state nor the boot files.
      const second = await p.boot({ storage, warmUp: "off" });
      assert.ok(second.ok, second.error);
      assert.equal(second.events.at(-1)!.start, "stored");
      t.diagnostic(`${first.events.at(-1)!.start} start ${first.ms} ms, stored start ${second.ms} ms`);

      // The state file held open for writing (another tab's Worker saving): read as a File instead, still the stored start.
      const held = await p.eval(`
        const src = "onmessage = async (e) => { const dir = await (await navigator.storage.getDirectory()).getDirectoryHandle(e.data); const names = []; for await (const name of dir.keys()) names.push(name); self.handles = await Promise.all(names.map(async (n) => (await dir.getFileHandle(n)).createSyncAccessHandle())); postMessage(names.length); };";
        window.holder = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })));
        return new Promise((resolve) => { window.holder.onmessage = (e) => resolve(e.data); window.holder.postMessage(arg); });`, stateFilesDir(storage));
      assert.equal(held, 1, "one state file, held open");
      const locked = await p.boot({ storage, warmUp: "off" });
      await p.eval(`window.holder.terminate();`);
      assert.ok(locked.ok, locked.error);
      assert.equal(locked.events.at(-1)!.start, "stored", locked.notices.join("; "));

      // Another memory size: neither state fits; both are refused before v86 sees them.
      const mismatched = await p.boot({ storage, warmUp: "off", config: { ...DEFAULT_CONFIG, memoryMb: 192 } });
      assert.ok(mismatched.ok, mismatched.error);
      assert.equal(mismatched.events.at(-1)!.start, "cold");
      assert.match(mismatched.notices.join("\n"), /another guest image, emulator version or device set/);
      await p.eval(`await rt.clearStorage();`);
    } finally {
      await p.close();
    }
  });
});
