/**
 * The full `tsbox run`'s side of the run cache: a run handed over to the
 * helper (`Backend.handOff`: native, no terminal) whose preparation had no
 * effect outside its bundle, its name and its `create` event leaves its
 * plan behind, just before the execve, for the next run of the same command
 * line to replay (the addon's replay from the bin, native-rs/addon/src/replay/from_bin.rs). Which runs qualify is decided twice: by their
 * flags (only those below, which read no file and touch no other container,
 * volume or network), then by what the run made (no network but none or the
 * host's, no volume or bind, nothing in the bundle but its own files).
 * Recording never fails a run: a plan that cannot be made is no plan.
 */
import { join } from "node:path";
import { packageRoot } from "../../package-root.js";
import { requireRuntimeBinary } from "../../backends/native/runtime-binary.js";
import { addonPath } from "../../backends/native/addon.js";
import type { HandOffOptions } from "../../backends/backend.js";
import type { RunRequest } from "../run-flags.js";
import { buildId, runKeys } from "./key.js";
import { planOfBundle } from "../../containers/run-plan.js";
import { fileIdentity, hostFacts, writePlan } from "./plan-file.js";
import { traceMark } from "../../trace-mark.js";
import { namesHostGateway } from "../../network/plan.js";

/** `run` flags a plan may be made with: each one's effect is in the files the run writes (or in its key). */
const REPLAYABLE_FLAGS = new Set([
  "rm", "env", "entrypoint", "hostname", "read-only", "workdir", "user", "name", "platform", "privileged", "cap-add", "cap-drop",
  "security-opt", "memory", "memory-reservation", "memory-swap", "cpus", "cpu-shares", "cpu-period", "cpu-quota", "cpuset-cpus",
  "pids-limit", "blkio-weight", "oom-score-adj", "ulimit", "sysctl", "shm-size", "tmpfs", "init", "interactive", "quiet", "pull",
  "stop-signal", "stop-timeout", "network", "net", "label", "log-opt", "log-driver", "backend", "ipc", "pid", "uts", "group-add",
  "expose", "no-healthcheck", "cgroup-parent", "cgroups", "cgroupns", "dns", "dns-search", "dns-option", "dns-opt", "add-host",
  "domainname", "disable-content-trust",
]);

export interface RunRecorder {
  /** Wraps the run's warning sink: what it says is said again by a replay. */
  warnings(say: (message: string) => void): (message: string) => void;
  /** Runtime's HANDING_OFF hook. */
  handingOff(run: { bundleDir: string; layers: string[] }): void;
  /** Wraps the hand-off's beforeExec: the plan is written first. */
  beforeExec(next: HandOffOptions["beforeExec"]): (helperArgs: readonly string[]) => void;
}

/** A recorder for this `run` (its arguments after `run`), or none when its flags cannot make a plan. */
export function runRecorder(args: readonly string[], request: RunRequest, dataDir: string, env: NodeJS.ProcessEnv): RunRecorder | undefined {
  if (env.TSBOX_RUN_CACHE === "0" || !replayableFlags(request)) return undefined;
  const command = request.options.cmd ?? [];
  const prefix = args.slice(0, args.length - command.length);
  if (prefix.length === 0 || args.slice(prefix.length).some((a, i) => a !== command[i])) return undefined;
  // Before the image is looked up: a tag or pull from now on makes the plan stale. (No addon, no replay: none.)
  let index: string;
  try {
    index = fileIdentity(join(dataDir, "index.json"));
  } catch {
    return undefined;
  }
  const warnings: string[] = [];
  let made: { bundleDir: string; layers: string[] } | undefined;
  const record = (helperArgs: readonly string[], stdin: "inherit" | "ignore"): string => {
    if (!made) return "not handed over";
    // The store changed while the image was looked up (a first run's import of the embedded image, a pull): the
    // plan would be stale at once.
    if (fileIdentity(join(dataDir, "index.json")) !== index) return "the image store changed during the run";
    const shape = planOfBundle(made.bundleDir, helperArgs, command, request.options.name !== undefined);
    if (typeof shape === "string") return shape;
    const key = runKeys(dataDir, { env, cwd: process.cwd(), build: buildId(join(packageRoot(), "dist")) })(prefix, command.length > 0);
    writePlan(key.file, {
      ...shape,
      material: key.material,
      made: Date.now(),
      host: hostFacts(),
      index,
      binary: requireRuntimeBinary(env),
      addon: addonPath()!,
      layers: made.layers,
      stdin,
      warnings,
    });
    return `plan written: ${key.file}`;
  };
  return {
    warnings: (say) => (message) => {
      warnings.push(message);
      say(message);
    },
    handingOff: (run) => {
      made = run;
    },
    beforeExec: (next) => (helperArgs) => {
      try {
        const done = record(helperArgs, request.interactive ? "inherit" : "ignore");
        traceMark(env, "run-cache", done.startsWith("plan written") ? done : `no plan: ${done}`);
      } catch (err) {
        // no plan: the next run is a full one again
        traceMark(env, "run-cache", `no plan: ${(err as Error).message}`);
      }
      next?.(helperArgs);
    },
  };
}

/** Whether the run's flags (and their values) are all ones a plan holds. */
function replayableFlags(request: RunRequest): boolean {
  if (![...request.given].every((flag) => REPLAYABLE_FLAGS.has(flag))) return false;
  const { options } = request;
  // A seccomp profile is a file read at each run; another container's namespaces are that container's now.
  if (typeof options.seccomp === "object") return false;
  if ([options.ipc, options.pid, options.uts, options.network].some((v) => typeof v === "string" && v.startsWith("container:"))) return false;
  if (namesHostGateway(options)) return false;
  return options.pull !== "always" && options.userns === undefined && (request.backend ?? "native") !== "vm";
}
