/**
 * What P9Server needs from a file system: exactly the calls it makes,
 * path-based and synchronous (POSIX semantics, Linux flag values). Two
 * implementations: NodeFs (the host's real directories) and MemoryFs (an
 * in-memory tree, for browsers). Failures throw errors with a `code`
 * ("ENOENT"), see errno.ts.
 */

export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

/** open(2) flags as Linux (and so 9p2000.L's lopen/lcreate) numbers them. */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  RDWR: 2,
  ACCMODE: 3,
  CREAT: 0o100,
  EXCL: 0o200,
  TRUNC: 0o1000,
  APPEND: 0o2000,
  NOFOLLOW: 0o400000,
} as const;

export interface P9Stat {
  /** File type bits and permissions, as st_mode. */
  mode: number;
  uid: number;
  gid: number;
  nlink: bigint;
  rdev: bigint;
  size: bigint;
  blksize: bigint;
  blocks: bigint;
  dev: bigint;
  ino: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  birthtimeNs: bigint;
}

export interface P9StatFs {
  type: bigint;
  bsize: bigint;
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
}

export interface P9Fs {
  /** May files change owner (chown to the guest user)? On a host: only as root. */
  readonly canChown: boolean;
  realpath(path: string): string;
  lstat(path: string): P9Stat;
  stat(path: string): P9Stat;
  readdir(path: string): string[];
  readlink(path: string): string;
  /**
   * Opens a regular file (never following a final symlink); returns a file
   * descriptor; `mode` applies when O.CREAT creates the file. Anything else —
   * a device node, FIFO or socket — fails with EACCES *without being opened*
   * (opening one can block, or act on a host device).
   */
  open(path: string, flags: number, mode?: number): number;
  close(fd: number): void;
  /** Reads into `buf` at `position`; returns the byte count (0 at the end). */
  read(fd: number, buf: Uint8Array, position: number): number;
  write(fd: number, data: Uint8Array, position: number): number;
  fsync(fd: number): void;
  mkdir(path: string, mode: number): void;
  rmdir(path: string): void;
  unlink(path: string): void;
  symlink(target: string, path: string): void;
  link(existing: string, path: string): void;
  rename(from: string, to: string): void;
  chmod(path: string, mode: number): void;
  chown(path: string, uid: number, gid: number): void;
  lchown(path: string, uid: number, gid: number): void;
  /** Truncates a regular file (anything else: EACCES, never opened). */
  truncate(path: string, length: number): void;
  /** Times in seconds since the epoch (fractions allowed). */
  utimes(path: string, atime: number, mtime: number): void;
  statfs(path: string): P9StatFs;
  /** The attribute's value; throws ENODATA when it has none. Does not follow a final symlink. */
  getxattr(path: string, name: string): Uint8Array;
  /** Attribute names. Does not follow a final symlink. */
  listxattr(path: string): string[];
  /**
   * `call` once more with the owner permission bits `need` (0o200: write…)
   * added to `path`'s mode for its duration, then the mode put back: what a
   * server run by the files' owner gives where the guest kernel let the
   * asker through (container root's CAP_DAC_OVERRIDE) and the host did not.
   * Throws `refused` when it cannot give them (not the owner's file, not a
   * regular file or directory, the path changed, the bits were there).
   * Absent: permissions are the guest kernel's alone (MemoryFs).
   */
  withOwnerAccess?<T>(path: string, need: number, call: () => T, refused: unknown): T;
}

export const isDirectory = (st: P9Stat) => (st.mode & S_IFMT) === S_IFDIR;
export const isSymlink = (st: P9Stat) => (st.mode & S_IFMT) === S_IFLNK;
export const isRegular = (st: P9Stat) => (st.mode & S_IFMT) === S_IFREG;

/** `dir` + "/" + `name` for absolute paths ("/" + "a" is "/a"). */
export function childPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

/** The parent of an absolute path ("/" for "/a" and for "/"). */
export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "/" : path.slice(0, i);
}
