/**
 * Which run a spare container fits (a container set up ahead, its process given at start: the vm guest's,
 * src/backends/vm/core/spare.ts, and the native warm helper's, src/containers/spare.ts). Only the process's
 * LATE_PROCESS_FIELDS may differ from the spare's; the container crate checks the same
 * (native-rs/container/src/spare.rs; contract: test/fixtures/contract/spare-process.json).
 */
import type { ContainerSpec } from "./container-spec.js";

/** What a start may change, by their names in the OCI `process` object. */
export const LATE_PROCESS_FIELDS = ["args", "env", "cwd", "user", "consoleSize"] as const;

/**
 * Whether `run` (a spec made for the spare's cid) is the spare's but for its
 * process's late fields. On a read-only root the working directory must be
 * the spare's: the container makes a missing one only before the root is
 * remounted read-only, which a spare has done already.
 */
export function spareFits(spare: ContainerSpec, run: ContainerSpec): boolean {
  if (run.root.readonly && run.process.cwd !== spare.process.cwd) return false;
  const early = (spec: ContainerSpec) => {
    const process: Record<string, unknown> = { ...spec.process };
    for (const field of LATE_PROCESS_FIELDS) delete process[field];
    return canonical({ ...spec, process });
  };
  return early(spare) === early(run);
}

/** JSON with object keys sorted: equal values, equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
