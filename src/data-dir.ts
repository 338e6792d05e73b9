/**
 * Opening the data dir a Runtime uses: made if missing (0700), resolved to
 * its real path once, and refused when another user owns it.
 */
import { readFileSync, realpathSync, statSync } from "node:fs";
import { ensurePrivateDir } from "./fs-util.js";
import { TsboxError } from "./errors.js";
import { parsePasswd } from "./spec/user-lookup.js";

/**
 * The real path of the data dir `dir`, made if missing. Resolved here, once, before anything is made below it
 * (docker and podman resolve their root the same way): every path tsbox then derives (a bundle's net/hosts, an
 * unpack's dir) has no symlink in it, so the runtime's rule against links a container could have planted (which
 * holds for `-v` sources) never meets the user's own `~/.local -> /disk/…` link. A container cannot plant a link
 * above its own bundle.
 */
export function openDataDir(dir: string): string {
  ensurePrivateDir(dir);
  const real = realpathSync(dir);
  checkOwner(real, statSync(real).uid);
  return real;
}

/**
 * Another user's data dir is theirs alone: whoever can write it can stop, remove or rewrite that user's containers
 * (each monitor obeys its socket there) and images. Refused rather than used, as ssh refuses another user's
 * authorized_keys; root only uses its own too (a user's store made root's would lock the user out of it).
 */
function checkOwner(dir: string, owner: number): void {
  const uid = process.geteuid?.();
  if (uid === undefined || owner === uid) return;
  throw new TsboxError(
    `the data dir ${dir} belongs to ${userName(owner)}, not to you (uid ${uid}): each user needs a data dir of their own; set TSBOX_DATA_DIR (or XDG_DATA_HOME) to a directory you own`,
  );
}

/** "name (uid N)" from the host's /etc/passwd, or "uid N". */
export function userName(uid: number): string {
  let name: string | undefined;
  try {
    name = parsePasswd(readFileSync("/etc/passwd", "utf8")).find((e) => e.uid === uid)?.name;
  } catch {
    // No passwd file: the number alone.
  }
  return name ? `${name} (uid ${uid})` : `uid ${uid}`;
}
