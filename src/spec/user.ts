import { TsboxError } from "../errors.js";
import { readFileInTree } from "../image/safe-open.js";
import { lookupUser, type ResolvedUser } from "./user-lookup.js";

export { parseGroup, parsePasswd, type ResolvedUser } from "./user-lookup.js";

/** Docker's `-u` (user-lookup.ts) against unpacked layer directories, topmost first. */
export function resolveUser(spec: string, layers: string[], groupAdd: string[] = []): Promise<ResolvedUser> {
  return lookupUser(spec, (rel) => readImageFile(layers, rel), groupAdd);
}

/** /etc/passwd and /etc/group of a real image are a few KiB; a container could make them any size. */
const MAX_ACCOUNT_FILE = 4 * 1024 * 1024;

/**
 * (Sync: two small files on every `run` with a user.)
 * Reads a file as the container would see it through overlay: topmost
 * layer that has it wins; a whiteout (or a non-regular file) hides it.
 * The topmost "layer" of a running container is its writable upper dir,
 * which the container changes while we read: every name is opened
 * without following symlinks (src/image/safe-open.ts), so a symlinked
 * /etc or /etc/passwd is treated as "no file" and can never lead the
 * read to a host file, and a FIFO or device node is never opened.
 */
export async function readImageFile(layers: string[], rel: string): Promise<string | undefined> {
  for (const layer of layers) {
    let found;
    try {
      found = readFileInTree(layer, rel, MAX_ACCOUNT_FILE);
    } catch (err) {
      if (err instanceof TsboxError) throw new TsboxError(`unable to read the container's /${rel}: it is larger than ${MAX_ACCOUNT_FILE / 1024 / 1024} MiB`, { code: "usage" });
      throw err;
    }
    if (found.kind === "hidden") return undefined; // whiteout, symlink or wrong type: lower layers are not visible here
    if (found.kind === "file") return found.data.toString("utf8");
  }
  return undefined;
}
