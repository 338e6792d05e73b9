/**
 * The vm backend: containers inside a v86-emulated Linux guest. Cold boot
 * and snapshot start, output and exit codes, volumes through 9p, stdin flow
 * control, cgroup limits in the guest, and bad input (stale snapshots, a
 * silent guest, malformed frames).
 */
import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runtime } from "../src/index.js";
import type { Backend, StartOptions } from "../src/backends/backend.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { AgentLink } from "../src/backends/vm/node/agent-link.js";
import { encodeFrame, FrameDecoder, FrameType, HEADER } from "../src/backends/vm/core/frame.js";
import { loadVmImages } from "../src/backends/vm/node/images.js";
import { DEFAULT_CONFIG, Machine, v86Module } from "../src/backends/vm/node/machine.js";
import { v86Options, type V86Like } from "../src/backends/vm/core/guest-machine.js";
import { RestoreHooks, splitGuestMemory, WRITTEN_BEFORE_RESTORE, writeGuestPages } from "../src/backends/vm/core/v86-memory.js";
import { openMachine } from "../src/backends/vm/node/session.js";
import { vmSkip } from "./helpers/vm.js";
import { cliPath } from "./helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "vm-test-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const snapshotPath = join(scratch, "cache", "snapshot.state");

describe("vm protocol (no guest)", () => {
  it("skips an oversized frame and bad bytes, then decodes the next frame", () => {
    const d = new FrameDecoder(100);
    const bytes = Buffer.concat([encodeFrame(FrameType.data, 3, Buffer.alloc(500, 1)), Buffer.from("junk"), encodeFrame(FrameType.data, 4, Buffer.from("ok"))]);
    const items = [];
    for (let i = 0; i < bytes.length; i += 7) items.push(...d.push(bytes.subarray(i, i + 7)));
    assert.equal(items.filter((i) => i.kind === "rejected").length, 2);
    const frames = items.filter((i) => i.kind === "frame");
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.kind === "frame" && frames[0]!.frame.payload.toString(), "ok");
  });

  it("a guest that does not answer gives a clear error", async () => {
    const link = new AgentLink({ send: () => {} });
    await assert.rejects(link.request("ping", {}, 200), /the vm guest did not answer ping within 0\.2 s/);
  });

  it("holds what is sent while a hello is unanswered, and sends it after the answer", async () => {
    const sent: Buffer[] = [];
    const link = new AgentLink({ send: (b) => sent.push(Buffer.from(b)) });
    const hello = link.hello(5000);
    const ping = link.request("ping", {}, 5000);
    const ops = () => sent.map((b) => JSON.parse(b.subarray(HEADER).toString()).op as string);
    assert.deepEqual(ops(), ["hello"], "only the hello goes out first");
    assert.equal(link.drained, false, "held frames are not in a state saved now");
    link.receive(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ id: 1, ok: true }))));
    await hello;
    assert.deepEqual(ops(), ["hello", "ping"]);
    link.receive(encodeFrame(FrameType.ctrl, 0, Buffer.from(JSON.stringify({ id: 2, ok: true, pong: 1 }))));
    assert.equal((await ping).pong, 1);
  });

  it("splits a v86 state into the rest and its guest pages, and writes the pages where they were", () => {
    // v86's layout (src/state.js): header, JSON info block, buffers at 4-aligned offsets; the CPU's
    // state array holds the packed pages at [77] and their bitmap at [78].
    const build = (buffers: Uint8Array[], state: unknown[]) => {
      let at = 0;
      const infos = buffers.map((b) => ({ offset: ((at = (at + 3) & ~3), (at += b.length), at - b.length), length: b.length }));
      const info = new TextEncoder().encode(JSON.stringify({ buffer_infos: infos, state }));
      const start = (16 + info.length + 3) & ~3;
      const out = new ArrayBuffer(start + at);
      new Int32Array(out, 0, 4).set([-2039052682, 6, out.byteLength, info.length]);
      new Uint8Array(out, 16).set(info);
      buffers.forEach((b, i) => new Uint8Array(out, start + infos[i]!.offset).set(b));
      return out;
    };
    const page = (fill: number) => new Uint8Array(4096).fill(fill);
    const packed = new Uint8Array([...page(1), ...page(2), ...page(3)]);
    const bitmap = new Uint8Array([0b0000_0110, 0b1000_0000]); // pages 1, 2 and 15
    const other = new Uint8Array([9, 8, 7]);
    const cpu: unknown[] = [];
    cpu[3] = { __state_type__: "Uint8Array", buffer_id: 0 };
    cpu[77] = { __state_type__: "Uint8Array", buffer_id: 1 };
    cpu[78] = { __state_type__: "Uint8Array", buffer_id: 2 };
    const state = build([other, packed, bitmap], cpu);
    const split = splitGuestMemory(state)!;
    assert.ok(split, "a state of v86's format splits");
    assert.deepEqual([...split.pages.bitmap], [...bitmap]);
    assert.equal(split.pages.packed.buffer, state, "the pages are read from the state itself, not copied");
    const rest = new Int32Array(split.rest, 0, 4);
    assert.deepEqual([rest[0], rest[1], rest[2]], [-2039052682, 6, split.rest.byteLength]);
    const info = JSON.parse(new TextDecoder().decode(new Uint8Array(split.rest, 16, rest[3]))) as { buffer_infos: { offset: number; length: number }[]; state: unknown[] };
    assert.deepEqual(info.state, JSON.parse(JSON.stringify(cpu)));
    assert.deepEqual(info.buffer_infos.map((b) => b.length), [3, 0, 0]);
    const start = (16 + rest[3]! + 3) & ~3;
    assert.deepEqual([...new Uint8Array(split.rest, start + info.buffer_infos[0]!.offset, 3)], [9, 8, 7]);
    const memory = new Uint8Array(16 * 4096).fill(0xee);
    writeGuestPages(memory, split.pages);
    const at = (p: number) => memory[p * 4096 + 100];
    assert.deepEqual([at(0), at(1), at(2), at(3), at(14), at(15)], [0xee, 1, 2, 0xee, 0xee, 3]);
    // Anything else goes to v86 whole: another format, or pages that do not add up to the bitmap.
    assert.equal(splitGuestMemory(new ArrayBuffer(8)), undefined);
    assert.equal(splitGuestMemory(build([other, packed.subarray(4096), bitmap], cpu)), undefined);
    const wrongVersion = build([other, packed, bitmap], cpu);
    new Int32Array(wrongVersion, 4, 1)[0] = 5;
    assert.equal(splitGuestMemory(wrongVersion), undefined);
    assert.equal(splitGuestMemory(build([other, packed, bitmap], cpu.slice(0, 77))), undefined);
  });

  it("never has more console events in flight than the window", () => {
    const sent: number[] = [];
    const link = new AgentLink({ send: (b) => sent.push(b.length) });
    link.sendRaw(Buffer.alloc(100_000));
    assert.equal(sent.length, 8);
    assert.ok(sent.every((n) => n <= 4096));
    // The agent consumed two events' worth: two more go out.
    link.receive(encodeFrame(FrameType.credit, 0, Buffer.from([0x00, 0x20, 0, 0])));
    assert.equal(sent.length, 10);
  });
});

