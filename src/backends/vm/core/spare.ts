/**
 * A spare container: made in the guest ahead of the run that takes it, set
 * up to its process (namespaces, root, mounts, pivot: what costs under
 * emulation) and waiting there; `start` gives it the run's process. Only the
 * process's LATE_PROCESS_FIELDS may differ from the spare's; the agent checks
 * the same (native-rs/container/src/spare.rs; contract:
 * test/fixtures/contract/spare-process.json).
 */
import type { ContainerSpec } from "../../../spec/container-spec.js";
export { LATE_PROCESS_FIELDS, spareFits } from "../../../spec/spare-fit.js";
import type { AgentProtocol } from "./agent-protocol.js";
import { type GuestChannels, pidOf, requestCreate, requestStart } from "./guest-spec.js";

/** `create` of a spare; resolves with the warnings `create` gives (limits the guest cannot apply). */
export function createSpare(link: AgentProtocol<any>, cid: string, spec: ContainerSpec, channels: GuestChannels): Promise<string[]> {
  return requestCreate(link, cid, spec, channels, { spare: true });
}

/** `start` of a spare with `process`; resolves with the pid in the guest once that process runs (-1 if not told). */
export async function startSpare(link: AgentProtocol<any>, cid: string, process: ContainerSpec["process"]): Promise<number> {
  return pidOf(await requestStart(link, cid, { process }));
}
