/**
 * `--chown=USER[:GROUP]`: ids as given, or names looked up in the image's
 * own /etc/passwd and /etc/group — docker's `-u` lookup (spec/user.ts) on the
 * stage image's unpacked layers. A name without a group gets its primary
 * group; a uid without a gid is used as the gid too (docker's rule for --chown).
 */
import { isTsboxError } from "../errors.js";
import type { Runtime } from "../runtime.js";
import { resolveUser } from "../spec/user.js";
import { BuildError } from "./build-error.js";
import type { Stage } from "./builder.js";
import { stageLayerDirs } from "./mount-stubs.js";

export interface Owner {
  uid: number;
  gid: number;
}

export async function lookupOwner(rt: Runtime, stage: Stage, chown: string, line: number, of?: "USER"): Promise<Owner> {
  // Topmost first; unpacked already (the step's container was made from this image). FROM scratch: no files.
  const layers = await stageLayerDirs(rt, stage);
  try {
    const user = await resolveUser(chown, layers);
    const [name, group] = chown.split(":", 2);
    return { uid: user.uid, gid: !group && /^\d+$/.test(name!) ? user.uid : user.gid };
  } catch (err) {
    if (isTsboxError(err)) throw new BuildError(`line ${line}: ${of === "USER" ? `USER ${chown}` : `--chown=${chown}`}: ${err.message}`);
    throw err;
  }
}
