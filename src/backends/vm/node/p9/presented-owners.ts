/**
 * The owners the guest sees where the host cannot give files their own: a
 * 9p server run by an unprivileged user (every macOS and Windows user) has
 * only files of that user, which the guest shows as the container's root's.
 *
 * - A layer's noted owners (image/owner-notes.ts): the tar gave them, the
 *   unpack could not; shown through the container ids' mapping into the
 *   guest (guest-ids.ts), so a file of uid 1000 in the image is uid 1000 in
 *   every vm container. Only for a layer's own directory, read-only.
 * - A bind mount or volume: the owners the guest gave its files there
 *   (owner-records.ts: a chown, a file a non-root user made), and where
 *   the container's user is not root (`Export.shownOwner`,
 *   core/guest-spec.ts) every other file as that user's, as Docker
 *   Desktop's file sharing lets an image's `USER node` work in a mounted
 *   project. The directory stays the user's, and the server writes to it
 *   as the user whoever asks.
 *
 * As root the files have their own owners: nothing is presented.
 */
import type { HostIdentity } from "../../../../spec/id-mappings.js";
import { isLayerDir, isVolumeDataDir } from "../../../../paths.js";
import type { Export, PresentedOwners } from "../../core/p9/server.js";
import { guestIdMappings } from "../guest-ids.js";
import { acquireOwnerRecords, type GuestMaps, notedGuestOwners } from "./owner-records.js";

export function presentedOwners(host: HostIdentity): (exp: Export) => PresentedOwners | undefined {
  if (host.uid === 0) return () => undefined;
  const maps = guestIdMappings(host);
  return (exp) => {
    if (!exp.readonly) return recorded(exp, maps);
    return isLayerDir(exp.path) ? noted(exp.path, maps) : undefined;
  };
}

function recorded(exp: Export, maps: GuestMaps): PresentedOwners {
  const { records, release } = acquireOwnerRecords(exp.path, isVolumeDataDir(exp.path) ? maps : undefined);
  const shown = exp.shownOwner;
  return {
    ownerOf: (rel) => records.get(rel) ?? shown,
    record: (rel, owner, own) => {
      const plain = shown ?? own; // what the file shows with nothing kept
      if (owner.uid === plain.uid && owner.gid === plain.gid) records.delete(rel);
      else records.set(rel, { uid: owner.uid, gid: owner.gid });
    },
    moved: (from, to, directory) => records.move(from, to, directory),
    removed: (rel) => records.delete(rel),
    release,
  };
}

function noted(layerDir: string, maps: GuestMaps): PresentedOwners | undefined {
  const owners = notedGuestOwners(layerDir, maps);
  if (owners.length === 0) return undefined;
  const table = new Map(owners);
  return { ownerOf: (rel) => table.get(rel) };
}
