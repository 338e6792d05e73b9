/**
 * Run as the identity being measured (bench/lib/unpack-timing.ts): unpacks
 * one layer blob of an OCI layout into a fresh store through LayerCache
 * (the first `tsbox run`'s path) and prints {wallMs, cpuMs} of that alone.
 *
 *   node --import tsx bench/lib/unpack-child.ts LAYOUT DATA_DIR DIGEST SIZE DIFF_ID
 */
import { LayerCache } from "../../src/image/layers.js";
import { OciLayout } from "../../src/image/layout.js";
import { MediaType } from "../../src/image/oci.js";

const [layoutDir, dataDir, digest, size, diffId] = process.argv.slice(2);
const cache = new LayerCache(dataDir!, new OciLayout(layoutDir!));
await import("../../src/image/unpack.js"); // loaded before the clock starts, as in a warm CLI
const cpu0 = process.cpuUsage();
const t0 = performance.now();
await cache.ensureLayer({ mediaType: MediaType.ociLayerGzip, digest: digest!, size: Number(size) }, diffId!);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000 }) + "\n");
