/**
 * The ContainerSpec of a run in the Worker: spec/skeleton.ts (the one Node's
 * buildSpec uses) with the inputs of a rootless host whose disk is the
 * Worker's MemoryFs: container root mapped to the user that owns the files
 * (GUEST_FILE_OWNER plays the invoking user, with a range of ids), the image's merged root
 * as the one lower layer, users looked up in that root's /etc/passwd and
 * /etc/group (spec/user-lookup.ts), no volumes (refused on the page).
 */
import type { ImageRunConfig } from "../../../image/oci.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { etcMounts, isolatedNetwork } from "../../../network/etc-files.js";
import { defaultMounts } from "../../../spec/defaults.js";
import { runSpec } from "../../../spec/skeleton.js";
import { type ImageFileReader, lookupUser, type ResolvedUser } from "../../../spec/user-lookup.js";
import { isDirectory, O, S_IFMT, S_IFREG } from "../core/p9/fs.js";
import type { MemoryFs } from "../core/p9/memory-fs.js";
import type { RunRequest } from "./protocol.js";
import { shownId } from "../../../spec/mapped-ids.js";

/** Owner of the memory fs's files, in the guest: container root maps to it (like a rootless host's user). */
export const GUEST_FILE_OWNER = 1000;
/** The guest's default hard RLIMIT_NOFILE (what a host would pass on as its own). */
const GUEST_NOFILE_HARD = 4096;
/**
 * Container ids 0–65535 on guest ids from GUEST_FILE_OWNER up: container root
 * owns the image's files, and any user of the image can run (the guest's
 * agent is root there, so it writes a range as a root host would).
 */
const RANGE = [{ containerID: 0, hostID: GUEST_FILE_OWNER, size: 65536 }];

/** The guest's id for an id an image gives its files: container `id` through RANGE (the kernel's overflow id beyond it). */
export function guestIdOf(id: number): number {
  return shownId(id, RANGE);
}

export interface BrowserSpecInputs {
  cid: string;
  /** The image's merged root in the memory fs. */
  imageRoot: string;
  image: ImageRunConfig | undefined;
  request: RunRequest;
  fs: MemoryFs;
}

export async function browserContainerSpec({ cid, imageRoot, image = {}, request, fs }: BrowserSpecInputs): Promise<ContainerSpec> {
  const user = await lookupUser(request.user ?? (image.User || "0"), imageFileReader(fs, imageRoot));
  // No networks in a page, but the files every container has (localhost in /etc/hosts, /etc/hostname):
  // the guest's agent writes them under the container's dir (guest-network.ts maps `net/`).
  const net = `/containers/${cid}/net`;
  const spec = runSpec({
    id: cid,
    options: request,
    image,
    user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, home: user.home },
    // The guest translation (guest-spec.ts) puts the root and the writable layer in the guest's tmpfs.
    root: { path: `/containers/${cid}/rootfs`, overlay: { lower: [imageRoot], upper: `/containers/${cid}/upper`, work: `/containers/${cid}/work` } },
    mounts: [...defaultMounts({ ttyGroupMapped: true }), ...etcMounts(net, request.readOnly === true)],
    maps: { uidMappings: RANGE, gidMappings: RANGE },
    // spec/defaults.ts defaultRlimits, with the guest's hard limit (it reads the host's).
    rlimits: [{ type: "RLIMIT_NOFILE", soft: 1024, hard: GUEST_NOFILE_HARD }],
  });
  spec.network = isolatedNetwork(net, { id: cid }, spec.hostname ?? cid.slice(0, 12));
  return spec;
}

/** An exec's user (`uid[:gid]` or names), resolved in the container's image. */
export function execUser(text: string, fs: MemoryFs, imageRoot: string): Promise<ResolvedUser> {
  return lookupUser(text, imageFileReader(fs, imageRoot));
}

/**
 * A file of the image root as the container sees it at start: every parent
 * a real directory (a symlinked /etc is treated as no file, as on hosts),
 * the file itself a regular file.
 */
function imageFileReader(fs: MemoryFs, root: string): ImageFileReader {
  return (rel) => {
    let path = root;
    const parts = rel.split("/");
    for (let i = 0; i < parts.length; i++) {
      path = `${path}/${parts[i]}`;
      let st;
      try {
        st = fs.lstat(path);
      } catch {
        return undefined;
      }
      const last = i === parts.length - 1;
      if (last ? (st.mode & S_IFMT) !== S_IFREG : !isDirectory(st)) return undefined;
    }
    const size = fs.lstat(path).size;
    const buf = new Uint8Array(Number(size));
    const fd = fs.open(path, O.RDONLY | O.NOFOLLOW);
    try {
      fs.read(fd, buf, 0);
    } finally {
      fs.close(fd);
    }
    return new TextDecoder().decode(buf);
  };
}
