/**
 * A layer's noted owners (image/owner-notes.ts) as the guest sees them:
 * the files of a layer this user unpacked are all the user's on the host,
 * and the notes say which ones the image gives to other ids. The 9p server
 * shows those through the container ids' mapping into the guest
 * (guest-ids.ts), so a file of uid 1000 in the image is uid 1000 in every
 * vm container. Only for a layer's own directory, read-only.
 */
import type { IdMapping } from "../../../../spec/container-spec.js";
import type { HostIdentity } from "../../../../spec/id-mappings.js";
import { readOwnerNotes } from "../../../../image/owner-notes.js";
import { isLayerDir } from "../../../../paths.js";
import type { Export, PresentedOwners } from "../../core/p9/server.js";
import { guestIdMappings } from "../guest-ids.js";

/** What the guest's kernel shows for an id no mapping reaches (overflowuid). */
const OVERFLOW_ID = 65534;

export function notedOwners(host: HostIdentity): (exp: Export) => PresentedOwners | undefined {
  const maps = guestIdMappings(host);
  return (exp) => {
    if (!exp.readonly || !isLayerDir(exp.path)) return undefined;
    let notes;
    try {
      notes = readOwnerNotes(exp.path);
    } catch {
      return undefined; // unreadable notes: the files' own owners, as before there were notes
    }
    if (!notes || notes.length === 0) return undefined;
    const table = new Map(notes.map((o) => [o.path, { uid: toGuest(o.uid, maps.uidMappings), gid: toGuest(o.gid, maps.gidMappings) }]));
    return (rel) => table.get(rel);
  };
}

/** A container id's guest id; one no mapping reaches is shown as the kernel shows such ids. */
function toGuest(id: number, maps: IdMapping[]): number {
  const m = maps.find((r) => id >= r.containerID && id < r.containerID + r.size);
  return m ? m.hostID + (id - m.containerID) : OVERFLOW_ID;
}
