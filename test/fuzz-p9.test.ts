/**
 * Fuzzing the 9p server (src/backends/vm/core/p9/server.ts) as a hostile guest
 * kernel would: sequences of well-formed requests of every type with
 * random fids, names ("..", "/", NUL, long), flags, offsets and counts,
 * mutated requests and random bytes — over a NodeFs export of a temp
 * directory (with symlinks pointing out of it, a file export, a read-only
 * export) and over a MemoryFs. Every request gets exactly one well-formed
 * reply; nothing outside the exports changes; no host fd outlives the
 * server; fids and memory stay bounded. The server is synchronous, so each
 * file system runs in a child process that is killed if it hangs.
 * Seeded: see test/helpers/fuzz.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { O, type P9Fs } from "../src/backends/vm/core/p9/fs.js";
import { MemoryFs } from "../src/backends/vm/core/p9/memory-fs.js";
import { NodeFs } from "../src/backends/vm/node/p9/node-fs.js";
import { P9Server } from "../src/backends/vm/core/p9/server.js";
import { MessageReader, MessageWriter } from "../src/backends/vm/core/p9/wire.js";
import { fuzz, mutate, type Rng } from "./helpers/fuzz.js";
import { fdsUnder } from "./helpers/leaks.js";
import { T } from "./helpers/p9-client.js";

const child = process.env.TSBOX_FUZZ_P9;
const SECONDS = 15; // per file system


async function defineTests(): Promise<void> {
  const { it } = await import("node:test");
  for (const kind of ["node", "memory"] as const) {
    it(`9p server over ${kind === "node" ? "NodeFs (a temp export)" : "MemoryFs"}: every request answered once, nothing outside the exports touched, bounded`, () => {
      const seconds = Number(process.env.TSBOX_FUZZ_SECONDS) > 0 ? Number(process.env.TSBOX_FUZZ_SECONDS) : SECONDS;
      const r = spawnSync(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url)], {
        env: { ...process.env, TSBOX_FUZZ_P9: kind },
        encoding: "utf8",
        timeout: (seconds + 90) * 1000,
        maxBuffer: 64 << 20,
      });
      process.stderr.write(r.stderr);
      assert.equal(r.signal, null, `the 9p fuzzer hung and was killed: ${r.stderr.slice(-2000)}`);
      assert.equal(r.status, 0, r.stderr.slice(-4000));
      assert.ok(JSON.parse(r.stdout).cases > 0);
    });
  }
}

// ---- the child: one file system ---------------------------------------------

interface Target {
  server: P9Server;
  /** Fingerprint of everything the guest must not change. */
  outside(): string;
  openFds(): number;
  close(): void;
}

const NAMES = ["a", "b", "dir", "file", "escape", "abs", "..", ".", "", "a/b", "x\0y", "new", "n".repeat(300), "ü", ".wh.a", "rw", "ro", "f", "nope"];
const FLAGS = [O.RDONLY, O.WRONLY, O.RDWR, O.RDWR | O.TRUNC, O.WRONLY | O.APPEND, O.CREAT | O.EXCL | O.WRONLY, O.NOFOLLOW, 0o4000, 0xffffffff];

function nodeTarget(): Target {
  const sandbox = mkdtempSync(join(tmpdir(), "fuzz-p9-"));
  const exp = join(sandbox, "export");
  const ro = join(sandbox, "ro");
  const outside = join(sandbox, "outside");
  for (const d of [exp, join(exp, "dir"), ro, outside]) mkdirSync(d);
  writeFileSync(join(exp, "file"), "exported\n");
  writeFileSync(join(exp, "dir", "a"), "a\n");
  writeFileSync(join(ro, "f"), "read only\n");
  writeFileSync(join(outside, "canary"), "must not change\n");
  writeFileSync(join(sandbox, "single"), "a file export\n");
  symlinkSync("../outside", join(exp, "escape"));
  symlinkSync(join(outside, "canary"), join(exp, "abs"));
  const server = new P9Server(new NodeFs(), { fids: 4096, open: 256, path: 4096, dirEntries: 10000 });
  server.addExport("rw", { path: exp, readonly: false });
  server.addExport("ro", { path: ro, readonly: true });
  server.addExport("f", { path: join(sandbox, "single"), readonly: false });
  const fingerprint = (dir: string, h = createHash("sha256")) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      h.update(`${e.name}:${e.isDirectory() ? "d" : e.isFile() ? "f" : e.isSymbolicLink() ? "l" : "o"}\n`);
      if (e.isDirectory()) fingerprint(join(dir, e.name), h);
      else if (e.isFile()) h.update(readFileSync(join(dir, e.name)));
    }
    return h;
  };
  return {
    server,
    outside: () => {
      const h = fingerprint(outside);
      fingerprint(ro, h);
      h.update(readdirSync(sandbox).sort().join(","));
      return h.digest("hex");
    },
    openFds: () => fdsUnder(sandbox),
    close: () => {
      server.closeAll();
      rmSync(sandbox, { recursive: true, force: true });
    },
  };
}

