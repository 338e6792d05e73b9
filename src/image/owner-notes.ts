/**
 * Owner notes: the owners a layer's tar gave that its unpack left
 * unapplied, kept in a file beside the layer's directory (`<dir>.owners`).
 * An unprivileged unpack makes every file the user's; with subordinate ids
 * the native backend chowns them in the user's namespace
 * (containers/layer-owners.ts), but where it cannot — no subordinate ids
 * (macOS, Windows, a user without /etc/subuid), or the vm backend unpacked
 * the layer — the notes keep what the image said: the vm's 9p server
 * presents them to the guest (backends/vm/node/p9/presented-owners.ts), and the
 * native backend applies them at its first use of the layer where it can.
 * Written before the layer is published (write then rename), so a layer
 * never lacks its notes; removed with the layer (gc.ts).
 */
import { readFileSync, rmSync } from "node:fs";
import { isErrno, writeFileAtomicSync } from "../fs-util.js";
import { isId32 } from "../spec/mapped-ids.js";
import type { LayerOwner } from "./unpack.js";

export const OWNER_NOTES_SUFFIX = ".owners";

export function ownerNotesPath(layerDir: string): string {
  return layerDir + OWNER_NOTES_SUFFIX;
}

export function writeOwnerNotes(layerDir: string, owners: LayerOwner[]): void {
  writeFileAtomicSync(ownerNotesPath(layerDir), JSON.stringify(owners.map((o) => (o.mode === undefined ? [o.path, o.uid, o.gid] : [o.path, o.uid, o.gid, o.mode]))));
}

/** The layer's notes, or undefined when it has none (every owner applied, or none but root's). */
export function readOwnerNotes(layerDir: string): LayerOwner[] | undefined {
  let text: string;
  try {
    text = readFileSync(ownerNotesPath(layerDir), "utf8");
  } catch (err) {
    if (isErrno(err, "ENOENT")) return undefined;
    throw err;
  }
  const rows: unknown = JSON.parse(text);
  if (!Array.isArray(rows)) throw new Error(`${ownerNotesPath(layerDir)}: not a list of owners`);
  return rows.map((row: unknown) => {
    if (!Array.isArray(row) || typeof row[0] !== "string" || !isId32(row[1]) || !isId32(row[2]) || (row[3] !== undefined && !isId32(row[3]))) {
      throw new Error(`${ownerNotesPath(layerDir)}: a malformed owner ${JSON.stringify(row)}`);
    }
    return row[3] === undefined ? { path: row[0], uid: row[1], gid: row[2] } : { path: row[0], uid: row[1], gid: row[2], mode: row[3] };
  });
}

/** The notes, or none where they cannot be read (the files then show their own owners, as before there were notes). */
export function ownerNotesOrNone(layerDir: string): LayerOwner[] {
  try {
    return readOwnerNotes(layerDir) ?? [];
  } catch {
    return [];
  }
}

export function removeOwnerNotes(layerDir: string): void {
  rmSync(ownerNotesPath(layerDir), { force: true });
}
