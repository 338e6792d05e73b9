/**
 * A run plan on disk (`<data dir>/run-cache/<key hash>.json`, written then
 * renamed) and what must still hold for it to be replayed: the same key
 * (key.ts), the same process and host facts (`hostFacts`), the image
 * store's index unchanged since before the full run looked the image up, its
 * layers there (replay.ts), and an age under an hour.
 */
import { accessSync, constants, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { writeFileAtomicSync } from "../../fs-util.js";
import type { PlanShape } from "./plan.js";

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

const MAX_AGE_MS = 60 * 60_000;
/** Plans kept per data dir (a plan is ≈ 15 KB): the least recently made go first. */
const MAX_PLANS = 64;

/** The file's identity: a write-then-rename (every index.json update) or any change gives another. */
export function fileIdentity(path: string): string {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st ? `${st.dev}-${st.ino}-${st.size}-${st.mtimeNs}` : "none";
}

/**
 * What a full run read of this process and its host besides the key: this boot; the namespaces it runs in (an id
 * map, a sysctl's mount, another container's view); its no_new_privs, seccomp mode and capabilities, and its
 * hard RLIMIT_NOFILE (the container's); swap (a memory limit's swap); the subordinate id, passwd and group files.
 * What else of the host it read (sysctls, installed id helpers, cgroup mounts) counts through the plan's age.
 */
export function hostFacts(): string {
  const read = (path: string, pick?: RegExp): string => {
    try {
      const text = readFileSync(path, "latin1");
      return pick ? (text.match(pick) ?? []).join(" ") : text;
    } catch {
      return "-";
    }
  };
  const namespaces = ["user", "mnt", "net", "pid", "ipc", "uts", "cgroup"].map((ns) => {
    try {
      return readlinkSync(`/proc/self/ns/${ns}`);
    } catch {
      return "-";
    }
  });
  return [
    read("/proc/sys/kernel/random/boot_id").trim(),
    ...namespaces,
    read("/proc/self/status", /^(NoNewPrivs|Seccomp|CapEff|CapBnd):.*$/gm),
    read("/proc/self/limits", /^Max open files.*$/m),
    read("/proc/swaps"),
    ...["/etc/subuid", "/etc/subgid", "/etc/passwd", "/etc/group"].map(fileIdentity),
  ].join("\n");
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

/** The plan in `file` (and its text) if it is the plan of `material` and may still be replayed here. */
export function readPlan(file: string, material: string, now = Date.now()): { plan: StoredPlan; text: string } | undefined {
  let plan: StoredPlan;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
    plan = JSON.parse(text) as StoredPlan;
  } catch {
    return undefined;
  }
  if (plan.material !== material || !(now - plan.made < MAX_AGE_MS && plan.made <= now) || plan.host !== hostFacts()) return undefined;
  try {
    accessSync(plan.binary, constants.X_OK);
    accessSync(plan.addon, constants.R_OK);
  } catch {
    return undefined;
  }
  return { plan, text };
}
