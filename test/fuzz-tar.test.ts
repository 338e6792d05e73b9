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
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createGunzip, gzipSync } from "node:zlib";
import { LayerError } from "../src/errors.js";
import { removeTree } from "../src/remove-tree.js";
import { limitExpansion } from "../src/image/compression.js";
import { readTar } from "../src/image/tar.js";
import { paxHeader, TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";
import { unpackLayer } from "../src/image/unpack.js";
import { fuzz, mutate, Rng, within } from "./helpers/fuzz.js";

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
      const key = rng.pick(["path", "linkpath", "size", "uid", "mtime", "SCHILY.xattr.user.x", "SCHILY.xattr.trusted.overlay.opaque", "SCHILY.xattr.user.overlay.whiteout", "SCHILY.xattr.security.capability", ...SPARSE_KEYS]);
      e.pax[key] = rng.chance(0.5) ? rng.pick(["y", "0", "1", "-1", "99999999999999999999", "../x", "1.5", "", "0,1,2,3", "5,1", "1,"]) : randomPath(rng);
    }
  }
  return e;
}

const SPARSE_KEYS = ["GNU.sparse.major", "GNU.sparse.minor", "GNU.sparse.map", "GNU.sparse.size", "GNU.sparse.realsize", "GNU.sparse.name", "GNU.sparse.numblocks"];

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
        if (gz) stream = limitExpansion(gunzip(stream), "fuzz layer", data.length, { maxBytes: 64 << 20, maxRatio: 1000, ratioFloor: 1 << 20, maxEntries: 100_000 });
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

describe("sparse files", () => {
  const src = join(sandbox, "sparse-src");
  const want = new Map<string, Buffer>();
  before(() => {
    // Files with holes: inside, at the end, and more fragments than an old GNU header holds (extension blocks).
    mkdirSync(join(src, "data"), { recursive: true });
    const write = (name: string, size: number, islands: [number, string][]) => {
      const content = Buffer.alloc(size);
      const fd = openSync(join(src, "data", name), "w");
      ftruncateSync(fd, size);
      for (const [at, text] of islands) {
        writeSync(fd, text, at);
        content.write(text, at);
      }
      closeSync(fd);
      want.set(`data/${name}`, content);
    };
    write("sparse", 8 << 20, [[0, "START"], [3_000_000, "MIDDLE"]]);
    write("tailhole", 3 << 20, [[0, "X"]]);
    write("many", 40 << 16, Array.from({ length: 14 }, (_, i): [number, string] => [i * 3 * 65536, `island${i}`.repeat(100)]));
    want.set("data/dense", randomBytes(100_000));
    writeFileSync(join(src, "data", "dense"), want.get("data/dense")!);
  });

  for (const [format, args] of [
    ["pax 1.0 (tar --format=posix --sparse)", ["--format=posix"]],
    ["pax 0.1", ["--format=posix", "--sparse-version=0.1"]],
    ["pax 0.0", ["--format=posix", "--sparse-version=0.0"]],
    ["old GNU ('S' entries)", ["--format=gnu"]],
  ] as const) {
    it(`GNU tar's ${format} form unpacks as the files, their holes as holes`, async () => {
      const archive = execFileSync("tar", ["-C", src, ...args, "--sparse", "--numeric-owner", "-cf", "-", "data"], { maxBuffer: 64 << 20 });
      const root = join(sandbox, `sparse-${format.replace(/\W+/g, "-")}`);
      mkdirSync(root);
      try {
        await unpackLayer(readTar(chunks(new Rng(1), archive)), root, { privileged: isRoot });
        assert.deepEqual(readdirSync(join(root, "data")).sort(), ["dense", "many", "sparse", "tailhole"], "no GNUSparseFile.<pid> directory");
        for (const [path, content] of want) assert.ok(readFileSync(join(root, path)).equals(content), `${path}'s bytes`);
        // 8 MiB with two short islands of data: a few blocks of 512 bytes, not 16384.
        assert.ok(statSync(join(root, "data", "sparse")).blocks < 200, "the holes stay holes");
      } finally {
        await removeTree(root);
      }
    });
  }

  /** One pax-format file with these records and `data` as its body. */
  const paxSparse = (pax: Record<string, string>, data: Buffer | string) => {
    const t = new TarWriter();
    t.add({ path: "d/GNUSparseFile.1/f", type: "file", mode: 0o644, mtime: 0, pax, data: Buffer.from(data) });
    return t.finish();
  };
  const v1 = (realsize: number, map: string, data: string) => {
    const text = Buffer.from(map);
    const blocks = Buffer.concat([text, Buffer.alloc((512 - (text.length % 512)) % 512)]);
    return paxSparse({ "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "d/f", "GNU.sparse.realsize": String(realsize) }, Buffer.concat([blocks, Buffer.from(data)]));
  };
  const v01 = (realsize: number, map: string, data: string) => paxSparse({ "GNU.sparse.major": "0", "GNU.sparse.minor": "1", "GNU.sparse.name": "d/f", "GNU.sparse.size": String(realsize), "GNU.sparse.map": map }, data);
  for (const [what, archive, error] of [
    ["overlapping fragments", v01(100, "0,10,5,10", "x".repeat(20)), /overlap or are out of order/],
    ["unsorted fragments", v01(100, "50,10,0,10", "x".repeat(20)), /overlap or are out of order/],
    ["a fragment past the size", v01(100, "95,10", "x".repeat(10)), /reaches past the file's size/],
    ["a map naming more data than the entry has", v01(100, "0,10", "x".repeat(5)), /names 10 bytes of data, the entry holds 5/],
    ["a map naming less data than the entry has", v1(100, "1\n0\n5\n", "x".repeat(10)), /names 5 bytes of data, the entry holds 10/],
    ["an odd map", v01(100, "0,10,20", "x".repeat(10)), /odd count/],
    ["a huge count", v1(100, "9999999999999\n" + "0\n".repeat(249), ""), /map runs past the entry's data/],
    ["a count its map does not hold", v1(100, "99999999999999\n0\n5\n", "x".repeat(5)), /malformed map/],
    ["a map of more than 1 MiB", v1(100, "400000\n" + "0\n0\n".repeat(400_000), ""), /more than 1 MiB/],
    ["a map that is not numbers", v1(100, "1\n0\nfive\n", "x".repeat(5)), /invalid pax GNU.sparse map/],
    ["an unknown version", paxSparse({ "GNU.sparse.major": "2", "GNU.sparse.minor": "0", "GNU.sparse.realsize": "5" }, "x"), /unsupported GNU sparse format 2.0/],
    ["no real size", paxSparse({ "GNU.sparse.major": "1", "GNU.sparse.minor": "0" }, "x".repeat(512)), /no GNU.sparse.realsize/],
    ["0.0 records out of turn", paxSparse({ "GNU.sparse.size": "9", "GNU.sparse.numbytes": "1", "GNU.sparse.offset": "0" }, "x"), /out of turn/],
  ] as const) {
    it(`refuses a sparse file with ${what}`, async () => {
      const root = join(sandbox, `sparse-bad-${what.replace(/\W+/g, "-")}`);
      mkdirSync(root);
      try {
        await assert.rejects(unpackLayer(readTar(chunks(new Rng(1), archive)), root, { privileged: false }), (err: unknown) => err instanceof LayerError && error.test(err.message));
      } finally {
        await removeTree(root);
      }
    });
  }
});
