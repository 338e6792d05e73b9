/**
 * Layers unpacked where there are no xattr calls (no native addon: macOS,
 * Windows) keep their whiteouts in the OCI form (paths.ts WhiteoutForm).
 * Without a guest: the unpacked tree, the image's view on the host
 * (layer-view.ts), and what the vm's 9p file system shows the guest's
 * overlayfs (node/p9/node-fs.ts: overlay's own whiteouts and opaque dirs,
 * never the markers, and only inside such a layer). The guest's overlay
 * over it runs in test/vm-layers.test.ts.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { S_IFCHR, S_IFMT } from "../src/backends/vm/core/p9/fs.js";
import { NodeFs } from "../src/backends/vm/node/p9/node-fs.js";
import { LayerView } from "../src/image/layer-view.js";
import { readTar } from "../src/image/tar.js";
import { TarWriter, type TarWriteEntry } from "../src/image/tar-writer.js";
import { unpackLayer } from "../src/image/unpack.js";
import { DataPaths, inOciFormLayer } from "../src/paths.js";

const file = (path: string, data = "x"): TarWriteEntry => ({ path, type: "file", mode: 0o644, mtime: 0, data: Buffer.from(data) });
const dir = (path: string): TarWriteEntry => ({ path, type: "directory", mode: 0o755, mtime: 0 });

async function* chunks(buf: Buffer): AsyncIterable<Buffer> {
  yield buf;
}

describe("layers in the OCI whiteout form (hosts without the native addon)", () => {
  const scratch = mkdtempSync(join(tmpdir(), "tsbox-ociwh-"));
  after(() => rmSync(scratch, { recursive: true, force: true }));
  const paths = new DataPaths(join(scratch, "data"));
  const lower = paths.layerDir(`sha256:${"1".repeat(64)}`, "oci");
  const upper = paths.layerDir(`sha256:${"2".repeat(64)}`, "oci");

  const unpack = async (entries: TarWriteEntry[], root: string) => {
    const tar = new TarWriter();
    for (const e of entries) tar.add(e);
    mkdirSync(root, { recursive: true });
    await unpackLayer(readTar(chunks(tar.finish())), root, { privileged: false, whiteouts: "oci" });
  };

  it("keeps each marker as the empty file the layer has, and drops what it deletes from the same layer", async () => {
    await unpack([dir("etc"), file("etc/gone"), file("etc/kept"), dir("opq"), file("opq/old"), file("top-gone"), dir("deep"), file("deep/f")], lower);
    await unpack([dir("etc"), file("etc/twice"), file("etc/.wh.twice", ""), file("etc/.wh.gone", ""), dir("opq"), file("opq/.wh..wh..opq", ""), file("opq/new"), file(".wh.top-gone", ""), file(".wh.deep", "")], upper);
    assert.match(upper, /\/layers\/oci\/sha256\/2{64}$/);
    assert.deepEqual(readdirSync(join(upper, "etc")).sort(), [".wh.gone", ".wh.twice"]);
    assert.deepEqual(readdirSync(join(upper, "opq")).sort(), [".wh..wh..opq", "new"]);
    assert.ok(existsSync(join(upper, ".wh.top-gone")) && existsSync(join(upper, ".wh.deep")));
  });

  it("reads as overlay would on the host: deletions and opaque directories apply, markers are no files", () => {
    const view = new LayerView([upper, lower]);
    assert.deepEqual(view.list("/"), ["etc", "opq"]);
    assert.deepEqual(view.list("/etc"), ["kept"]);
    assert.deepEqual(view.list("/opq"), ["new"]);
    assert.equal(view.lookup("/etc/gone"), undefined);
    assert.equal(view.lookup("/top-gone"), undefined);
    assert.equal(view.lookup("/deep/f"), undefined, "a deleted directory hides what is below it");
    assert.equal(view.lookup("/opq/old"), undefined);
    assert.equal(view.lookup("/etc/.wh.gone"), undefined);
    assert.ok(view.lookup("/etc/kept")?.stat.isFile());
  });

  it("is shown to the guest through 9p in overlay's own form, inside such layers only", () => {
    const fs = new NodeFs();
    const names = fs.readdir(join(upper, "etc")).sort();
    assert.deepEqual(names, ["gone", "twice"]);
    for (const n of names) {
      const st = fs.lstat(join(upper, "etc", n));
      assert.equal(st.mode & S_IFMT, S_IFCHR);
      assert.equal(st.rdev, 0n);
    }
    assert.deepEqual(fs.readdir(upper).sort(), ["deep", "etc", "opq", "top-gone"]);
    assert.throws(() => fs.lstat(join(upper, "etc", ".wh.gone")), { code: "ENOENT" });
    assert.throws(() => fs.lstat(join(upper, "etc", "never-there")), { code: "ENOENT" });
    assert.deepEqual([...fs.getxattr(join(upper, "opq"), "trusted.overlay.opaque")], [0x79]);
    assert.deepEqual(fs.listxattr(join(upper, "opq")), ["trusted.overlay.opaque"]);
    assert.throws(() => fs.getxattr(join(upper, "etc"), "trusted.overlay.opaque"), { code: "ENODATA" });
    // A file's attributes too: overlay's copy-up lists them for every file it copies (a file holds no marker).
    assert.deepEqual(fs.listxattr(join(lower, "etc", "kept")), []);
    assert.throws(() => fs.getxattr(join(lower, "etc", "kept"), "trusted.overlay.opaque"), { code: "ENODATA" });
    assert.deepEqual(fs.readdir(join(upper, "opq")), ["new"]);

    // A volume or any other directory is served as it is, `.wh.` names included.
    const volume = join(scratch, "volume");
    mkdirSync(volume);
    writeFileSync(join(volume, ".wh.x"), "");
    assert.equal(inOciFormLayer(volume), false);
    assert.deepEqual(fs.readdir(volume), [".wh.x"]);
    assert.throws(() => fs.lstat(join(volume, "x")), { code: "ENOENT" });
  });
});
