/**
 * The vm backend in a browser: the v86 guest in a Web Worker of real
 * Chromium, the image's root unpacked into an in-memory 9p file system.
 * Without a guest: the 9p server over MemoryFs (path safety, read-only
 * exports, xattrs) and the in-memory image root (whiteouts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import type { Browser } from "playwright-core";
import { buildImageRoot } from "../src/backends/vm/browser/image-root.js";
import { loadVmImages } from "../src/backends/vm/images.js";
import { DEFAULT_CONFIG, machineFingerprint } from "../src/backends/vm/machine.js";
import { MemoryFs } from "../src/backends/vm/p9/memory-fs.js";
import { O } from "../src/backends/vm/p9/fs.js";
import { P9Server } from "../src/backends/vm/p9/server.js";
import { loadSnapshot, packagedSnapshotPath } from "../src/backends/vm/snapshot.js";
import { TarWriter } from "../src/image/tar-writer.js";
import { bundleBrowser, chromiumSkip, GUEST_FILES, launchChromium, serveVmPage, SNAPSHOT, type StartResult, type StaticServer, VmPage } from "./helpers/browser.js";
import { vmSkip } from "./helpers/vm.js";
import { p9Client as client } from "./helpers/p9-client.js";

// ---- no guest -----------------------------------------------------------

function memoryFile(fs: MemoryFs, path: string, text: string): void {
  const fd = fs.open(path, O.WRONLY | O.CREAT | O.EXCL, 0o644);
  fs.write(fd, new TextEncoder().encode(text), 0);
  fs.close(fd);
}

describe("9p over an in-memory file system (no guest)", () => {
  const ENOENT = 2;
  const EACCES = 13;
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
    return { fs, c: client(server) };
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
    const lower = layer([dir("etc/"), file("etc/keep", "k"), file("etc/gone", "g"), dir("opaque/"), file("opaque/old", "o"), { path: "lib", type: "symlink", mode: 0o777, mtime: 1, linkname: "usr/lib" }]);
    const upper = layer([file("etc/.wh.gone", ""), dir("opaque/"), file("opaque/.wh..wh..opq", ""), file("opaque/new", "n"), file("lib/real", "replaces the lower symlink")]);
    const fs = new MemoryFs();
    await buildImageRoot(fs, "/img", [lower, upper]);
    assert.deepEqual(fs.readdir("/img/etc"), ["keep"]);
    assert.deepEqual(fs.readdir("/img/opaque"), ["new"]);
    assert.deepEqual(fs.readdir("/img/lib"), ["real"]);

    const escape = layer([{ path: "link", type: "symlink", mode: 0o777, mtime: 1, linkname: "/outside" }, file("link/x", "through the link")]);
    await assert.rejects(buildImageRoot(new MemoryFs(), "/img", [escape]), /refusing to write link\/x through link/);
    await assert.rejects(buildImageRoot(new MemoryFs(), "/img", [layer([file("../x", "up")])]), /escapes the layer root/);
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
    server = await serveVmPage(loadVmImages().dir);
    browser = await launchChromium();
    vm = await VmPage.open(browser, server);
    coldBoot = await vm.start(GUEST_FILES);
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
    assert.ok(lastLoad.total! > 5_000_000 && lastLoad.loaded === lastLoad.total, JSON.stringify(lastLoad));
    assert.equal(coldBoot.events.at(-1)!.start, "cold");
  });

  it("delivers a container's stdout, stderr and exit code", async (t) => {
    const echo = await vm.run({ cmd: ["echo", "hello from the browser"] });
    assert.equal(echo.error, undefined, JSON.stringify(echo.error));
    assert.equal(echo.stdout, "hello from the browser\n");
    assert.equal(echo.exitCode, 0);
    t.diagnostic(`cold boot ${coldBoot.ms} ms + first container's first output ${echo.chunkTimes[0]} ms`);
    const exit3 = await vm.run({ cmd: ["sh", "-c", "echo err >&2; exit 3"] });
    assert.equal(exit3.exitCode, 3);
    assert.equal(exit3.stderr, "err\n");
  });

  it("runs the command as PID 1 of its own PID namespace, with its own hostname", async () => {
    const r = await vm.run({ cmd: ["sh", "-c", "echo $$; hostname; ls /proc | grep -c '^[0-9]'"], hostname: "in-a-browser" });
    assert.equal(r.exitCode, 0, r.stderr);
    // PID 1, the hostname, and only its own processes (sh, ls, grep).
    const [pid, hostname, procs] = r.stdout.trim().split("\n");
    assert.equal(pid, "1");
    assert.equal(hostname, "in-a-browser");
    assert.ok(Number(procs) <= 3, `sees ${procs} processes`);
  });

  it("gives every container a fresh writable layer", async () => {
    const first = await vm.run({ cmd: ["sh", "-c", "echo secret > /tmp/left-behind && echo x >> /etc/passwd && cat /tmp/left-behind"] });
    assert.equal(first.exitCode, 0, first.stderr);
    assert.equal(first.stdout, "secret\n");
    const second = await vm.run({ cmd: ["sh", "-c", "test ! -e /tmp/left-behind && ! grep -qx x /etc/passwd && echo clean"] });
    assert.equal(second.stdout, "clean\n", second.stderr);
  });

  it("passes stdin through (200 KB, with flow control)", async () => {
    const upper = await vm.run({ cmd: ["tr", "a-z", "A-Z"], stdin: "piped through\n" });
    assert.equal(upper.stdout, "PIPED THROUGH\n");
    const big = await vm.run({ cmd: ["wc", "-c"], stdinRepeat: { text: "0123456789", times: 20_000 } });
    assert.equal(big.stdout.trim(), "200000");
  });

  it("streams output before the container exits", async () => {
    const r = await vm.run({ cmd: ["sh", "-c", "echo first; sleep 1; echo second"] });
    assert.equal(r.stdout, "first\nsecond\n");
    assert.ok(r.chunkTimes.length >= 2 && r.chunkTimes[0]! < r.ms - 700, JSON.stringify(r));
  });

  it("reports a missing command with exit code 127", async () => {
    const r = await vm.run({ cmd: ["no-such-command"] });
    assert.equal(r.error?.exitCode, 127, JSON.stringify(r));
    assert.match(r.error!.message, /executable file not found in \$PATH: no-such-command/);
  });

  describe("exec into a running container", () => {
    // One container for every case: it writes a file, waits for one from an exec, prints it, then runs `cat` until its stdin ends.
    const SCRIPT = "echo from-container > /tmp/from-container; while [ ! -e /tmp/from-exec ]; do sleep 0.1; done; cat /tmp/from-exec; exec cat";
    const waitFor = (file: string) => `while [ ! -e ${file} ]; do sleep 0.1; done`;
    let containerId = "";

    before(async () => {
      const c = await vm.spawn("c", { cmd: ["sh", "-c", SCRIPT], env: { WHO: "container", KEEP: "kept" }, cwd: "/tmp", hostname: "exec-host", stdin: true });
      assert.equal(c.error, undefined, JSON.stringify(c.error));
      containerId = c.containerId!;
    });

    it("runs in the container's PID namespace, beside its init (PID 1)", async () => {
      const r = await vm.exec("c", { cmd: ["sh", "-c", "echo $$; hostname; tr '\\0' ' ' < /proc/1/cmdline"] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      const [pid, hostname, init] = r.stdout!.trim().split("\n");
      assert.notEqual(pid, "1");
      assert.ok(Number(pid) > 1, r.stdout);
      assert.equal(hostname, "exec-host");
      // The container's sh, or the cat it became.
      assert.match(init!, /^(sh -c echo from-container|cat)/);
    });

    it("sees the container's files, and the container sees the exec's", async () => {
      const r = await vm.exec("c", { cmd: ["sh", "-c", `${waitFor("/tmp/from-container")}; cat /tmp/from-container; echo from-exec > /tmp/from-exec`] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.stdout, "from-container\n", r.stderr);
    });

    it("takes the container's env, cwd and user as defaults, and overrides", async () => {
      const script = "echo $WHO $KEEP $EXTRA; pwd; id -u";
      const defaults = await vm.exec("c", { cmd: ["sh", "-c", script] });
      assert.equal(defaults.stdout, "container kept\n/tmp\n0\n", JSON.stringify(defaults));
      const overridden = await vm.exec("c", { cmd: ["sh", "-c", script], env: { WHO: "exec", EXTRA: "more" }, cwd: "/etc", user: "0:0" });
      assert.equal(overridden.stdout, "exec kept more\n/etc\n0\n", JSON.stringify(overridden));
      const unmapped = await vm.exec("c", { cmd: ["true"], user: "5" });
      assert.match(unmapped.error?.message ?? "", /uid 5 is not mapped/);
    });

    it("reports exit codes 0, 3 and 127 (a missing command, with its message)", async () => {
      assert.equal((await vm.exec("c", { cmd: ["true"] })).exitCode, 0);
      const three = await vm.exec("c", { cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"] });
      assert.deepEqual([three.exitCode, three.stdout, three.stderr], [3, "out\n", "err\n"]);
      const missing = await vm.exec("c", { cmd: ["no-such-command"] });
      assert.equal(missing.exitCode, 127, JSON.stringify(missing));
      assert.match(missing.stderr!, /executable file not found in \$PATH: no-such-command/);
    });

    it("gives an exec stdin: all at once, or streamed through spawnExec", async () => {
      const upper = await vm.exec("c", { cmd: ["tr", "a-z", "A-Z"], stdin: "into the exec\n" });
      assert.equal(upper.stdout, "INTO THE EXEC\n");
      const streamed = await vm.spawnExec("c", { cmd: ["wc", "-c"] }, ["0123456789".repeat(1000), "abc"]);
      assert.equal(streamed.error, undefined, JSON.stringify(streamed.error));
      assert.equal(streamed.stdout!.trim(), "10003");
      assert.ok(streamed.pid! > 0);
    });

    it("refuses an exec once the container has exited", async () => {
      const done = await vm.finish("c");
      assert.equal(done.error, undefined, JSON.stringify(done.error));
      assert.deepEqual([done.exitCode, done.stdout], [0, "from-exec\n"]);
      const late = await vm.exec("c", { cmd: ["true"] });
      assert.equal(late.error?.name, "ContainerError", JSON.stringify(late));
      assert.equal(late.error?.message, `container ${containerId.slice(0, 12)} is not running`);
    });
  });

  it("fails to start with the reason when a file cannot be fetched", async () => {
    const p = await VmPage.open(browser, server);
    try {
      const r = await p.start({ ...GUEST_FILES, kernel: "/guest/no-such-kernel" });
      assert.equal(r.ok, false);
      assert.match(r.error!, /could not fetch http:\/\/127\.0\.0\.1:\d+\/guest\/no-such-kernel: HTTP 404/);
    } finally {
      await p.close();
    }
  });

  it("restores vm-images' saved state when it fits this guest, else says why and boots", async (t) => {
    const images = loadVmImages();
    const packaged = loadSnapshot(packagedSnapshotPath(images.dir), machineFingerprint(images, DEFAULT_CONFIG));
    const p = await VmPage.open(browser, server);
    try {
      const restored = await p.start({ ...GUEST_FILES, snapshot: SNAPSHOT });
      assert.ok(restored.ok, restored.error);
      if (packaged.kind === "ok") {
        assert.equal(restored.events.at(-1)!.start, "restore", restored.notices.join("; "));
      } else {
        assert.equal(restored.events.at(-1)!.start, "cold");
        assert.match(restored.notices.join("\n"), /vm snapshot is not usable/);
      }
      const echo = await p.run({ cmd: ["echo", "after restore"] });
      assert.equal(echo.stdout, "after restore\n");
      t.diagnostic(`${restored.events.at(-1)!.start} start ${restored.ms} ms + first container's first output ${echo.chunkTimes[0]} ms`);

      // The same state with another memory size is refused before v86 sees it.
      const mismatched = await p.start({ ...GUEST_FILES, snapshot: SNAPSHOT }, { ...DEFAULT_CONFIG, memoryMb: 192 });
      assert.ok(mismatched.ok, mismatched.error);
      assert.equal(mismatched.events.at(-1)!.start, "cold");
      assert.match(mismatched.notices.join("\n"), /another guest image, emulator version or device set/);
    } finally {
      await p.close();
    }
  });
});
