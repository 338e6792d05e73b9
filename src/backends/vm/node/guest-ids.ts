/**
 * The ids of vm containers. Their user namespaces are made in the guest,
 * whose files come from the host over 9p with the host's owners: a file of
 * the user is the container's root, as on a rootless host. Where the host
 * gives the user subordinate ids, the guest maps the same ones (so a layer
 * the native backend chowned reads alike in both); where it gives none
 * (macOS, Windows, a user without /etc/subuid), the guest still has every id
 * to give, and its containers get a range of 65536 there — what the 9p
 * server presents a layer's noted owners as (p9/presented-owners.ts).
 */
import { type HostIdentity, idMappings } from "../../../spec/id-mappings.js";
import type { IdMapping } from "../../../spec/container-spec.js";

const GUEST_RANGE = 65536;
const GUEST_RANGE_START = 100000;

export function guestIdentity(host: HostIdentity): HostIdentity {
  if (host.uid === 0 || (host.subuid && host.subgid)) return host;
  // Clear of the user's own ids.
  const start = (own: number) => (own >= GUEST_RANGE_START && own < GUEST_RANGE_START + GUEST_RANGE ? GUEST_RANGE_START + GUEST_RANGE : GUEST_RANGE_START);
  return { uid: host.uid, gid: host.gid, subuid: { start: start(host.uid), count: GUEST_RANGE }, subgid: { start: start(host.gid), count: GUEST_RANGE } };
}

export function guestIdMappings(host: HostIdentity): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  return idMappings(guestIdentity(host));
}
