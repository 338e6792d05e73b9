/**
 * One image store for every backend and platform (no containers: the store
 * alone, on real OCI layouts). A name holds one image per platform, as
 * docker's containerd store does; adding a platform keeps the others;
 * asking for a platform the name lacks names the ones it has; `load` of a
 * multi-platform layout takes every platform; `rmi --platform`, `prune`,
 * the embedded images of both platforms, and the migration of the per-
 * platform stores tsbox 0.1 kept (`platforms/linux-386`).
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ImageStore, layerTarSize } from "../src/image/store.js";
import { OciLayout } from "../src/image/layout.js";
import { embeddedLayouts } from "../src/image/embedded.js";
import { Annotation, type Descriptor, type ImageIndex, MediaType } from "../src/image/oci.js";
import { pruneStore } from "../src/image/gc.js";
import { buildI386Layout, buildLayeredLayout, buildMultiPlatformLayout, EMBEDDED_BUSYBOX } from "./helpers/images.js";

const AMD64 = { os: "linux", architecture: "amd64" };
const I386 = { os: "linux", architecture: "386" };
const NAME = "docker.io/library/box:latest";

let work: string;
let i386Layout: string;
let multi: { index: string; amd64: string; i386: string };
let multiLayout: string;
let otherAmd64: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "image-store-test-"));
  i386Layout = join(work, "i386");
  await buildI386Layout(i386Layout);
  multiLayout = join(work, "multi");
  multi = await buildMultiPlatformLayout(multiLayout, i386Layout);
  otherAmd64 = join(work, "other");
  await buildLayeredLayout(otherAmd64, [1000]);
});

after(() => rmSync(work, { recursive: true, force: true }));

function freshDir(): string {
  return mkdtempSync(join(work, "data-"));
}

/** A store without embedded images (unless asked), whose default platform is `platform`. */
function store(dir: string, platform = AMD64, fallback: OciLayout[] = []): ImageStore {
  return new ImageStore(dir, { platform, fallbackLayouts: () => fallback });
}

async function entryOf(layoutDir: string): Promise<Descriptor> {
  return (await new OciLayout(layoutDir).readIndex()).manifests[0]!;
}

async function add(s: ImageStore, layoutDir: string, name = NAME): Promise<void> {
  await s.importImage(new OciLayout(layoutDir), await entryOf(layoutDir), name);
}

