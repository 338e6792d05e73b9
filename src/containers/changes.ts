/**
 * A container's writable layer as changes (`tsbox diff`) and as an image
 * layer (`tsbox commit`), read from its upper dir through tsbox-runtime's
 * `copy` (in the container's user namespace, where files of any of its users
 * are readable), or for a stopped vm container from the layer its guest kept
 * (`ContainerFiles.upperRecords`): overlay's whiteouts become deletions (`D`,
 * `.wh.NAME`), its opaque directories `.wh..wh..opq`, and the xattrs a file
 * or directory carries (a `setcap`'s capability, `user.*`) `SCHILY.xattr.*`
 * pax records, as docker's and buildah's layers have them.
 */
import type { Writable } from "node:stream";
import { ContainerError } from "../errors.js";
import { OPAQUE_MARKER, WHITEOUT_PREFIX } from "../image/layer-paths.js";
import { LayerView } from "../image/layer-view.js";
import { type CopyRecord, readRecords, recordToTar } from "./copy-records.js";
import { type ContainerFiles, recordsToTar } from "./copy.js";

/** docker's change kinds (`ContainerChanges`): 0 changed, 1 added, 2 deleted. */
export interface Change {
  Kind: 0 | 1 | 2;
  Path: string;
}

/** What `docker diff` lists, in path order: added and changed entries of the upper dir, and its deletions. */
export async function containerChanges(files: ContainerFiles, lowers: string[]): Promise<Change[]> {
  const image = new LayerView(lowers);
  const changes = await files.readUpper(async () => {
    const reader = files.upperRecords(false);
    const found: Change[] = [];
    try {
      for await (const r of readRecords(reader.stdout!, { content: reader.bodies })) {
        const path = `/${r.path}`;
        if (r.type === "whiteout") found.push({ Kind: 2, Path: path });
        else found.push({ Kind: image.lookup(path) ? 0 : 1, Path: path });
      }
    } finally {
      await reader.done;
    }
    return found;
  });
  return changes.sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
}

/**
 * The upper dir as an image layer tar on `out` (not ended): whiteouts in the OCI form. `select` may hold
 * records back and give them with a later one, or drop them (a build's mount stubs, build/mount-stubs.ts);
 * what it holds has no body (a directory, an empty file).
 */
export async function upperAsLayer(files: ContainerFiles, out: Writable, select: (r: CopyRecord) => CopyRecord[] = (r) => [r]): Promise<void> {
  const empty = { async *[Symbol.asyncIterator]() {} };
  // A marker is an empty file of its own: none of the directory's xattrs.
  const marker = (r: CopyRecord, path: string) => recordToTar({ ...r, type: "file", path, size: 0, mode: 0o600, xattrs: {} }, empty);
  await recordsToTar(files.upperRecords(true), out, (current, body) =>
    select(current).flatMap((r) => {
      const slash = r.path.lastIndexOf("/");
      // A file of the container's own with a whiteout's name would be one in the image: refused, not written (a
      // container's `touch /etc/.wh..wh..opq` emptied the committed image's /etc; `diff` lists it as added).
      if (r.type !== "whiteout" && r.path.slice(slash + 1).startsWith(WHITEOUT_PREFIX)) {
        throw new ContainerError(`/${r.path} has a name image layers read as a whiteout (it would delete ${r.path.endsWith(OPAQUE_MARKER) ? `what is below /${r.path.slice(0, slash)}` : `/${r.path.slice(0, slash + 1)}${r.path.slice(slash + 1 + WHITEOUT_PREFIX.length)}`} from the image): rename or remove it first`);
      }
      if (r.type === "whiteout") return [marker(r, `${r.path.slice(0, slash + 1)}.wh.${r.path.slice(slash + 1)}`)];
      const entry = recordToTar(r, r === current ? body : empty);
      return r.type === "dir" && r.opaque ? [entry, marker(r, `${r.path}/.wh..wh..opq`)] : [entry];
    }),
  );
}