describe("vm backend", { skip: vmSkip }, () => {
  const dataDir = join(scratch, "data");
  const runtime = (backend: Backend) => new Runtime({ dataDir, backend });

  it("boots from scratch and delivers a container's output and exit code", async () => {
    const backend = new VmBackend({ snapshot: "cold-save", savePath: snapshotPath });
    const c = await runtime(backend).run({ image: "busybox", cmd: ["sh", "-c", "echo out; echo err >&2; uname -m; exit 7"], remove: true });
    const out = await c.output();
    assert.equal(backend.lastStart?.kind, "cold");
    assert.equal(out.exitCode, 7);
    assert.equal(out.stdout, "out\ni686\n");
    assert.equal(out.stderr, "err\n");
  });

  it("starts from the snapshot and delivers output and exit code", async () => {
    const backend = new VmBackend({ savePath: snapshotPath });
    const c = await runtime(backend).run({ image: "busybox", cmd: ["sh", "-c", "echo warm; exit 3"], remove: true });
    const out = await c.output();
    assert.ok(backend.lastStart?.kind === "restore", `started by ${JSON.stringify(backend.lastStart)}`);
    assert.equal(out.stdout, "warm\n");
    assert.equal(out.exitCode, 3);
  });

  it("every container gets its seccomp filter, also when the create names the profile by reference (seccompRef)", async () => {
    const backend = new VmBackend({ savePath: snapshotPath });
    const opened = await backend.acquire();
    try {
      // The create requests as they go on the guest's link.
      const creates: Record<string, any>[] = [];
      const link = opened.machine.link;
      const sendFrame = link.sendFrame.bind(link);
      link.sendFrame = (type, channel, payload) => {
        if (type === FrameType.ctrl && channel === 0 && payload) {
          const req = JSON.parse(Buffer.from(payload).toString("utf8"));
          if (req.op === "create") creates.push(req);
        }
        return sendFrame(type, channel, payload);
      };
      const rt = runtime(backend);
      const mode = async (seccomp?: "unconfined") => {
        const c = await rt.run({ image: "busybox", cmd: ["grep", "^Seccomp:", "/proc/self/status"], remove: true, ...(seccomp ? { seccomp } : {}) });
        return (await c.output()).stdout.replace(/\s+/g, " ").trim();
      };
      // The default profile in full, then by its number; unconfined sends none; the default again by number.
      assert.deepEqual([await mode(), await mode(), await mode("unconfined"), await mode()], ["Seccomp: 2", "Seccomp: 2", "Seccomp: 0", "Seccomp: 2"]);
      const wire = creates.map((r) => [r.seccompRef, r.spec.linux.seccomp !== undefined]);
      const ref = wire[0]![0];
      assert.equal(typeof ref, "number");
      assert.deepEqual(wire, [[ref, true], [ref, false], [undefined, false], [ref, false]]);
    } finally {
      backend.release();
      await backend.shutdown();
    }
  });

  it("before a restore the emulator has written no guest memory above the BIOS (so the restore need not zero it)", async () => {
    // What freshMemoryRestore relies on, on the real emulator: a restore's options without the state and
    // not started, so the memory is as restore_state finds it.
    const images = loadVmImages();
    const bios = readFileSync(images.bios);
    const files = { bios: bios.buffer.slice(bios.byteOffset, bios.byteOffset + bios.byteLength), kernel: new ArrayBuffer(0), initrd: new ArrayBuffer(0), wasm: await v86Module() };
    const options: Record<string, unknown> = { ...v86Options(DEFAULT_CONFIG, files, new ArrayBuffer(0), () => {}), initial_state: undefined, autostart: false };
    options.wasm_fn = async (env: WebAssembly.Imports) => (await WebAssembly.instantiate(files.wasm, env)).exports;
    const { V86 } = (await import("v86")) as unknown as { V86: new (o: Record<string, unknown>) => V86Like & { v86: { cpu: { is_memory_zeroed(a: number, n: number): number } } } };
    const emu = new V86(options);
    try {
      await new Promise<void>((resolve) => emu.add_listener("emulator-loaded", () => resolve()));
      const size = DEFAULT_CONFIG.memoryMb * 1024 * 1024;
      assert.equal(emu.v86.cpu.is_memory_zeroed(0, WRITTEN_BEFORE_RESTORE), 0, "the BIOS is in the first MiB: the check reads real memory");
      assert.equal(emu.v86.cpu.is_memory_zeroed(WRITTEN_BEFORE_RESTORE, size - WRITTEN_BEFORE_RESTORE), 1);
    } finally {
      await emu.destroy();
    }
  });

  it("restores guest memory from a split state exactly as v86's own restore does, also into an emulator made ahead of its state", async () => {
    const buf = readFileSync(join(loadVmImages().dir, "snapshot.state"));
    const state = () => buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
    const files = { bios: new ArrayBuffer(0), kernel: new ArrayBuffer(0), initrd: new ArrayBuffer(0), wasm: await v86Module() };
    assert.ok(splitGuestMemory(state()), "the snapshot is restored through the split");
    const { V86 } = (await import("v86")) as unknown as { V86: new (o: Record<string, unknown>) => V86Like & { v86: { cpu: { mem8: Uint8Array } } } };
    const memoryAfter = async (options: Record<string, unknown>, restore?: (emu: V86Like) => Promise<void>) => {
      const emu = new V86({ ...options, autostart: false });
      try {
        await new Promise<void>((resolve) => emu.add_listener("emulator-loaded", () => resolve()));
        await restore?.(emu);
        const m = emu.v86.cpu.mem8;
        return createHash("sha256").update(new Uint8Array(m.buffer, m.byteOffset, m.byteLength)).digest("hex");
      } finally {
        await emu.destroy();
      }
    };
    const split = await memoryAfter(v86Options(DEFAULT_CONFIG, files, state(), () => {}));
    // v86's own: the whole state, all memory zeroed first.
    const own = await memoryAfter({
      ...v86Options(DEFAULT_CONFIG, files, state(), () => {}),
      initial_state: { buffer: state() },
      wasm_fn: async (env: WebAssembly.Imports) => (await WebAssembly.instantiate(files.wasm, env)).exports,
    });
    // Made ahead of its state (GuestMachine.prepareRestore), restored once the state is there.
    const hooks = new RestoreHooks();
    const ahead = await memoryAfter(v86Options(DEFAULT_CONFIG, files, hooks, () => {}), (emu) => emu.restore_state(hooks.take(state())));
    assert.equal(split, own);
    assert.equal(ahead, own);
  });

  it("runs a linux/386 image loaded through a native Runtime (one store, no pull); the native backend refuses it, naming its platform", async () => {
    // The guest's busybox layout, named only by its tag, so `--name` decides its repository: a registry that does not exist.
    const layout = join(scratch, "vm-only");
    cpSync(join(loadVmImages().dir, "images", "busybox"), layout, { recursive: true });
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as { manifests: { annotations: Record<string, string> }[] };
    index.manifests[0]!.annotations = { "org.opencontainers.image.ref.name": "latest" };
    writeFileSync(join(layout, "index.json"), JSON.stringify(index));
    const loaded = await new Runtime({ dataDir, backend: "native" }).load(layout, { repository: "127.0.0.1:1/vm-only" });
    assert.deepEqual(loaded, ["127.0.0.1:1/vm-only:latest"]);
    const c = await runtime(new VmBackend({ savePath: snapshotPath })).run({ image: "127.0.0.1:1/vm-only", cmd: ["uname", "-m"], remove: true });
    const out = await c.output();
    assert.equal(out.stdout, "i686\n", out.stderr);
    await assert.rejects(
      new Runtime({ dataDir, backend: "native" }).run({ image: "127.0.0.1:1/vm-only", cmd: ["true"], remove: true }),
      /^ImageError: image 127\.0\.0\.1:1\/vm-only:latest has no linux\/amd64 variant here \(it has linux\/386\)/,
    );
  });

  it("reads on the host a file written in a volume inside the guest, and the other way round", async () => {
    const vol = mkdtempSync(join(scratch, "vol-"));
    writeFileSync(join(vol, "from-host"), "host says hi\n");
    const backend = new VmBackend({ savePath: snapshotPath });
    const c = await runtime(backend).run({
      image: "busybox",
      cmd: ["sh", "-c", "cat /data/from-host; echo written in the guest > /data/from-guest; mkdir -p /data/d/e; ls /data"],
      volumes: [{ host: vol, container: "/data" }],
      remove: true,
    });
    const out = await c.output();
    assert.equal(out.exitCode, 0, out.stderr);
    assert.match(out.stdout, /^host says hi\n/);
    assert.equal(readFileSync(join(vol, "from-guest"), "utf8"), "written in the guest\n");
    const ro = await runtime(backend).run({ image: "busybox", cmd: ["sh", "-c", "echo x > /data/nope"], volumes: [{ host: vol, container: "/data", readonly: true }], remove: true });
    const roOut = await ro.output();
    assert.notEqual(roOut.exitCode, 0);
    assert.match(roOut.stderr, /Read-only file system/);
  });

  it("pipes stdin through with flow control (300 KB round trip)", async () => {
    const backend = new VmBackend({ savePath: snapshotPath });
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    const c = await runtime(backend).run({ image: "busybox", cmd: ["cat"], stdin: true, remove: true });
    c.stdin!.end(data);
    const chunks: Buffer[] = [];
    for await (const chunk of c.stdout!) chunks.push(chunk as Buffer);
    const status = await c.wait();
    assert.equal(status.exitCode, 0);
    const got = Buffer.concat(chunks);
    assert.equal(got.length, data.length);
    assert.equal(createHash("sha256").update(got).digest("hex"), createHash("sha256").update(data).digest("hex"));
  });

  /** A vm backend that adds OCI linux.resources to every spec. */
  const limited = (resources: Record<string, unknown>): Backend => {
    const vm = new VmBackend({ savePath: snapshotPath });
    return {
      name: vm.name,
      capabilities: () => vm.capabilities(),
      start: (o: StartOptions) => vm.start({ ...o, spec: { ...o.spec, linux: { ...o.spec.linux, resources } } }),
    };
  };

  it("OOM-kills a container over its memory limit (cgroup2 in the guest)", async () => {
    const c = await runtime(limited({ memory: { limit: 24 * 1024 * 1024 } })).run({
      image: "busybox",
      cmd: ["awk", "BEGIN { s = \"xxxxxxxxxxxxxxxx\"; while (1) s = s s }"],
      remove: true,
    });
    const out = await c.output();
    assert.equal(out.exitCode, 137, out.stderr);
  });

  it("stops forks at the pids limit", async () => {
    const c = await runtime(limited({ pids: { limit: 4 } })).run({
      image: "busybox",
      cmd: ["sh", "-c", "for i in 1 2 3 4 5 6 7 8; do sleep 2 & done; wait; echo done"],
      remove: true,
    });
    const out = await c.output();
    assert.match(out.stderr, /can't fork|Resource temporarily unavailable/, out.stderr);
  });

  it("stop and remove({ force }) of this process's own running container end it at once (its supervisor is this process)", async () => {
    const rt = runtime(new VmBackend({ savePath: snapshotPath }));
    const stopped = await rt.run({ image: "busybox", cmd: ["sleep", "600"] });
    await stopped.stop({ timeout: 0 });
    assert.equal((await stopped.wait()).exitCode, 137);
    await stopped.remove();
    // Before, the remove waited 15 s for this very process to go, then said "did not stop" and left it.
    const removed = await rt.run({ image: "busybox", cmd: ["sleep", "600"] });
    await removed.remove({ force: true });
    await assert.rejects(rt.get(removed.id), /no such container/);
  });

  it("rejects an oversized and a malformed frame without hanging a running container's stream", async () => {
    const images = loadVmImages();
    const { machine } = await openMachine({ images, savePath: snapshotPath });
    try {
      const rejected: string[] = [];
      machine.link.on("rejected", (r: { message: string }) => rejected.push(r.message));
      const backend = new VmBackend({ idleMs: 60_000 });
      // Reuse this machine for the container: the backend's session is this one.
      (backend as unknown as { current: Promise<unknown> }).current = Promise.resolve({ machine, start: { kind: "cold", reason: "test" } });
      const c = await runtime(backend).run({ image: "busybox", cmd: ["sh", "-c", "for i in $(seq 1 40); do echo line $i; sleep 0.02; done"], remove: true });
      // Oversized (200 KB declared, the limit is 64 KB; its bytes follow), garbage, an unknown type, bad JSON.
      machine.link.sendRaw(Buffer.concat([encodeFrame(FrameType.data, 999, Buffer.alloc(200_000, 0x54)), Buffer.from("garbage"), encodeFrame(42, 1, Buffer.from("x")), encodeFrame(FrameType.ctrl, 0, Buffer.from("{not json"))]));
      const out = await c.output();
      assert.equal(out.exitCode, 0);
      assert.equal(out.stdout.trim().split("\n").length, 40);
      assert.ok(rejected.some((m) => /exceeds the limit/.test(m)), rejected.join("; "));
      assert.ok(rejected.some((m) => /bad frame magic/.test(m)), rejected.join("; "));
      assert.ok(rejected.some((m) => /unknown frame type/.test(m)), rejected.join("; "));
      assert.ok(rejected.some((m) => /malformed request/.test(m)), rejected.join("; "));
      await machine.link.request("ping", {}, 10_000);
      await backend.shutdown();
    } finally {
      await machine.destroy();
    }
  });

  it("boots from scratch with a notice when the snapshot is corrupt or made for another machine", async () => {
    const images = loadVmImages();
    const path = join(scratch, "bad", "snapshot.state");
    const first = await openMachine({ images, snapshot: "cold-save", savePath: path });
    await first.machine.destroy();
    // Corrupt: one byte flipped.
    const data = readFileSync(path);
    data[1000] = data[1000]! ^ 0xff;
    writeFileSync(path, data);
    const notices: string[] = [];
    const env = { ...process.env, TSBOX_VM_IMAGES: images.dir };
    const second = await openMachine({ images: { ...images, dir: join(scratch, "no-packaged") }, env, savePath: path, notice: (m) => notices.push(m) });
    await second.machine.destroy();
    assert.equal(second.start.kind, "cold");
    assert.match(notices.join("\n"), /corrupt.*booting the vm from scratch/);
    // Another device set (more memory): detected before v86 sees it.
    notices.length = 0;
    const third = await openMachine({ images: { ...images, dir: join(scratch, "no-packaged") }, config: { ...DEFAULT_CONFIG, memoryMb: 192 }, savePath: path, notice: (m) => notices.push(m) });
    await third.machine.destroy();
    assert.equal(third.start.kind, "cold");
    assert.match(notices.join("\n"), /another guest image, emulator version or device set/);
  });

  it("tsbox vm start/status/stop: runs share one long-lived guest, whose socket may be longer than a socket address", async () => {
    // A CI workspace's cache path: vm.sock is past the 108 bytes a socket address holds (it was cut, and made
    // outside the cache, and the daemon never came up).
    const deep = join(scratch, "c".repeat(60));
    const cacheHome = join(deep, "d".repeat(60));
    const { TSBOX_CACHE_DIR: _, ...inherited } = process.env;
    const env = { ...inherited, TSBOX_DATA_DIR: dataDir, XDG_CACHE_HOME: cacheHome, TSBOX_BACKEND: "vm" };
    assert.ok(Buffer.byteLength(join(cacheHome, "tsbox", "vm", "vm.sock")) > 108);
    const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { env, encoding: "utf8", timeout: 60_000 });
    const started = cli("vm", "start");
    try {
      assert.equal(started.status, 0, started.stderr);
      assert.match(started.stdout, /vm running: pid \d+/);
      const status = JSON.parse(cli("vm", "status", "--json").stdout) as { running: boolean; answering: boolean; pid: number; socket: string };
      assert.ok(status.running && status.answering);
      assert.equal(status.socket, join(cacheHome, "tsbox", "vm", "vm.sock"));
      assert.deepEqual(readdirSync(deep), ["d".repeat(60)], "nothing made at a cut path");
      // Same guest: its uptime goes on from one run to the next, and a run's exit code comes through.
      const up = () => Number(cli("run", "--rm", "busybox", "cut", "-d", " ", "-f", "1", "/proc/uptime").stdout);
      const a = up();
      const b = up();
      assert.ok(a > 0 && b > a, `uptimes ${a}, ${b}`);
      assert.equal(cli("run", "--rm", "busybox", "sh", "-c", "exit 5").status, 5);
      // Its guest's way out keeps the loopback setting it started with (closed): a run asking for it open is refused.
      assert.equal(JSON.parse(cli("vm", "status", "--json").stdout).hostLoopback, false);
      const open = spawnSync(process.execPath, [cliPath, "run", "--rm", "busybox", "true"], { env: { ...env, TSBOX_HOST_LOOPBACK: "1" }, encoding: "utf8", timeout: 60_000 });
      assert.equal(open.status, 125);
      assert.match(open.stderr, /^tsbox: the vm daemon \(pid \d+\) runs with this host's loopback closed to its containers, and this command asks for it open \(\$TSBOX_HOST_LOOPBACK\): stop it with tsbox vm stop/);
    } finally {
      assert.equal(cli("vm", "stop").status, 0);
    }
    assert.equal(cli("vm", "status").status, 1);
  });

  it("a run starts the shared guest on demand: another tsbox process execs into, stops and reads its foreground container; one guest for concurrent starts; it goes when idle", async () => {
    const cache = join(scratch, "on-demand-cache");
    const env = { ...process.env, TSBOX_DATA_DIR: dataDir, TSBOX_CACHE_DIR: cache, TSBOX_BACKEND: "vm", TSBOX_VM_IDLE: "3" };
    const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { env, encoding: "utf8", timeout: 60_000 });
    const daemons = () =>
      readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, "utf8").includes("vm\0serve") && readFileSync(`/proc/${p}/environ`, "utf8").split("\0").includes(`TSBOX_CACHE_DIR=${cache}`);
          } catch {
            return false;
          }
        });
    try {
      // Two first runs at once start one guest (the second would have taken the first's socket).
      const both = await Promise.all([0, 1].map((i) => runCli(env, ["run", "--rm", "busybox", "echo", `run${i}`])));
      assert.deepEqual(both.map((r) => [r.code, r.stdout]), [[0, "run0\n"], [0, "run1\n"]], both.map((r) => r.stderr).join(""));
      assert.equal(daemons().length, 1);
      const status = JSON.parse(cli("vm", "status", "--json").stdout) as { running: boolean; idleSeconds?: number };
      assert.deepEqual([status.running, status.idleSeconds], [true, 3]);
      // A foreground container, reached from other processes (exec and stop found it in no guest of theirs).
      const fg = spawn(process.execPath, [cliPath, "run", "--name", "fg", "busybox", "sh", "-c", "echo ready; sleep 60"], { env, stdio: ["ignore", "pipe", "pipe"] });
      const ended = new Promise<number | null>((resolve) => fg.on("exit", (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        fg.stdout.on("data", (d: Buffer) => d.toString().includes("ready") && resolve());
        fg.on("exit", () => reject(new Error("the foreground run ended first")));
      });
      const exec = cli("exec", "fg", "sh", "-c", "echo in $(hostname)");
      assert.equal(exec.status, 0, exec.stderr);
      assert.match(exec.stdout, /^in [0-9a-f]{12}\n$/);
      assert.equal(cli("logs", "fg").stdout, "ready\n");
      assert.equal(cli("stop", "-t", "1", "fg").status, 0);
      assert.equal(await ended, 137, "sh ignores SIGTERM as PID 1: killed after -t");
      assert.match(cli("ps", "-a", "--filter", "name=fg", "--format", "{{.Status}}").stdout, /^Exited \(137\)/);
      // Idle (no client, no container) for its 3 s: gone by itself.
      for (let i = 0; i < 100 && cli("vm", "status").status === 0; i++) await new Promise((r) => setTimeout(r, 200));
      assert.equal(cli("vm", "status").status, 1, "the guest started on demand stopped when idle");
      assert.deepEqual(daemons(), []);
    } finally {
      cli("rm", "-f", "fg");
      cli("vm", "stop", "--force");
    }
  });

  it("a guest a detached container started (run -d) stays while it runs, and stops by itself TSBOX_VM_IDLE seconds after the last one ends", async () => {
    const cache = join(scratch, "detached-idle-cache");
    const shared = join(scratch, "detached-idle-dir");
    mkdirSync(shared);
    const env = { ...process.env, TSBOX_DATA_DIR: dataDir, TSBOX_CACHE_DIR: cache, TSBOX_BACKEND: "vm", TSBOX_VM_IDLE: "1" };
    const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { env, encoding: "utf8", timeout: 120_000 });
    try {
      const r = cli("run", "-d", "--rm", "--name", "idler", "-v", `${shared}:/w`, "busybox", "sh", "-c", "until [ -f /w/go ]; do sleep 0.1; done");
      assert.equal(r.status, 0, r.stderr);
      const status = JSON.parse(cli("vm", "status", "--json").stdout) as { running: boolean; idleSeconds?: number };
      assert.deepEqual([status.running, status.idleSeconds], [true, 1], "started on demand, not to stay until vm stop");
      // Well past its idle stay, the running container keeps it up.
      await new Promise((res) => setTimeout(res, 4000));
      assert.equal(cli("vm", "status").status, 0, "the guest stays while a detached container runs");
      assert.match(cli("ps", "--filter", "name=idler", "--format", "{{.Status}}").stdout, /^Up /);
      writeFileSync(join(shared, "go"), "");
      for (let i = 0; i < 300 && cli("vm", "status").status === 0; i++) await new Promise((res) => setTimeout(res, 200));
      assert.equal(cli("vm", "status").status, 1, "the guest stopped once the container ended and its idle stay passed");
    } finally {
      cli("rm", "-f", "idler");
      cli("vm", "stop", "--force");
    }
  });

  it("a run aborted while its guest starts rejects with the signal's reason and makes nothing", async () => {
    const backend = new VmBackend({ savePath: snapshotPath, daemon: false });
    const controller = new AbortController();
    const reason = new Error("aborted by the test");
    // Aborted 300 ms into the backend's start: the guest's restore takes seconds.
    const start = backend.start.bind(backend);
    backend.start = (options: StartOptions) => (setTimeout(() => controller.abort(reason), 300), start(options));
    const rt = runtime(backend);
    try {
      await assert.rejects(rt.run({ image: "busybox", cmd: ["sh", "-c", "echo ran"], name: "abortme" }, { signal: controller.signal }), (err) => err === reason);
      assert.deepEqual((await rt.list({ all: true })).map((c) => c.name).filter((n) => n === "abortme"), [], "no container left");
      assert.deepEqual(readdirSync(join(dataDir, "containers")).filter((d) => !d.startsWith(".") && readFileSync(join(dataDir, "containers", d, "state.json"), "utf8").includes('"abortme"')), []);
    } finally {
      await backend.shutdown();
    }
  });

  it("Ctrl-C while a CLI run starts the vm guest ends it with SIGINT's status and no container", async () => {
    const cache = join(scratch, "abort-cache");
    const env = { ...process.env, TSBOX_DATA_DIR: dataDir, TSBOX_CACHE_DIR: cache, TSBOX_BACKEND: "vm", TSBOX_VM_IDLE: "30" };
    const cli = (...args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { env, encoding: "utf8", timeout: 60_000 });
    try {
      const run = spawn(process.execPath, [cliPath, "run", "--init", "--name", "ctrlc", "busybox", "sh", "-c", "echo booted; sleep 4; echo end"], { env, stdio: ["ignore", "pipe", "pipe"] });
      let out = "";
      run.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => run.on("exit", (code, sig) => resolve([code, sig])));
      // The daemon's log is opened as its start begins: the guest is starting now.
      for (let i = 0; i < 300 && !existsSync(join(cache, "vm", "vm.log")); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok(existsSync(join(cache, "vm", "vm.log")), "the run started the vm daemon");
      run.kill("SIGINT");
      const [code, sig] = await ended;
      assert.ok(sig === "SIGINT" || code === 130, `ended by SIGINT (a shell's 130), not ${code ?? sig}`);
      assert.equal(out, "", "the command never ran");
      const ps = cli("ps", "-a", "--filter", "name=ctrlc", "--format", "{{.Names}}");
      assert.equal(ps.status, 0, ps.stderr);
      assert.equal(ps.stdout, "", "no container");
    } finally {
      cli("rm", "-f", "ctrlc");
      cli("vm", "stop", "--force");
    }
  });

  it("says clearly when the guest does not come up in time", async () => {
    await assert.rejects(Machine.boot(loadVmImages(), DEFAULT_CONFIG, { hostLoopback: false }, 300), /the vm guest did not start its agent within 0\.3 s/);
  });
});

/** The CLI as a child with `env`, its output collected (several at once). */
function runCli(env: NodeJS.ProcessEnv, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}
