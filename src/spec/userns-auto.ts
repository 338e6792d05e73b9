/**
 * `--userns=auto` (as podman's): the container's ids 0..65535 are a slice
 * of root's subordinate ids, the `containers` entries of /etc/subuid and
 * /etc/subgid, which the runtime picks at start so that no two running
 * containers share one (native-rs/container/src/userns_auto.rs). Root only:
 * rootless containers already run in their user's own subordinate ids.
 */
import { UsageError } from "../errors.js";
import type { LinuxSpec } from "./container-spec.js";
import { findSubordinateRange, type HostIdentity } from "./id-mappings.js";

/** Ids per container: 0..65535, so nobody (65534) exists in it too. */
export const USERNS_AUTO_SIZE = 65536;
/** The owner of the pool in /etc/subuid, as podman names it. */
export const USERNS_AUTO_OWNER = "containers";

export function usernsAuto(host: HostIdentity, files = { subuid: "/etc/subuid", subgid: "/etc/subgid" }): NonNullable<LinuxSpec["usernsAuto"]> {
  if (host.uid !== 0) {
    throw new UsageError("--userns=auto needs tsbox to run as root (rootless containers already run in your own subordinate ids)");
  }
  const uids = findSubordinateRange(files.subuid, USERNS_AUTO_OWNER, -1);
  const gids = findSubordinateRange(files.subgid, USERNS_AUTO_OWNER, -1);
  if (!uids || !gids || uids.count < USERNS_AUTO_SIZE || gids.count < USERNS_AUTO_SIZE) {
    throw new UsageError(
      `--userns=auto takes its ids from the "${USERNS_AUTO_OWNER}" entries of ${files.subuid} and ${files.subgid}, which hold no range of ${USERNS_AUTO_SIZE} ids: add one to both, e.g. "${USERNS_AUTO_OWNER}:2147483648:2147483648"`,
    );
  }
  return { size: USERNS_AUTO_SIZE, uids, gids };
}
