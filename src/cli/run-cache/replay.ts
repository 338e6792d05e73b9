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
import { readdirSync, writeSync } from "node:fs";
import { loadAddonSync } from "../../backends/native/addon.js";
import { become } from "../../backends/native/become.js";
import { generatedName } from "../../containers/generated-name.js";
import { existingOwnDataDir } from "../../data-dir.js";
import { defaultDataDir } from "../../paths.js";
import { warningLine } from "../context.js";
import { CLI_HAND_OFF } from "../hand-off.js";
import { buildId, runCacheDir, runKeys } from "./key.js";
import { readPlan, type StoredPlan } from "./plan-file.js";
import { traceMark } from "../../trace-mark.js";

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
    const read = readPlan(key.file, key.material);
    if (read) return replay(read.plan, read.text, dataDir, runArgs.slice(end));
    traceMark(env, "run-cache", `no plan to replay in ${key.file}`);
  }
}

/**
 * The container made by the addon (native-rs/addon/src/replay: the same files, names and order as the full
 * run's preparation, in Rust because the same steps here were ≈ 5 ms of JS run once), then the same hand-over.
 */
function replay(plan: StoredPlan, planText: string, dataDir: string, command: readonly string[]): void {
  let made: string[];
  let addon: ReturnType<typeof loadAddonSync>;
  try {
    addon = loadAddonSync(plan.addon);
    made = addon.replayPrepare(planText, dataDir, plan.name ?? generatedName(), JSON.stringify(command)).split("\0");
  } catch (err) {
    // A name taken, the store busy or changed, a failed write: nothing was left, and the full run says what is wrong.
    traceMark(process.env, "run-cache", `no replay: ${(err as Error).message}`);
    return;
  }
  const [id, name, ...helperArgs] = made as [string, string, ...string[]];
  for (const warning of plan.warnings) writeSync(2, warningLine(warning));
  traceMark(process.env, "run-cache", `replay ${id}`);
  try {
    become(plan.binary, helperArgs, { stdin: plan.stdin, ...CLI_HAND_OFF });
  } catch (err) {
    traceMark(process.env, "run-cache", `replay failed: ${(err as Error).message}`);
    try {
      addon.replayUndo(dataDir, id, name);
    } catch {
      // what is left is an abandoned bundle, swept as any (its creator is gone)
    }
  }
}
