/**
 * `npm run build:web`'s last step: the playground's served snapshot, with
 * its shell already running. The Worker's own code (WorkerVm) runs here in
 * Node: it restores the library's idle snapshot (dist/web/guest), starts the
 * playground's shell as its standby (shell.ts) and saves the guest with it,
 * in place of the idle one. A first visit's shell is then taken running, as
 * a returning visit's is (docs/architecture.md "standby").
 *
 *   node --import tsx web/snapshot.ts [dist/web]
 */
import { createHash } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { packageRoot } from "../src/package-root.js";
import type { WorkerMessage } from "../src/backends/vm/browser/protocol.js";
import { standbyToJson } from "../src/backends/vm/browser/standby.js";
import { runRequest } from "../src/backends/vm/browser/web-runtime.js";
import type { SnapshotRecord } from "../src/backends/vm/core/snapshot-check.js";
import { fileUnder, requestPath, sendFile } from "../scripts/static-files.mjs";
import { shellOptions } from "./shell.js";

const dir = resolve(process.argv[2] ?? join(packageRoot(), "dist", "web"));
const guest = join(dir, "guest");
const bytes = (file: string) => {
  const b = readFileSync(join(guest, file));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
};
// What scripts/bundle-browser.mjs puts into the Worker's bundle (a saved state fits only the same v86).
Object.assign(globalThis, { TSBOX_V86_VERSION: JSON.parse(readFileSync(join(packageRoot(), "node_modules", "v86", "package.json"), "utf8")).version });
const { WorkerVm } = await import("../src/backends/vm/browser/worker-vm.js");

// The embedded busybox is read as a page reads it: an OCI layout over HTTP.
const server = createServer((req, res) => {
  const path = requestPath(req);
  const file = path === undefined ? undefined : fileUnder(dir, path);
  if (!file) return void res.writeHead(path === undefined ? 400 : 404).end();
  sendFile(req, res, file);
});
await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

const t0 = performance.now();
let standbyUp!: () => void;
const up = new Promise<void>((r) => (standbyUp = r));
const post = (m: WorkerMessage) => {
  if (m.type === "progress" && m.phase === "standby") standbyUp();
  if (m.type === "notice") process.stderr.write(`web snapshot: ${m.message}\n`);
};
const idle = JSON.parse(readFileSync(join(guest, "snapshot.state.json"), "utf8")) as SnapshotRecord;
const vm = await WorkerVm.start(
  {
    type: "start",
    files: {
      wasm: bytes("../v86.wasm"),
      bios: bytes("bios.bin"),
      kernel: bytes("bzImage"),
      initrd: bytes("initramfs.cpio"),
      manifest: bytes("manifest.json"),
      snapshot: { state: bytes("snapshot.state"), meta: bytes("snapshot.state.json") },
    },
    busybox: `${base}/guest/images/busybox/`,
    database: null,
    warmUp: "off",
    standby: runRequest(shellOptions("busybox")),
  },
  post,
);
await up;
const { saved, standby, orphans } = await vm.captureStandby();
const sha256 = createHash("sha256").update(new Uint8Array(saved.state)).digest("hex");
const record: SnapshotRecord = { fingerprint: idle.fingerprint, size: saved.state.byteLength, sha256, p9: saved.p9, ...(saved.link ? { link: saved.link } : {}), standby: standbyToJson(standby), orphans };
// The state, then the sidecar that vouches for it (each written then renamed).
writeFileSync(join(guest, "snapshot.state.tmp"), new Uint8Array(saved.state));
renameSync(join(guest, "snapshot.state.tmp"), join(guest, "snapshot.state"));
writeFileSync(join(guest, "snapshot.state.json.tmp"), JSON.stringify(record));
renameSync(join(guest, "snapshot.state.json.tmp"), join(guest, "snapshot.state.json"));
process.stderr.write(`web snapshot: the playground's shell saved running (${(saved.state.byteLength / 2 ** 20).toFixed(1)} MiB, ${Math.round(performance.now() - t0)} ms)\n`);
server.close();
// The emulator keeps timers of its own.
process.exit(0);