function memoryTarget(): Target {
  const fs = new MemoryFs({ capacity: 64 << 20 });
  for (const d of ["/export", "/export/dir", "/ro", "/outside"]) fs.mkdir(d, 0o755);
  const put = (path: string, text: string) => {
    const fd = fs.open(path, O.WRONLY | O.CREAT, 0o644);
    fs.write(fd, new TextEncoder().encode(text), 0);
    fs.close(fd);
  };
  put("/export/file", "exported\n");
  put("/export/dir/a", "a\n");
  put("/ro/f", "read only\n");
  put("/outside/canary", "must not change\n");
  put("/single", "a file export\n");
  fs.symlink("../outside", "/export/escape");
  fs.symlink("/outside/canary", "/export/abs");
  const server = new P9Server(fs, { fids: 4096, open: 256, path: 4096, dirEntries: 10000 });
  server.addExport("rw", { path: "/export", readonly: false });
  server.addExport("ro", { path: "/ro", readonly: true });
  server.addExport("f", { path: "/single", readonly: false });
  const dump = (f: P9Fs, dir: string): string =>
    f
      .readdir(dir)
      .sort()
      .map((n) => {
        const p = `${dir}/${n}`;
        const st = f.lstat(p);
        if ((st.mode & 0o170000) === 0o040000) return `${p}/\n${dump(f, p)}`;
        if ((st.mode & 0o170000) !== 0o100000) return `${p}@\n`;
        const fd = f.open(p, O.RDONLY);
        const buf = new Uint8Array(Number(st.size));
        f.read(fd, buf, 0);
        f.close(fd);
        return `${p}:${Buffer.from(buf).toString("hex")}\n`;
      })
      .join("");
  return {
    server,
    outside: () => dump(fs, "/outside") + dump(fs, "/ro") + fs.readdir("/").sort().join(","),
    openFds: () => 0,
    close: () => server.closeAll(),
  };
}

