/**
 * What a cached run plan is the plan of (src/cli/run-cache/): the same
 * `tsbox run` command line up to its image, the same environment, working
 * directory and user, the same tsbox build. Only the command after the image
 * may differ (plan.ts puts it in place). The plan's file is named by a hash
 * of this material and holds the material itself, compared whole: a hash
 * that collides is a miss, never another run's plan. The addon finds plans by
 * the same key (native-rs/addon/src/replay/key.rs; contract:
 * test/fixtures/contract/run-key.json).
 */
import { statSync } from "node:fs";
import { join } from "node:path";

/** Bumped when a plan's format or meaning changes: older plans are then misses. */
const FORMAT = 2;

/**
 * Variables set afresh for each command, which no run reads: a shell's, and hyperfine's padding of random length
 * (it randomizes the stack's alignment per run; with it in the key no run measured there was ever a replay).
 */
const PER_COMMAND = new Set(["_", "OLDPWD", "SHLVL", "HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET"]);

/** What every plan of one command line's environment shares: the key's material but for the part up to the image. */
export interface RunKeyBase {
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** `buildId` of this tsbox. */
  build: string;
  /** This process's by default (the contract fixture gives its own). */
  uid?: number;
  gid?: number;
}

export interface RunKey {
  /** Compared whole with the plan's own copy. */
  material: string;
  file: string;
}

export function runCacheDir(dataDir: string): string {
  return join(dataDir, "run-cache");
}

/**
 * The keys of the plans a command line may have: `forPrefix(prefix, hasCommand)`, where `prefix` is `run`'s
 * arguments up to and including the image and `hasCommand` whether a command follows it (without one the image's
 * Cmd runs: a plan of its own). The replay tries each prefix of its arguments, as it cannot parse them.
 */
export function runKeys(dataDir: string, base: RunKeyBase): (prefix: readonly string[], hasCommand: boolean) => RunKey {
  const env = Object.entries(base.env)
    .filter(([name, value]) => value !== undefined && !PER_COMMAND.has(name))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const common = JSON.stringify([FORMAT, base.build, base.uid ?? process.getuid?.() ?? -1, base.gid ?? process.getgid?.() ?? -1, base.cwd, env]);
  const commonHash = fnv1a(common);
  const dir = runCacheDir(dataDir);
  return (prefix, hasCommand) => {
    const own = JSON.stringify([prefix, hasCommand]);
    return { material: `${common}\n${own}`, file: join(dir, `${commonHash}-${fnv1a(own)}.json`) };
  };
}

/**
 * This tsbox build: its CLI bundle's inode, size and change time (npm unpacks every file with one fixed mtime,
 * so an update of equal size would keep its mtime; the change time and the inode it cannot).
 */
export function buildId(distDir: string): string {
  const st = statSync(join(distDir, "cli.cjs"), { bigint: true });
  return `${st.ino}-${st.size}-${st.ctimeNs}`;
}

/** FNV-1a, 32 bits, in hex (node:crypto would load Node's whole stream stack: ~3 ms of a start). A collision is a miss. */
function fnv1a(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
