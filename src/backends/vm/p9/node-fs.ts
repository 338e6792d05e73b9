/** P9Fs over the host's real file system (node:fs, synchronous: microseconds on a local disk). */
import * as fs from "node:fs";
import { FsError } from "./errno.js";
import type { P9Fs, P9Stat, P9StatFs } from "./fs.js";
import { hostXattrs, presentStat, presentXattr, presentXattrNames } from "./overlay-markers.js";

export class NodeFs implements P9Fs {
  readonly canChown = process.getuid?.() === 0;

  realpath(path: string): string {
    return fs.realpathSync(path);
  }

  lstat(path: string): P9Stat {
    return presentStat(path, toStat(fs.lstatSync(path, { bigint: true })), hostXattrs());
  }

  stat(path: string): P9Stat {
    return presentStat(path, toStat(fs.statSync(path, { bigint: true })), hostXattrs());
  }

  readdir(path: string): string[] {
    return fs.readdirSync(path);
  }

  readlink(path: string): string {
    return fs.readlinkSync(path, "utf8");
  }

  open(path: string, flags: number, mode?: number): number {
    return fs.openSync(path, flags, mode);
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
    fs.mkdirSync(path, mode);
  }

  rmdir(path: string): void {
    fs.rmdirSync(path);
  }

  unlink(path: string): void {
    fs.unlinkSync(path);
  }

  symlink(target: string, path: string): void {
    fs.symlinkSync(target, path);
  }

  link(existing: string, path: string): void {
    fs.linkSync(existing, path);
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  chmod(path: string, mode: number): void {
    fs.chmodSync(path, mode);
  }

  chown(path: string, uid: number, gid: number): void {
    fs.chownSync(path, uid, gid);
  }

  lchown(path: string, uid: number, gid: number): void {
    fs.lchownSync(path, uid, gid);
  }

  truncate(path: string, length: number): void {
    fs.truncateSync(path, length);
  }

  utimes(path: string, atime: number, mtime: number): void {
    fs.utimesSync(path, atime, mtime);
  }

  statfs(path: string): P9StatFs {
    const s = fs.statfsSync(path, { bigint: true });
    return { type: s.type, bsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree };
  }

  // Node has no xattr calls: the native addon's, where it is built; else none.
  getxattr(path: string, name: string): Uint8Array {
    const x = hostXattrs();
    const value = x ? presentXattr(path, name, x) : null;
    if (value === null) throw new FsError("ENODATA", "getxattr", path);
    return value;
  }

  listxattr(path: string): string[] {
    const x = hostXattrs();
    return x ? presentXattrNames(path, x) : [];
  }
}

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
