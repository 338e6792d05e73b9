/**
 * Fuzzing the tar reader and the layer unpacker (src/image/tar.ts,
 * unpack.ts, the expansion caps of compression.ts): archives built from
 * random entries (escaping paths, links to outside, whiteouts, device nodes,
 * pax records), then mutated, gzip'd or not, fed in random chunk sizes and
 * unpacked into a temp root — as a layer (privileged when root) or as a
 * `load` archive. Every case must end in success or a clean LayerError (or
 * gzip's own error) within seconds, nothing may appear or change outside
 * the root, and memory stays bounded. Seeded: see test/helpers/fuzz.ts.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { createGunzip, gzipSync } from "node:zlib";
import { LayerError } from "../src/errors.js";
import { removeTree } from "../src/remove-tree.js";
import { limitExpansion } from "../src/image/compression.js";
import { readTar } from "../src/image/tar.js";
import { paxHeader, TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";
import { unpackLayer } from "../src/image/unpack.js";
import { fuzz, mutate, type Rng, within } from "./helpers/fuzz.js";

const isRoot = process.getuid!() === 0;
const sandbox = mkdtempSync(join(tmpdir(), "fuzz-tar-"));
const outside = join(sandbox, "outside");
mkdirSync(outside);
writeFileSync(join(outside, "canary"), "must not change\n");
after(() => rmSync(sandbox, { recursive: true, force: true }));

/** What is outside the root: a fingerprint that no case may change. */
function outsideFingerprint(): string {
  const h = createHash("sha256");
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      h.update(`${dir}/${e.name}:${e.isDirectory() ? "d" : e.isFile() ? "f" : "o"}\n`);
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.isFile()) h.update(readFileSync(join(dir, e.name)));
    }
  };
  walk(outside);
  h.update(readdirSync(sandbox).sort().join(","));
  return h.digest("hex");
}
const clean = outsideFingerprint();

const NAMES = ["a", "b", "etc", "passwd", "..", ".", "", ".wh.a", ".wh..wh..opq", ".wh.", "outside", "ü", "a b", "x".repeat(255), "y".repeat(300)];
const TARGETS = ["a", "../a", "../../outside", "../../../..", outside, join(outside, "canary"), "/etc/passwd", "/", "", "a/b/../../..", "./b"];

function randomPath(rng: Rng): string {
  const parts = Array.from({ length: 1 + rng.int(4) }, () => rng.pick(NAMES));
  return (rng.chance(0.1) ? "/" : "") + parts.join("/") + (rng.chance(0.1) ? "/" : "");
}

function randomEntry(rng: Rng): TarWriteEntry {
  const type = rng.pick(["file", "file", "file", "directory", "directory", "symlink", "symlink", "hardlink", "chardev", "blockdev", "fifo"] as const);
  const e: TarWriteEntry = { path: randomPath(rng), type, mode: rng.chance(0.8) ? rng.pick([0o644, 0o755, 0o700, 0o000, 0o4755]) : rng.int(0o10000), mtime: rng.int(2 ** 31), uid: rng.chance(0.7) ? 0 : rng.int(70000), gid: rng.int(70000) };
  if (type === "file") e.data = rng.chance(0.1) ? Buffer.alloc(rng.size(1 << 20)) : rng.bytes(rng.size(4096));
  if (type === "symlink" || type === "hardlink") e.linkname = rng.chance(0.7) ? rng.pick(TARGETS) : randomPath(rng);
  if (type === "chardev" || type === "blockdev") [e.devmajor, e.devminor] = rng.pick([[0, 0], [1, 5], [229, 1], [8, 0]]);
  if (rng.chance(0.2)) {
    e.pax = {};
    for (let i = rng.int(4); i >= 0; i--) {
      const key = rng.pick(["path", "linkpath", "size", "uid", "mtime", "SCHILY.xattr.user.x", "SCHILY.xattr.trusted.overlay.opaque", "SCHILY.xattr.user.overlay.whiteout", "SCHILY.xattr.security.capability"]);
      e.pax[key] = rng.chance(0.5) ? rng.pick(["y", "0", "-1", "99999999999999999999", "../x", "1.5", ""]) : randomPath(rng);
    }
  }
  return e;
}

/** A tar of random entries (entries the writer cannot encode are dropped), sometimes with stray pax headers. */
function randomArchive(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let i = 1 + rng.int(10); i > 0; i--) {
    if (rng.chance(0.05)) parts.push(paxHeader({ [`k${i}`]: "v".repeat(rng.size(8192)) }, rng.chance(0.5)));
    const t = new TarWriter();
    try {
      t.add(randomEntry(rng));
    } catch {
      continue;
    }
    parts.push(t.finish().subarray(0, -1024)); // without its end marker
  }
  if (rng.chance(0.9)) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function* chunks(rng: Rng, data: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < data.length; ) {
    const n = 1 + rng.size(Math.min(65536, data.length - at));
    yield data.subarray(at, at + n);
    at += n;
  }
}

async function* gunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const z = createGunzip();
  void (async () => {
    try {
      for await (const c of source) if (!z.write(c)) await new Promise((r) => (z.once("drain", r), z.once("close", r)));
      z.end();
    } catch (err) {
      z.destroy(err as Error);
    }
  })();
  try {
    for await (const c of z) yield c as Buffer;
  } finally {
    z.destroy();
  }
}

/** Errors a bad archive may end with: ours, or zlib's for corrupt gzip. */
function isCleanError(err: unknown): boolean {
  if (err instanceof LayerError) return true;
  const code = String((err as { code?: unknown }).code ?? "");
  return code.startsWith("Z_") || code === "ERR_STREAM_PREMATURE_CLOSE";
}

it("tar reader + unpacker: random and mutated archives end cleanly, write only into their root, in bounded memory", { timeout: 600_000 }, async () => {
  const baseRss = process.memoryUsage().rss;
  let roots = 0;
  const result = await fuzz({
    name: "tar",
    seconds: 30,
    checkEvery: 25,
    async run(rng) {
      let data = randomArchive(rng);
      const gz = rng.chance(0.3);
      if (gz) data = gzipSync(data, { level: 1 });
      if (rng.chance(0.6)) data = mutate(rng, data);
      if (rng.chance(0.03)) data = rng.bytes(rng.size(8192));
      const root = join(sandbox, `root-${roots++}`);
      mkdirSync(root);
      try {
        let stream: AsyncIterable<Buffer> = chunks(rng, data);
        if (gz) stream = limitExpansion(gunzip(stream), "fuzz layer", data.length, { maxBytes: 64 << 20, maxRatio: 1000, ratioFloor: 1 << 20 });
        const options = { privileged: isRoot && rng.chance(0.2), archive: rng.chance(0.3) };
        await within(unpackLayer(readTar(stream), root, options), 20_000, "unpacking");
      } catch (err) {
        if (!isCleanError(err)) throw err;
      } finally {
        await removeTree(root);
      }
      assert.equal(outsideFingerprint(), clean, "nothing outside the root may change");
    },
    check() {
      const grown = process.memoryUsage().rss - baseRss;
      assert.ok(grown < 768 << 20, `memory grew by ${grown >> 20} MiB`);
    },
  });
  assert.ok(result.cases > 0);
});
