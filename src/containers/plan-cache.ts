/**
 * A Runtime's plans of its foreground runs (the library's side of the CLI's
 * run cache, src/cli/run-cache/): a native `run` whose options, all but the
 * command and the name, are those of an earlier run of this Runtime replays
 * that run's plan — the addon makes the container's files from it
 * (native-rs/addon/src/replay: the same files, names and order as
 * `Runtime.prepare`, with its own id, name, time and command) instead of
 * resolving the image and building the spec again. Kept in memory for an
 * hour, checked at each replay against the host's facts and the image
 * store's index (any pull, tag, rmi or load is a miss), as the CLI's plans
 * are. Which runs have a plan is decided twice: by their options here, then
 * by what the full run made (`planOfBundle`). A replay that misses for any
 * reason (a name taken, the store busy) left nothing: the full preparation
 * follows, and says what is wrong if anything is.
 */
import { join } from "node:path";
import { loadAddonSync, type NativeAddon } from "../backends/native/addon.js";
import type { RunOptions } from "../spec/run-options.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { generatedName } from "./generated-name.js";
import { namesHostGateway } from "../network/plan.js";
import { checkContainerName } from "./names.js";
import { planOfBundle } from "./run-plan.js";
import { traceMark } from "../trace-mark.js";

/** As the CLI's plans (plan-file.ts): what a full run read of the host but the plan's facts is taken again as often. */
const MAX_AGE_MS = 60 * 60_000;
/** Plans kept per Runtime (one per distinct set of options): the oldest go first. */
const MAX_PLANS = 16;

/**
 * Options a plan never holds: each is read or made afresh at every run (a volume, a bind, a device, a port, an
 * address, a seccomp profile given as an object stays the caller's, another container's namespaces), or a run
 * with it does more than its files (health checks, `--userns=auto` slices, more networks, `pull: "always"`).
 */
const UNPLANNED: readonly (keyof RunOptions)[] = [
  "volumes", "mounts", "volumesFrom", "devices", "publish", "publishAll", "ip", "macAddress", "networks", "networkAliases",
  "healthcheck", "userns", "restart",
];

/** The run a replay made: what `Runtime.run` goes on with. */
export interface Replayed {
  id: string;
  name: string;
  /** The full run's spec (the process's terminal and size are all a start reads of it: the same in every replay). */
  spec: ContainerSpec;
  layers: string[];
}

/** A full run that may leave a plan: `record` it once its container is prepared. */
export interface Recording {
  record(made: { bundleDir: string; spec: ContainerSpec; layers: string[] }): void;
}

interface Plan {
  /** The plan as the addon's replayPrepare reads it (plan-file.ts's StoredPlan, less what only the CLI checks). */
  text: string;
  made: number;
  spec: ContainerSpec;
  layers: string[];
}

export class PlanCache {
  private readonly plans = new Map<string, Plan>();
  private addon: NativeAddon | null | undefined;

  constructor(private readonly dataDir: string) {}

  /** The plan's key of a run with `options`, or undefined when its options cannot have one. */
  key(options: RunOptions): string | undefined {
    if (process.env.TSBOX_RUN_CACHE === "0") return undefined;
    if (UNPLANNED.some((k) => options[k] !== undefined) || options.pull === "always" || typeof options.seccomp === "object") return undefined;
    if ([options.ipc, options.pid, options.network].some((v) => typeof v === "string" && v.startsWith("container:"))) return undefined;
    if (options.name !== undefined && typeof options.name !== "string") return undefined;
    if (namesHostGateway(options)) return undefined;
    // A command given replaces the plan's; none is the image's (its own plan). The spec reads these variables: the
    // cgroup two, a rootless network three (its helper, idle stay, and whether the host's loopback is open).
    const env = ["TSBOX_CGROUPS", "TSBOX_CGROUP_PARENT", "TSBOX_ROOTLESS_NETWORK", "TSBOX_ROOTLESS_NETWORK_IDLE", "TSBOX_HOST_LOOPBACK"].map((v) => process.env[v]);
    return JSON.stringify([{ ...options, name: undefined, cmd: options.cmd && options.cmd.length > 0 ? true : options.cmd }, env]);
  }

  /**
   * The container made from the plan of `key` with its own id, name and command, or undefined (no plan, a stale
   * one, a name in use, the store busy or changed: nothing was made).
   */
  replay(key: string, options: RunOptions): Replayed | undefined {
    const plan = this.plans.get(key);
    if (!plan) return undefined;
    const now = Date.now();
    if (!(now - plan.made < MAX_AGE_MS && plan.made <= now)) {
      this.plans.delete(key);
      return undefined;
    }
    const addon = this.loadAddon();
    if (!addon) return undefined;
    if (options.name !== undefined) checkContainerName(options.name);
    let made: string[];
    try {
      made = addon.replayPrepare(plan.text, this.dataDir, options.name ?? generatedName(), JSON.stringify(options.cmd ?? [])).split("\0");
    } catch (err) {
      // A miss or a failed write, undone: the full preparation says what is wrong, if anything is.
      traceMark(process.env, "plan-cache", `no replay: ${(err as Error).message}`);
      return undefined;
    }
    traceMark(process.env, "plan-cache", `replay ${made[0]}`);
    return { id: made[0]!, name: made[1]!, spec: plan.spec, layers: plan.layers };
  }

  /** A replayed container that cannot go on (its state unreadable): removed again, with its name. */
  undo(replayed: Replayed): void {
    try {
      this.loadAddon()?.replayUndo(this.dataDir, replayed.id, replayed.name);
    } catch {
      // what is left is an abandoned bundle, swept as any (its creator gone)
    }
  }

  /**
   * A full run of `key` about to resolve its image: it leaves a plan if the image store did not change meanwhile and
   * its preparation qualifies. `quiet()` tells whether it said nothing a replay would have to say again.
   */
  recording(key: string, options: RunOptions, quiet: () => boolean): Recording | undefined {
    const addon = this.loadAddon();
    if (!addon) return undefined;
    const indexFile = join(this.dataDir, "index.json");
    const index = addon.fileIdentity(indexFile);
    return {
      record: ({ bundleDir, spec, layers }) => {
        const changed = !quiet() ? "the run warned" : addon.fileIdentity(indexFile) !== index ? "the image store changed during the run" : undefined;
        const shape = changed ?? planOfBundle(bundleDir, [bundleDir], options.cmd ?? [], false);
        if (typeof shape === "string") return traceMark(process.env, "plan-cache", `no plan: ${shape}`);
        const text = JSON.stringify({ ...shape, host: addon.hostFacts(), index, layers });
        if (this.plans.size >= MAX_PLANS) this.plans.delete(this.plans.keys().next().value!);
        this.plans.set(key, { text, made: Date.now(), spec, layers });
        traceMark(process.env, "plan-cache", "plan made");
      },
    };
  }

  private loadAddon(): NativeAddon | null {
    if (this.addon === undefined) {
      try {
        this.addon = loadAddonSync();
      } catch {
        this.addon = null;
      }
    }
    return this.addon;
  }
}
