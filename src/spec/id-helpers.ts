/**
 * newuidmap and newgidmap, the setuid helpers that write a rootless user's
 * /etc/subuid and /etc/subgid ranges into a user namespace. Whether an
 * installed one can (its setuid bit or file capabilities, a nosuid mount) is
 * tsbox-runtime's check (native-rs/container/src/idmap.rs `helper_problems`,
 * shown by `tsbox info` through the probe); here, which are not installed.
 */
import { onPath } from "../on-path.js";

/** What the distributions call the package that brings them. */
export const ID_HELPERS_PACKAGE = "Debian/Ubuntu: apt install uidmap; Fedora: shadow-utils";

/** The helpers that are not installed (none when both are). */
export function missingIdHelpers(env: NodeJS.ProcessEnv = process.env): string[] {
  return ["newuidmap", "newgidmap"].filter((name) => !onPath(name, env));
}