describe("image store: one store, several platforms", () => {
  it("names one image per platform under one name (an OCI index), each found by its platform", async () => {
    const s = store(freshDir());
    await add(s, EMBEDDED_BUSYBOX);
    await add(s, i386Layout);
    const rows = await s.listImages();
    assert.deepEqual(rows.map((r) => [r.name, r.platform]), [["box:latest", "linux/386"], ["box:latest", "linux/amd64"]]);
    const index = await s.layout.readIndex();
    assert.equal(index.manifests.length, 1, "one index.json entry per name");
    assert.equal(index.manifests[0]!.mediaType, MediaType.ociIndex);
    const inner = await s.layout.readJsonBlob<ImageIndex>(index.manifests[0]!.digest);
    assert.deepEqual(inner.manifests.map((d) => d.platform), [I386, AMD64]);
    assert.equal((await s.getImage("box")).config.architecture, "amd64");
    assert.equal((await s.getImage("box", I386)).config.architecture, "386");
    assert.deepEqual((await s.platformsOf("box")).map((p) => p.architecture).sort(), ["386", "amd64"]);
  });

  it("replaces only the platform an image is added for", async () => {
    const s = store(freshDir());
    await add(s, EMBEDDED_BUSYBOX);
    await add(s, i386Layout);
    const before386 = (await s.getImage("box", I386)).manifestDigest;
    await add(s, otherAmd64);
    assert.equal((await s.getImage("box")).manifestDigest, (await entryOf(otherAmd64)).digest);
    assert.equal((await s.getImage("box", I386)).manifestDigest, before386);
    // The amd64 image the name moved off stays as <none> (docker's dangling image) until a prune.
    const rows = await s.listImages();
    // (Newest first, as docker lists them: the order is the fixtures' creation times, not what this test is about.)
    assert.deepEqual(rows.map((r) => `${r.name} ${r.platform} ${r.dangling}`).sort(), ["<none> linux/amd64 true", "box:latest linux/386 false", "box:latest linux/amd64 false"]);
  });

  it("refuses a name it holds only for other platforms, naming them; an unknown name is left to a pull", async () => {
    const s = store(freshDir());
    await add(s, i386Layout);
    await assert.rejects(s.findImage("box"), /^ImageError: image box:latest has no linux\/amd64 variant here \(it has linux\/386\): tsbox pull --platform linux\/amd64 gets one if its registry has it$/);
    assert.equal(await s.findImage("nothing-here"), undefined);
  });

  it("leaves a platform its registry index lists to a pull", async () => {
    const s = store(freshDir());
    // As a pull of the multi-platform image for linux/386 leaves it: the 386 manifest, tagged with the index it came from.
    const source = new OciLayout(multiLayout);
    const indexData = await source.readBlob(multi.index);
    await s.importImage(source, { mediaType: MediaType.ociManifest, digest: multi.i386, size: (await source.readBlob(multi.i386)).length, platform: I386 }, NAME);
    await s.layout.writeBlob(indexData, { digest: multi.index });
    const d = (await s.layout.readIndex()).manifests[0]!;
    await s.putManifests(NAME, [{ ...d, platform: I386, annotations: { [Annotation.sourceIndex]: multi.index } }]);
    assert.equal(await s.findImage("box", AMD64), undefined, "the registry has linux/amd64: run pulls it");
    await assert.rejects(s.findImage("box", { os: "linux", architecture: "arm64" }), /has no linux\/arm64 variant here \(it has linux\/386\)/);
    assert.equal((await s.getImage(`box@${multi.index}`, I386)).manifestDigest, multi.i386, "name@<index digest> still resolves");
  });

  it("loads every platform of a multi-platform layout", async () => {
    const s = store(freshDir());
    const source = new OciLayout(multiLayout);
    await s.importImage(source, (await source.readIndex()).manifests[0]!, NAME);
    assert.equal((await s.getImage("box")).manifestDigest, multi.amd64);
    assert.equal((await s.getImage("box", I386)).manifestDigest, multi.i386);
  });

  it("rmi --platform removes one platform; rmi the name; prune then frees that platform's blobs only", async () => {
    const dir = freshDir();
    const s = store(dir);
    await add(s, EMBEDDED_BUSYBOX);
    await add(s, i386Layout);
    await add(s, EMBEDDED_BUSYBOX, "docker.io/library/keep:1");
    const i386 = await s.getImage("box", I386);
    let pruned = await pruneStore(dir, s.layout);
    assert.equal(pruned.blobs, 0, "prune keeps every platform of a name");
    await s.untag("box", I386);
    assert.deepEqual((await s.listImages()).map((r) => [r.name, r.platform]), [["box:latest", "linux/amd64"], ["keep:1", "linux/amd64"]]);
    assert.equal((await s.layout.readIndex()).manifests.find((d) => d.annotations?.[Annotation.refName] === NAME)!.mediaType, MediaType.ociManifest, "one platform left: the entry is its manifest");
    await assert.rejects(s.untag("box", I386), /image box has no linux\/386 variant \(it has linux\/amd64\)/);
    pruned = await pruneStore(dir, s.layout);
    assert.ok(pruned.blobs >= 3, `the 386 manifest, config and layer go (${pruned.blobs})`);
    assert.equal(await s.layout.hasBlob(i386.manifestDigest), false);
    await s.untag("box");
    await assert.rejects(s.untag("box"), /image not found: box$/);
    // docker users type an id's first few digits (before, twelve were needed): a name first, then an id's start.
    const id = (await s.getImage("keep:1")).configDigest.slice("sha256:".length);
    assert.equal((await s.getImage(id.slice(0, 4))).configDigest, `sha256:${id}`);
    assert.equal((await s.getImage(`sha256:${id.slice(0, 2)}`)).configDigest, `sha256:${id}`);
    const none = `${id[0] === "0" ? "1" : "0"}${id.slice(1, 4)}`;
    await assert.rejects(s.getImage(none), new RegExp(`image not found: ${none}$`));
    await add(s, EMBEDDED_BUSYBOX, `docker.io/library/${none}:latest`);
    assert.equal((await s.getImage(none)).name, `docker.io/library/${none}:latest`, "a name made of hex digits is the name");
    await s.untag(none);
    assert.deepEqual((await s.listImages()).map((r) => r.name), ["keep:1"]);
  });

  it("a blob of the store gone bad (another size) is replaced by loading a source whose copy verifies", async () => {
    const s = store(freshDir());
    await add(s, otherAmd64);
    const blobs = join(s.layout.dir, "blobs", "sha256");
    const victim = readdirSync(blobs).sort((a, b) => statSync(join(blobs, b)).size - statSync(join(blobs, a)).size)[0]!;
    const good = readFileSync(join(blobs, victim));
    writeFileSync(join(blobs, victim), "garbage\n"); // a disk fault, a partial restore
    // Before: "blob sha256:… size mismatch: expected N, got 8", which read as the source's fault; rmi and prune were the way out.
    await add(s, otherAmd64);
    assert.deepEqual(readFileSync(join(blobs, victim)), good);
    assert.deepEqual(readdirSync(s.layout.dir).filter((f) => f.startsWith(".blob-")), [], "no temp file left");
  });

  it("a damaged index.json is said with the way out (move it aside, load again), which then works", async () => {
    const dir = freshDir();
    const s = store(dir);
    await add(s, otherAmd64);
    writeFileSync(join(dir, "index.json"), "{\"manifests\": [");
    const index = join(dir, "index.json");
    await assert.rejects(s.listImages(), { message: `${index} is not valid JSON: the store's list of image names is damaged. Move it aside (mv ${index} ${index}.damaged), then pull or load your images again (their blobs and layers are kept and reused); run no prune before that, which would delete every blob no name reaches` });
    writeFileSync(index, "null");
    await assert.rejects(s.listImages(), /index\.json has no manifests list: the store's list of image names is damaged/);
    renameSync(index, `${index}.damaged`);
    await add(s, otherAmd64);
    assert.deepEqual((await s.listImages()).map((r) => r.name), ["box:latest"]);
  });

  it("builds the embedded busybox layout (scripts/build-busybox-image.ts) without a writable store's space reserve: it ships read-only, in every package and site", () => {
    assert.deepEqual(readdirSync(i386Layout).sort(), ["blobs", "index.json", "oci-layout"]);
  });

  it("imports the embedded busybox of each platform on first use, into one name", async () => {
    const embedded = embeddedLayouts();
    const s386 = store(freshDir(), I386, embedded);
    const dir = s386.layout.dir;
    assert.equal((await s386.getImage("busybox")).config.architecture, "386");
    const sAmd64 = store(dir, AMD64, embedded);
    assert.equal((await sAmd64.getImage("busybox")).config.architecture, "amd64");
    assert.deepEqual((await sAmd64.listImages()).map((r) => [r.name, r.platform]), [["busybox:latest", "linux/386"], ["busybox:latest", "linux/amd64"]]);
  });

  it("takes over the per-platform store of tsbox 0.1 (platforms/linux-386), keeping what the store has", async () => {
    const dir = freshDir();
    const main = store(dir);
    await add(main, EMBEDDED_BUSYBOX);
    // tsbox 0.1's vm store: a layout of its own whose entries are bare manifests.
    const legacyDir = join(dir, "platforms", "linux-386");
    const legacy = store(legacyDir, I386);
    await add(legacy, i386Layout);
    await add(legacy, i386Layout, "docker.io/library/only-vm:2");
    await add(legacy, EMBEDDED_BUSYBOX, "docker.io/library/only-vm:2"); // a 0.1 store could hold an amd64 image too
    await legacy.layout.updateIndex((index) => {
      index.manifests = index.manifests.map(({ platform: _p, ...d }) => d);
    });
    const legacyBlobs = readdirSync(join(legacyDir, "blobs", "sha256")).length;

    const s = store(dir);
    const rows = (await s.listImages()).map((r) => [r.name, r.platform]);
    assert.deepEqual(rows, [["box:latest", "linux/386"], ["box:latest", "linux/amd64"], ["only-vm:2", "linux/386"], ["only-vm:2", "linux/amd64"]]);
    assert.equal(existsSync(join(dir, "platforms")), false, "the old layout is gone once taken over");
    assert.ok(readdirSync(join(dir, "blobs", "sha256")).length >= legacyBlobs);
    assert.equal((await s.getImage("only-vm:2", I386)).config.architecture, "386");
    // (.space-reserve: the index's room on a full disk, layout.ts; lock files stay, lock-file.ts)
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(".") && f !== ".space-reserve" && !/^\.[a-z]+\.lock$/.test(f)), [], "no temp file left");
    // Nothing to do the second time.
    assert.deepEqual((await store(dir).listImages()).map((r) => [r.name, r.platform]), rows);
  });
});

