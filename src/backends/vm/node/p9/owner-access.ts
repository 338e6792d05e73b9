/**
 * The DAC override the 9p server gives where the guest kernel already gave
 * it. The guest checks every call against the modes and owners it is shown
 * (container root with CAP_DAC_OVERRIDE passes, `--cap-drop DAC_OVERRIDE`
 * or another uid does not), but the unprivileged server then acts as the
 * host user, whom the host holds to the owner bits: root in a vm container
 * could not write a 0444 file (git's objects) nor create or remove in a 0555
 * directory (a Go module cache) of its bind mount, which root and rootless
 * native containers and docker on Linux can. The host user owns such files
 * and may chmod them anyway (so may a hostile guest, through setattr): the
 * server adds the bits for the one call and puts the mode back, on the
 * inode it checked, never through a symlink. A file the user does not own
 * stays refused, as for a rootless native container's root.
 */
import { chmodSync, closeSync, fstatSync, openSync } from "node:fs";
import { readlinkName } from "../../../../fs-util.js";
import { fsName } from "../../../../name-bytes.js";

const O_PATH = 0o10000000;
const O_NOFOLLOW = 0o400000;
const O_CLOEXEC = 0o2000000;

/** `call` with `need` added to `path`'s owner bits meanwhile; `refused` where that is not ours to give. */
export function withOwnerAccess<T>(path: string, need: number, call: () => T, refused: unknown): T {
  const euid = process.geteuid?.();
  if (euid === undefined || euid === 0) throw refused; // root was not refused for want of bits
  let fd: number;
  try {
    fd = openSync(fsName(path), O_PATH | O_NOFOLLOW | O_CLOEXEC);
  } catch {
    throw refused;
  }
  try {
    const st = fstatSync(fd);
    const mode = st.mode & 0o7777;
    // The server checked `path` (symlink-free, inside its export) just before: the inode pinned must still be there.
    if (st.uid !== euid || !(st.isFile() || st.isDirectory()) || (mode & need) === need || readlinkName(`/proc/self/fd/${fd}`) !== path) throw refused;
    // Through the fd's /proc link: that very inode, whatever `path` names by now.
    const self = `/proc/self/fd/${fd}`;
    chmodSync(self, mode | need);
    try {
      return call();
    } finally {
      chmodSync(self, mode);
    }
  } finally {
    closeSync(fd);
  }
}