/** One request of type `type` with random (mostly plausible) fields. */
function request(rng: Rng, type: number): Uint8Array {
  const w = new MessageWriter();
  const fid = () => w.u32(rng.chance(0.9) ? rng.int(10) : rng.next());
  const name = () => w.str(rng.chance(0.9) ? rng.pick(NAMES) : rng.bytes(rng.size(64)).toString("latin1"));
  const u32 = () => w.u32(rng.chance(0.7) ? rng.int(4096) : rng.next());
  const u64 = () => w.u64(rng.chance(0.7) ? BigInt(rng.int(65536)) : BigInt(rng.next()) * BigInt(rng.next()));
  switch (type) {
    case T.version:
      w.u32(rng.pick([8192, 65536, 512000, 100, 0, 0xffffffff]));
      w.str(rng.pick(["9P2000.L", "9P2000", ""]));
      break;
    case T.attach:
      fid();
      w.u32(0xffffffff);
      w.str("root");
      w.str(rng.pick(["", "/", "rw", "/ro", "f", "nope", "../rw"]));
      u32();
      break;
    case T.walk: {
      fid();
      fid();
      const n = rng.chance(0.95) ? rng.int(5) : rng.int(40);
      w.u16(n);
      for (let i = 0; i < n; i++) name();
      break;
    }
    case T.lopen:
      fid();
      w.u32(rng.pick(FLAGS));
      break;
    case T.lcreate:
      fid();
      name();
      w.u32(rng.pick(FLAGS));
      w.u32(rng.pick([0o644, 0o777, 0o4755, 0o20644]));
      u32();
      break;
    case T.read:
    case T.readdir:
      fid();
      u64();
      u32();
      break;
    case T.write: {
      fid();
      u64();
      const data = rng.bytes(rng.size(2048));
      w.u32(rng.chance(0.9) ? data.length : rng.next());
      w.raw(data);
      break;
    }
    case T.setattr:
      fid();
      w.u32(rng.int(512));
      for (let i = 0; i < 3; i++) u32();
      u64();
      for (let i = 0; i < 4; i++) u64();
      break;
    case T.mkdir:
    case T.symlink:
      fid();
      name();
      if (type === T.symlink) w.str(rng.pick(["../outside", "/", "a", "../../..", ""]));
      else w.u32(0o755);
      u32();
      break;
    case T.mknod:
      fid();
      name();
      w.u32(rng.pick([0o20644, 0o10644, 0o60644]));
      u32();
      u32();
      u32();
      break;
    case T.rename:
      fid();
      fid();
      name();
      break;
    case T.renameat:
      fid();
      name();
      fid();
      name();
      break;
    case T.unlinkat:
      fid();
      name();
      w.u32(rng.pick([0, 0x200]));
      break;
    case T.link:
      fid();
      fid();
      name();
      break;
    case T.xattrwalk:
      fid();
      fid();
      w.str(rng.pick(["", "user.x", "trusted.overlay.opaque", "user.overlay.whiteout"]));
      break;
    default:
      // getattr, readlink, statfs, fsync, clunk, remove, and the rest: a fid and noise
      fid();
      if (rng.chance(0.5)) u64();
  }
  return w.finish(type, rng.int(0x10000));
}

const TYPES = Object.values(T);

async function runChild(kind: "node" | "memory"): Promise<void> {
  const baseRss = process.memoryUsage().rss;
  const result = await fuzz({
    name: `p9-${kind}`,
    seconds: SECONDS,
    checkEvery: 20,
    run(rng) {
      const target = kind === "node" ? nodeTarget() : memoryTarget();
      const fdsBefore = target.openFds();
      const clean = target.outside();
      try {
        const { server } = target;
        const send = (msg: Uint8Array, tag: number | undefined) => {
          const replies: Uint8Array[] = [];
          server.handle(msg, (b) => replies.push(b));
          assert.equal(replies.length, 1, "exactly one reply per request");
          const reply = replies[0]!;
          assert.ok(reply.length >= 7, "a reply has a header");
          const r = new MessageReader(reply);
          assert.equal(r.u32(), reply.length, "the size field is the reply's length");
          const type = r.u8();
          const replyTag = r.u16();
          if (tag !== undefined) {
            assert.equal(replyTag, tag, "the reply carries the request's tag");
            assert.ok(type === 7 || type === msg[4]! + 1, `reply type ${type} to request ${msg[4]}`);
          }
        };
        if (rng.chance(0.9)) {
          send(request(rng, T.version), undefined);
          send(request(rng, T.attach), undefined);
        }
        for (let i = 10 + rng.int(120); i > 0; i--) {
          let msg = request(rng, rng.chance(0.97) ? rng.pick(TYPES) : rng.int(256));
          let tag: number | undefined = msg.length >= 7 ? msg[5]! | (msg[6]! << 8) : undefined;
          if (rng.chance(0.1)) {
            msg = mutate(rng, Buffer.from(msg));
            tag = undefined;
          }
          if (rng.chance(0.02)) {
            msg = rng.bytes(rng.size(32));
            tag = undefined;
          }
          send(msg, tag);
        }
        const counts = server.fidCounts();
        assert.ok(counts.fids <= 4096 && counts.open <= 256 && counts.dirEntries <= 10000 + 64, JSON.stringify(counts));
        assert.equal(target.outside(), clean, "nothing outside the exports may change");
      } finally {
        target.close();
      }
      assert.equal(target.openFds(), fdsBefore, "no host fd outlives the server");
    },
    check() {
      const grown = process.memoryUsage().rss - baseRss;
      assert.ok(grown < 512 << 20, `memory grew by ${grown >> 20} MiB`);
    },
  });
  process.stdout.write(JSON.stringify(result) + "\n");
}

// Last: the module's constants above must exist first.
if (child) await runChild(child as "node" | "memory");
else await defineTests();
