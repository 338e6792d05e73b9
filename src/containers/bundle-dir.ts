/**
 * A new container's bundle dir appears whole: it is made as
 * `containers/.creating-<pid>-<id>` holding a `creator` file (the creating
 * process's pid and /proc start time), then renamed to `<id>`. Until its
 * state.json is written that file says whose it is, so a bundle with
 * neither state.json nor a live creator was abandoned — its run was killed
 * during set-up — and holds no name and does not survive a prune (before
 * stop 39 it blocked its name for good: `rm` did not see it, `run --name`
 * found the name taken). The file also lists the image layers the
 * container will mount, so that an `rmi` or prune running meanwhile keeps
 * them (config.json, which names them later, is not written yet), and the
 * image's manifest, which `rmi` counts as in use as a state's (`creatingImage`).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ContainerPaths, DataPaths } from "../paths.js";
import { ownTempPrefix } from "../temp-names.js";
import { unlinkIfThere } from "../fs-util.js";
import { recordEvent } from "./events.js";
import { type ContainerState, processStartTime } from "./state.js";

/** Where a bundle being made lives before its rename (swept by prune once its maker is gone: `abandonedTemps`). */
export const CREATING_PREFIX = ".creating-";

const CREATOR = "creator";

let startTime: string | null | undefined;

/** This process's /proc start time, recorded as a container's creator: it never changes, so it is read once. */
export function ownStartTime(): string | null {
  return startTime === undefined ? (startTime = processStartTime(process.pid)) : startTime;
}

/** Makes `bundle.dir` (0700) with this process as its creator, the image (manifest digest) it is made from and the layer dirs it will mount. */
export function makeBundleDir(paths: DataPaths, bundle: ContainerPaths, image: string, layers: string[]): void {
  // Sync: a handful of mkdirs are cheaper than as many thread-pool round trips.
  mkdirSync(paths.containers, { recursive: true });
  const temp = join(paths.containers, ownTempPrefix(CREATING_PREFIX) + bundle.dir.slice(paths.containers.length + 1));
  mkdirSync(temp, { mode: 0o700 });
  try {
    writeFileSync(join(temp, CREATOR), [`${process.pid} ${ownStartTime() ?? ""} ${image}`, ...layers].join("\n"));
    renameSync(temp, bundle.dir);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    throw err;
  }
}

/** The overlay's dirs in a new bundle (made under its creator, before its spec). */
export function makeRootDirs(bundle: ContainerPaths): void {
  for (const dir of [bundle.upper, bundle.work, bundle.rootfs]) mkdirSync(dir);
  // The container's / takes the upper dir's mode: 0755 whatever the caller's umask (077 shut out its users).
  chmodSync(bundle.upper, 0o755);
}

/** Once state.json is written it records the creator: the file goes. */
export function dropCreator(bundle: ContainerPaths): void {
  unlinkIfThere(join(bundle.dir, CREATOR));
}

/** The end of a container's creation, its state written: the creator file goes, `events` shows "create". */
export function announceCreated(bundle: ContainerPaths, state: ContainerState): void {
  dropCreator(bundle);
  recordEvent(bundle.dir, state, "create");
}

/** Whether the bundle holds a container: it has a state, or a creator still making it. */
export function bundleLive(bundle: ContainerPaths): boolean {
  if (existsSync(bundle.state)) return true;
  let creator: string;
  try {
    creator = readFileSync(join(bundle.dir, CREATOR), "utf8");
  } catch {
    // No creator file: gone, or a bundle an earlier version left without a state — or its creator wrote the state
    // and dropped the file since the first look (announceCreated). That last one was taken for gone: a racing
    // `run --name` then dropped the live container's name as stale and took it too (two containers, one name).
    return existsSync(bundle.state);
  }
  const [pid, start] = creator.split("\n", 1)[0]!.split(" ");
  const running = processStartTime(Number(pid));
  // The state is looked for again: it may have been written since the first look.
  return (running !== null && (!start || running === start)) || existsSync(bundle.state);
}

/** The image (manifest digest) a bundle still being made by a live creator is made from. */
export function creatingImage(bundle: ContainerPaths): string | undefined {
  let creator: string;
  try {
    creator = readFileSync(join(bundle.dir, CREATOR), "utf8");
  } catch {
    return undefined;
  }
  const image = creator.split("\n", 1)[0]!.split(" ")[2];
  return image && bundleLive(bundle) ? image : undefined;
}

/** The layer dirs a bundle still being made will mount (its creator file's list); none once it is made. */
export function creatingLayers(bundleDir: string): string[] {
  try {
    return readFileSync(join(bundleDir, CREATOR), "utf8").split("\n").slice(1);
  } catch {
    return [];
  }
}
