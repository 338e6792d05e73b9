/**
 * A spare container: made in the guest ahead of the run that takes it, set
 * up to its process (namespaces, root, mounts, pivot: what costs under
 * emulation) and waiting there; `start` gives it the run's process. Only the
 * process's LATE_PROCESS_FIELDS may differ from the spare's; the agent checks
 * the same (native-rs/container/src/spare.rs; contract:
 * test/fixtures/contract/spare-process.json).
 */
import type { ContainerSpec } from "../../../spec/container-spec.js";
import type { AgentProtocol } from "./agent-protocol.js";
import { type GuestChannels, pidOf, requestCreate, requestStart } from "./guest-spec.js";

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

/** `create` of a spare; resolves with the warnings `create` gives (limits the guest cannot apply). */
export function createSpare(link: AgentProtocol<any>, cid: string, spec: ContainerSpec, channels: GuestChannels): Promise<string[]> {
  return requestCreate(link, cid, spec, channels, { spare: true });
}

/** `start` of a spare with `process`; resolves with the pid in the guest once that process runs (-1 if not told). */
export async function startSpare(link: AgentProtocol<any>, cid: string, process: ContainerSpec["process"]): Promise<number> {
  return pidOf(await requestStart(link, cid, { process }));
}

/** JSON with object keys sorted: equal values, equal text. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
