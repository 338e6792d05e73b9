import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isErrno } from "../fs-util.js";
import { lookupUser, type ResolvedUser } from "./user-lookup.js";

export { parseGroup, parsePasswd, type ResolvedUser } from "./user-lookup.js";

/** Docker's `-u` (user-lookup.ts) against unpacked layer directories, topmost first. */
export function resolveUser(spec: string, layers: string[]): Promise<ResolvedUser> {
  return lookupUser(spec, (rel) => readImageFile(layers, rel));
}

/**
 * (Sync: two small files on every `run` with a user.)
 * Reads a file as the container would see it through overlay: topmost
 * layer that has it wins; a whiteout (or a non-regular file) hides it.
 * Parents must be real directories: a symlinked /etc in a layer could
 * point anywhere on the host, so it is treated as "no file".
 */
export async function readImageFile(layers: string[], rel: string): Promise<string | undefined> {
  const parts = rel.split("/");
  for (const layer of layers) {
    let dir = layer;
    let hidden = false;
    let missing = false;
    for (let i = 0; i < parts.length; i++) {
      const path = join(dir, parts[i]!);
      let st;
      try {
        st = lstatSync(path);
      } catch (err) {
        if (!isErrno(err, "ENOENT") && !isErrno(err, "ENOTDIR")) throw err;
        missing = true;
        break;
      }
      const last = i === parts.length - 1;
      if (last ? !st.isFile() : !st.isDirectory()) {
        hidden = true; // whiteout, symlink or wrong type: lower layers are not visible here
        break;
      }
      dir = path;
    }
    if (hidden) return undefined;
    if (!missing) return readFileSync(dir, "utf8");
  }
  return undefined;
}
