/**
 * A run plan on disk (`<data dir>/run-cache/<key hash>.json`, written then
 * renamed) and what must still hold for it to be replayed: the same key
 * (key.ts), the same process and host facts (`hostFacts`, compared by the addon), the image
 * store's index unchanged since before the full run looked the image up, its
 * layers there, and an age under an hour. The addon reads and checks them when it replays
 * (native-rs/addon/src/replay/plan_file.rs, from_bin.rs).
 */
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { loadAddonSync } from "../../backends/native/addon.js";
import { dirname, join } from "node:path";
import { writeFileAtomicSync } from "../../fs-util.js";
import type { PlanShape } from "../../containers/run-plan.js";

export interface StoredPlan extends PlanShape {
  /** key.ts's material, compared whole. */
  material: string;
  /** When it was made (ms since the epoch). */
  made: number;
  host: string;
  /** `fileIdentity` of the store's index.json before the full run resolved its image. */
  index: string;
  /** The tsbox-runtime the full run handed over to, and the addon it loaded to do it. */
  binary: string;
  addon: string;
  /** The image's layer dirs (its creator file lists them, as the full run's did). */
  layers: string[];
  /** Every dir the container's root is made of (those layers and the shared init layer): all must still be there. */
  lower: string[];
  stdin: "inherit" | "ignore";
  /** What the full run warned of before it handed over (said again, as it would have been). */
  warnings: string[];
}

/** Plans kept per data dir (a plan is ≈ 15 KB): the least recently made go first. */
const MAX_PLANS = 64;

/**
 * The file's identity: a write-then-rename (every index.json update) or any change gives another. The addon's
 * (native-rs/addon/src/replay/host.rs), which compares it again when it replays.
 */
export function fileIdentity(path: string): string {
  return loadAddonSync().fileIdentity(path);
}

/**
 * What a full run read of this process and its host besides the key (the addon's, as `fileIdentity`): this boot,
 * its namespaces, its no_new_privs, seccomp mode, capabilities and hard RLIMIT_NOFILE, swap, the subordinate id,
 * passwd and group files. What else of the host it read (sysctls, installed id helpers, cgroup mounts) counts
 * through the plan's age.
 */
export function hostFacts(): string {
  return loadAddonSync().hostFacts();
}

export function writePlan(file: string, plan: StoredPlan): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomicSync(file, JSON.stringify(plan));
  const plans = readdirSync(dir).filter((f) => f.endsWith(".json"));
  if (plans.length <= MAX_PLANS) return;
  const made = plans.map((f) => ({ f, t: statSync(join(dir, f), { throwIfNoEntry: false })?.mtimeMs ?? 0 })).sort((a, b) => a.t - b.t);
  for (const { f } of made.slice(0, plans.length - MAX_PLANS)) rmSync(join(dir, f), { force: true });
}