describe("image store: a layer's size (images SIZE, history)", () => {
  /** A layer blob of `data` in a fresh layout, as a descriptor of `mediaType` claiming `size` (default: its own). */
  async function blobOf(data: Buffer, mediaType: string, size = data.length): Promise<{ layout: OciLayout; layer: Descriptor }> {
    const layout = new OciLayout(freshDir());
    await layout.init();
    const { digest } = await layout.writeBlob(data);
    return { layout, layer: { mediaType, digest, size } };
  }

  it("is what the layer's unpack here measured, before what the blob claims", async () => {
    const tar = Buffer.alloc(64 * 1024, 1);
    const { layout, layer } = await blobOf(gzipSync(tar), MediaType.ociLayerGzip);
    assert.equal(layerTarSize(layout, layer), tar.length, "a gzip's trailer, within the cap");
    layout.recordTarSize(layer.digest, 123_456);
    assert.equal(layerTarSize(layout, layer), 123_456);
    // Prune drops the record with its blob.
    await pruneStore(layout.dir, layout);
    assert.equal(layout.tarSize(layer.digest), undefined);
  });

  it("never takes a claim past the decompression cap (TSBOX_MAX_LAYER_RATIO × the blob), nor a gzip trailer's from a blob of 4 GiB or more", async () => {
    // A truncated gzip's last 4 bytes are whatever the stream held there: 886MB for a 1 MB layer before.
    const gz = gzipSync(Buffer.alloc(4096, 7));
    gz.writeUInt32LE(0xfffffff0, gz.length - 4);
    const lying = await blobOf(gz, MediaType.ociLayerGzip);
    assert.equal(layerTarSize(lying.layout, lying.layer), gz.length);
    // A zstd frame header claiming 2^60 bytes (single segment, 8-byte Frame_Content_Size).
    const zstd = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0xe0]), Buffer.alloc(8), Buffer.alloc(100)]);
    zstd.writeBigUInt64LE(2n ** 60n, 5);
    const huge = await blobOf(zstd, "application/vnd.oci.image.layer.v1.tar+zstd");
    assert.equal(layerTarSize(huge.layout, huge.layer), zstd.length);
    // A gzip blob of 5 GiB (sparse): its trailer's size is mod 2^32, and so says nothing of a tar past 5 GiB.
    const big = await blobOf(Buffer.from([0x1f, 0x8b]), MediaType.ociLayerGzip, 5 * 2 ** 30);
    const path = big.layout.blobPath(big.layer.digest);
    truncateSync(path, 5 * 2 ** 30);
    const fd = openSync(path, "r+");
    const tail = Buffer.alloc(4);
    tail.writeUInt32LE(2 ** 31 + 5, 0); // more than 1 GiB, less than the blob
    writeSync(fd, tail, 0, 4, 5 * 2 ** 30 - 4);
    closeSync(fd);
    assert.equal(layerTarSize(big.layout, big.layer), 5 * 2 ** 30);
    rmSync(path);
  });
});
