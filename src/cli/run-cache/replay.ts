/**
 * The run cache's fast path, its own bundle (dist/cli-replay.cjs), which
 * bin/tsbox.js tries before it loads the CLI: a `tsbox run` whose command
 * line (up to the image), environment, working directory and tsbox build
 * have a plan (record.ts) that still holds becomes its container as the
 * full run would — the same bundle files with its own id, name, time and
 * command, the same `create` event and warnings, the same hand-over to
 * tsbox-runtime — without the CLI's bundle, the Runtime, the image lookup
 * or the spec's making. Anything unexpected (no plan, a stale one, a name
 * in use, a failed write) undoes what it made and returns: the full run
 * follows, and says what is wrong if something is.
 */
import { existsSync, readdirSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { loadAddonSync } from "../../backends/native/addon.js";
import { become } from "../../backends/native/become.js";
import { announceCreated, makeBundleDir, makeRootDirs, ownStartTime } from "../../containers/bundle-dir.js";
import { recordEvent } from "../../containers/events.js";
import { writeInspectRecord } from "../../containers/inspect-record.js";
import { ContainerNames } from "../../containers/names.js";
import { writeSpec } from "../../containers/spec-file.js";
import { type ContainerState, writeState } from "../../containers/state.js";
import { existingOwnDataDir } from "../../data-dir.js";
import { randomHex, unlinkIfThere } from "../../fs-util.js";
import { withIndexLock } from "../../image/layout.js";
import { DataPaths, defaultDataDir } from "../../paths.js";
import { removeTreeNow } from "../../remove-tree.js";
import { warningLine } from "../context.js";
import { CLI_HAND_OFF } from "../hand-off.js";
import { buildId, runCacheDir, runKeys } from "./key.js";
import { instantiate } from "./plan.js";
import { fileIdentity, readPlan, type StoredPlan } from "./plan-file.js";
import { traceMark } from "./trace.js";

/** `args`: the CLI's arguments (`run …`). Returns when there is nothing to replay (or it failed before the hand-over). */
export async function replayRun(args: readonly string[], distDir: string): Promise<void> {
  const env = process.env;
  if (args[0] !== "run" || env.TSBOX_RUN_CACHE === "0") return;
  const dataDir = existingOwnDataDir(defaultDataDir(env));
  if (dataDir === undefined) return;
  let present: Set<string>;
  try {
    present = new Set(readdirSync(runCacheDir(dataDir)));
  } catch {
    return;
  }
  const runArgs = args.slice(1);
  const keyOf = runKeys(dataDir, { env, cwd: process.cwd(), build: buildId(distDir) });
  // The image ends the part of the line a plan is of; which argument it is takes the flags' parser to know, so
  // each prefix is tried (a plan's prefix ends at its image: at most one of them matches).
  for (let end = 1; end <= runArgs.length; end++) {
    const key = keyOf(runArgs.slice(0, end), end < runArgs.length);
    if (!present.has(key.file.slice(key.file.lastIndexOf("/") + 1))) continue;
    const plan = readPlan(key.file, key.material);
    if (plan) return replay(plan, dataDir, runArgs.slice(end));
    traceMark(env, `no plan to replay in ${key.file}`);
  }
}

async function replay(plan: StoredPlan, dataDir: string, command: readonly string[]): Promise<void> {
  const paths = new DataPaths(dataDir);
  const id = randomHex(32);
  const bundle = paths.container(id);
  const names = new ContainerNames(paths);
  let name: string | undefined;
  let state: ContainerState | undefined;
  const undo = (): void => {
    if (state) recordEvent(bundle.dir, state, "destroy");
    removeTreeNow(bundle.dir);
    unlinkIfThere(paths.removalMarker(id));
    if (name !== undefined) names.release(name, id);
  };
  try {
    loadAddonSync(plan.addon);
    makeBundleDir(paths, bundle, plan.state.imageDigest, plan.layers);
    // As the full run's checkImageKept: under the index's lock, after the creator file claims the image.
    const imageKept = await withIndexLock(dataDir, async () => fileIdentity(join(dataDir, "index.json")) === plan.index && plan.lower.every((dir) => existsSync(dir)));
    if (!imageKept) {
      traceMark(process.env, "image changed");
      return undo();
    }
    makeRootDirs(bundle);
    if (plan.state.remove) writeFileSync(paths.removalMarker(id), "");
    if (plan.name === null) name = names.reserveGenerated(id);
    else {
      names.reserve(plan.name, id);
      name = plan.name;
    }
    const files = instantiate(plan, { id, name, created: new Date().toISOString(), creatorPid: process.pid, creatorStartTime: ownStartTime(), command });
    writeSpec(bundle.config, files.specText);
    writeInspectRecord(bundle, files.inspectText);
    writeState(bundle, files.state);
    state = files.state;
    announceCreated(bundle, files.state);
    for (const warning of plan.warnings) writeSync(2, warningLine(warning));
    traceMark(process.env, `replay ${id}`);
    become(plan.binary, files.helperArgs, { stdin: plan.stdin, ...CLI_HAND_OFF });
  } catch (err) {
    traceMark(process.env, `replay failed: ${(err as Error).message}`);
    try {
      undo();
    } catch {
      // what is left is an abandoned bundle, swept as any (its creator is gone)
    }
  }
}
