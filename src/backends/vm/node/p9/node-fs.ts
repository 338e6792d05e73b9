/** P9Fs over the host's real file system (node:fs, synchronous: microseconds on a local disk). */
import * as fs from "node:fs";
import { openRegular } from "../../../../image/safe-open.js";
import { readdirNames, readlinkName, realpathName } from "../../../../fs-util.js";
import { fsName } from "../../../../name-bytes.js";
import { FsError } from "../../core/p9/errno.js";
import { O, type P9Fs, type P9Stat, type P9StatFs } from "../../core/p9/fs.js";
import { inOciFormLayer } from "../../../../paths.js";
import { presentOciNames, presentOciStat, presentOciXattr, presentOciXattrNames } from "./oci-whiteouts.js";
import { withOwnerAccess } from "./owner-access.js";
import { hostXattrs, presentStat, presentXattr, presentXattrNames } from "./overlay-markers.js";

export class NodeFs implements P9Fs {
  readonly canChown = process.getuid?.() === 0;

  realpath(path: string): string {
    return realpathName(path);
  }

  lstat(path: string): P9Stat {
    if (inOciFormLayer(path)) return presentOciStat(path, (p) => toStat(fs.lstatSync(fsName(p), { bigint: true })));
    return presentStat(path, toStat(fs.lstatSync(fsName(path), { bigint: true })), hostXattrs());
  }

  stat(path: string): P9Stat {
    if (inOciFormLayer(path)) return presentOciStat(path, (p) => toStat(fs.statSync(fsName(p), { bigint: true })));
    return presentStat(path, toStat(fs.statSync(fsName(path), { bigint: true })), hostXattrs());
  }

  readdir(path: string): string[] {
    // Names as their bytes are (src/name-bytes.ts): a guest's or an image's need not be UTF-8.
    const names = readdirNames(path);
    return inOciFormLayer(path) ? presentOciNames(names) : names;
  }

  readlink(path: string): string {
    return readlinkName(path);
  }

  /** Only regular files: see safe-open.ts (O_PATH, fstat, reopen through /proc). */
  open(path: string, flags: number, mode?: number): number {
    if (flags & O.CREAT) {
      // A file we create is a regular file: no check needed.
      try {
        return fs.openSync(fsName(path), flags | O.EXCL | O.NOFOLLOW | O_NOCTTY, mode);
      } catch (err) {
        if ((flags & O.EXCL) || (err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    return openRegular(path, flags & ~(O.CREAT | O.EXCL));
  }

  close(fd: number): void {
    fs.closeSync(fd);
  }

  read(fd: number, buf: Uint8Array, position: number): number {
    return fs.readSync(fd, buf, 0, buf.length, position);
  }

  write(fd: number, data: Uint8Array, position: number): number {
    return fs.writeSync(fd, data, 0, data.length, position);
  }

  fsync(fd: number): void {
    fs.fsyncSync(fd);
  }

  mkdir(path: string, mode: number): void {
    fs.mkdirSync(fsName(path), mode);
  }

  rmdir(path: string): void {
    fs.rmdirSync(fsName(path));
  }

  unlink(path: string): void {
    fs.unlinkSync(fsName(path));
  }

  symlink(target: string, path: string): void {
    fs.symlinkSync(fsName(target), fsName(path));
  }

  link(existing: string, path: string): void {
    fs.linkSync(fsName(existing), fsName(path));
  }

  rename(from: string, to: string): void {
    fs.renameSync(fsName(from), fsName(to));
  }

  chmod(path: string, mode: number): void {
    fs.chmodSync(fsName(path), mode);
  }

  chown(path: string, uid: number, gid: number): void {
    fs.chownSync(fsName(path), uid, gid);
  }

  lchown(path: string, uid: number, gid: number): void {
    fs.lchownSync(fsName(path), uid, gid);
  }

  truncate(path: string, length: number): void {
    // Not fs.truncateSync(path): it opens whatever is there.
    const fd = openRegular(path, O.WRONLY);
    try {
      fs.ftruncateSync(fd, length);
    } finally {
      fs.closeSync(fd);
    }
  }

  utimes(path: string, atime: number, mtime: number): void {
    fs.utimesSync(fsName(path), atime, mtime);
  }

  statfs(path: string): P9StatFs {
    const s = fs.statfsSync(fsName(path), { bigint: true });
    return { type: s.type, bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree };
  }

  // Node has no xattr calls: the native addon's, where it is built; else none.
  getxattr(path: string, name: string): Uint8Array {
    const x = hostXattrs();
    const value = inOciFormLayer(path) ? presentOciXattr(path, name) : x ? presentXattr(path, name, x) : null;
    if (value === null) throw new FsError("ENODATA", "getxattr", path);
    return value;
  }

  listxattr(path: string): string[] {
    if (inOciFormLayer(path)) return presentOciXattrNames(path);
    const x = hostXattrs();
    return x ? presentXattrNames(path, x) : [];
  }

  withOwnerAccess<T>(path: string, need: number, call: () => T, refused: unknown): T {
    return withOwnerAccess(path, need, call, refused);
  }
}

const O_NOCTTY = 0o400;

function toStat(st: fs.BigIntStats): P9Stat {
  return {
    mode: Number(st.mode),
    uid: Number(st.uid),
    gid: Number(st.gid),
    nlink: st.nlink,
    rdev: st.rdev,
    size: st.size,
    blksize: st.blksize,
    blocks: st.blocks,
    dev: st.dev,
    ino: st.ino,
    atimeNs: st.atimeNs,
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    birthtimeNs: st.birthtimeNs,
  };
}
