/**
 * Boots the guest of vm-images/dist once and saves its state beside it
 * (dist/snapshot.state + .json), so every user's first vm container starts
 * warm. Does nothing when a valid snapshot for this image, v86 and device
 * set is there already. Part of `npm run build:vm`.
 */
import { loadVmImages } from "../src/backends/vm/node/images.js";
import { DEFAULT_CONFIG, machineFingerprint } from "../src/backends/vm/node/machine.js";
import { openMachine } from "../src/backends/vm/node/session.js";
import { loadSnapshot, packagedSnapshotPath } from "../src/backends/vm/node/snapshot.js";

const images = loadVmImages();
const path = packagedSnapshotPath(images.dir);
const found = loadSnapshot(path, machineFingerprint(images, DEFAULT_CONFIG));
if (found.kind === "ok") {
  console.error(`==> vm-images: snapshot up to date (${path})`);
} else {
  const t0 = performance.now();
  const { machine } = await openMachine({ images, snapshot: "cold-save", savePath: path, notice: (m) => console.error(m) });
  console.error(`==> vm-images: booted in ${Math.round(machine.bootMs)} ms, saved ${path} (${Math.round(performance.now() - t0)} ms in all)`);
  await machine.destroy();
}
