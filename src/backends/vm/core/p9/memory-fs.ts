/**
 * An in-memory P9Fs: a tree of directories, files, symlinks and other
 * nodes with modes, owners, times and xattrs. It is what the 9p server
 * serves in a browser, where there is no host file system: image roots
 * unpacked from layer tarballs, and anything the guest writes to them.
 *
 * Paths are absolute and resolved like the kernel does: symlinks are
 * followed in every component but the last unless asked (at most 40),
 * ".." goes to the real parent (never above "/"). Permissions are not
 * checked: the guest kernel does that; this is the "host" side.
 */
import { FsError } from "./errno.js";
import { O, type P9Fs, type P9Stat, type P9StatFs, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from "./fs.js";

interface Meta {
  readonly ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  readonly birthtimeNs: bigint;
  xattrs: Map<string, Uint8Array>;
}
interface DirNode extends Meta {
  kind: "dir";
  entries: Map<string, MemNode>;
}
interface FileNode extends Meta {
  kind: "file";
  data: Uint8Array;
  size: number;
  nlink: number;
}
interface SymlinkNode extends Meta {
  kind: "symlink";
  target: string;
}
type MemNode = DirNode | FileNode | SymlinkNode;

export interface MemoryFsOptions {
  /** Owner of new files (the "host user" the guest's files belong to); default 1000:1000. */
  owner?: { uid: number; gid: number };
  /** Whether chown works (a root host); default false, like a rootless host. */
  canChown?: boolean;
  /** Bytes of file data it holds at most (ENOSPC beyond); default 1 GiB. */
  capacity?: number;
}

const MAX_SYMLINK_HOPS = 40;
const BLOCK = 4096;
const TMPFS_MAGIC = 0x01021994n;
const MAX_INODES = 1n << 20n;

export class MemoryFs implements P9Fs {
  readonly canChown: boolean;
  private readonly owner: { uid: number; gid: number };
  private readonly capacity: number;
  private used = 0;
  private nodes = 1;
  private nextIno = 1n;
  private readonly root: DirNode;
  private readonly fds = new Map<number, { node: MemNode; flags: number }>();
  private nextFd = 3;

  constructor(options: MemoryFsOptions = {}) {
    this.owner = options.owner ?? { uid: 1000, gid: 1000 };
    this.canChown = options.canChown ?? false;
    this.capacity = options.capacity ?? 1024 * 1024 * 1024;
    this.root = this.newDir(0o755);
  }

  /** Bytes of file data held. */
  get usedBytes(): number {
    return this.used;
  }

  realpath(path: string): string {
    return this.resolve(path, true, "realpath").real;
  }

  lstat(path: string): P9Stat {
    return this.statOf(this.resolve(path, false, "lstat").node);
  }

  stat(path: string): P9Stat {
    return this.statOf(this.resolve(path, true, "stat").node);
  }

  readdir(path: string): string[] {
    return [...this.dir(path, "scandir").entries.keys()];
  }

  readlink(path: string): string {
    const node = this.resolve(path, false, "readlink").node;
    if (node.kind !== "symlink") throw new FsError("EINVAL", "readlink", path);
    return node.target;
  }

  /** O_CREAT through a dangling symlink is refused (ENOENT): the 9p server always creates with O_NOFOLLOW. */
  open(path: string, flags: number, mode = 0o666): number {
    const { dir, name, node: existing } = this.entry(path, "open");
    let node = existing;
    if (node && flags & O.CREAT && flags & O.EXCL) throw new FsError("EEXIST", "open", path);
    if (node?.kind === "symlink") {
      if (flags & O.NOFOLLOW) throw new FsError("ELOOP", "open", path);
      node = this.resolve(path, true, "open").node;
    }
    if (!node) {
      if (!(flags & O.CREAT)) throw new FsError("ENOENT", "open", path);
      node = this.newFile(mode & 0o7777);
      this.link_(dir, name, node);
    }
    const writing = (flags & O.ACCMODE) !== O.RDONLY;
    if (node.kind === "dir" && (writing || flags & O.TRUNC)) throw new FsError("EISDIR", "open", path);
    if (node.kind === "file" && flags & O.TRUNC && writing) this.resize(node, 0);
    const fd = this.nextFd++;
    this.fds.set(fd, { node, flags });
    return fd;
  }

  close(fd: number): void {
    if (!this.fds.delete(fd)) throw new FsError("EBADF", "close");
  }

  read(fd: number, buf: Uint8Array, position: number): number {
    const node = this.fd(fd, "read").node;
    if (node.kind === "dir") throw new FsError("EISDIR", "read");
    if (node.kind !== "file") throw new FsError("EINVAL", "read");
    const n = Math.max(0, Math.min(buf.length, node.size - position));
    buf.set(node.data.subarray(position, position + n));
    return n;
  }

  write(fd: number, data: Uint8Array, position: number): number {
    const { node, flags } = this.fd(fd, "write");
    if ((flags & O.ACCMODE) === O.RDONLY || node.kind !== "file") throw new FsError("EBADF", "write");
    const at = flags & O.APPEND ? node.size : position;
    if (at + data.length > node.size) this.resize(node, at + data.length);
    node.data.set(data, at);
    this.touch(node);
    return data.length;
  }

  fsync(fd: number): void {
    this.fd(fd, "fsync");
  }

  mkdir(path: string, mode: number): void {
    const { dir, name, node } = this.entry(path, "mkdir");
    if (node) throw new FsError("EEXIST", "mkdir", path);
    this.link_(dir, name, this.newDir(mode & 0o7777));
  }

  rmdir(path: string): void {
    const { dir, name, node } = this.existing(path, "rmdir");
    if (node.kind !== "dir") throw new FsError("ENOTDIR", "rmdir", path);
    if (node === this.root) throw new FsError("EBUSY", "rmdir", path);
    if (node.entries.size > 0) throw new FsError("ENOTEMPTY", "rmdir", path);
    this.unlink_(dir, name);
  }

  unlink(path: string): void {
    const { dir, name, node } = this.existing(path, "unlink");
    if (node.kind === "dir") throw new FsError("EISDIR", "unlink", path);
    this.unlink_(dir, name);
  }

  symlink(target: string, path: string): void {
    const { dir, name, node } = this.entry(path, "symlink");
    if (node) throw new FsError("EEXIST", "symlink", path);
    this.link_(dir, name, { ...this.meta(S_IFLNK | 0o777), kind: "symlink", target });
  }

  link(existing: string, path: string): void {
    const source = this.resolve(existing, false, "link").node;
    if (source.kind === "dir") throw new FsError("EPERM", "link", existing);
    const { dir, name, node } = this.entry(path, "link");
    if (node) throw new FsError("EEXIST", "link", path);
    this.link_(dir, name, source);
  }

  rename(from: string, to: string): void {
    const src = this.existing(from, "rename");
    if (src.node === this.root) throw new FsError("EBUSY", "rename", from);
    const dst = this.entry(to, "rename");
    if (dst.node === src.node) return;
    if (src.node.kind === "dir" && this.isWithin(dst.dir, src.node)) throw new FsError("EINVAL", "rename", to);
    if (dst.node) {
      if (src.node.kind === "dir" && dst.node.kind !== "dir") throw new FsError("ENOTDIR", "rename", to);
      if (src.node.kind !== "dir" && dst.node.kind === "dir") throw new FsError("EISDIR", "rename", to);
      if (dst.node.kind === "dir" && dst.node.entries.size > 0) throw new FsError("ENOTEMPTY", "rename", to);
      this.unlink_(dst.dir, dst.name);
    }
    src.dir.entries.delete(src.name);
    dst.dir.entries.set(dst.name, src.node);
    this.touch(src.dir);
    this.touch(dst.dir);
  }

  chmod(path: string, mode: number): void {
    const node = this.resolve(path, true, "chmod").node;
    node.mode = (node.mode & S_IFMT) | (mode & 0o7777);
    node.ctimeNs = now();
  }

  chown(path: string, uid: number, gid: number): void {
    this.setOwner(this.resolve(path, true, "chown").node, uid, gid);
  }

  lchown(path: string, uid: number, gid: number): void {
    this.setOwner(this.resolve(path, false, "lchown").node, uid, gid);
  }

  truncate(path: string, length: number): void {
    const node = this.resolve(path, true, "truncate").node;
    if (node.kind === "dir") throw new FsError("EISDIR", "truncate", path);
    if (node.kind !== "file") throw new FsError("EINVAL", "truncate", path);
    this.resize(node, length);
    this.touch(node);
  }

  utimes(path: string, atime: number, mtime: number): void {
    this.setTimes(this.resolve(path, true, "utime").node, atime, mtime);
  }

  /** utimes on a symlink itself (layer unpacking). */
  lutimes(path: string, atime: number, mtime: number): void {
    this.setTimes(this.resolve(path, false, "lutime").node, atime, mtime);
  }

  statfs(): P9StatFs {
    const blocks = BigInt(Math.floor(this.capacity / BLOCK));
    const free = BigInt(Math.floor((this.capacity - this.used) / BLOCK));
    const files = MAX_INODES;
    return { type: TMPFS_MAGIC, bsize: BigInt(BLOCK), blocks, bfree: free, bavail: free, files, ffree: files - BigInt(this.nodes) };
  }

  getxattr(path: string, name: string): Uint8Array {
    const value = this.resolve(path, false, "getxattr").node.xattrs.get(name);
    if (!value) throw new FsError("ENODATA", "getxattr", path);
    return value.slice();
  }

  listxattr(path: string): string[] {
    return [...this.resolve(path, false, "listxattr").node.xattrs.keys()];
  }

  /** Sets an attribute on the node itself (not following a final symlink). */
  setxattr(path: string, name: string, value: Uint8Array): void {
    this.resolve(path, false, "setxattr").node.xattrs.set(name, value.slice());
  }

  /** Removes `path` and, for a directory, everything below it (rm -rf, no symlinks followed). */
  removeTree(path: string): void {
    const { dir, name } = this.existing(path, "rm");
    this.unlink_(dir, name);
  }

  // ---- resolution -------------------------------------------------------

  /** Resolves a path to its node and real (symlink-free) path. */
  private resolve(path: string, followLast: boolean, syscall: string): { node: MemNode; real: string } {
    const chain: { name: string; node: MemNode }[] = [];
    const names = components(path, syscall);
    let hops = 0;
    while (names.length > 0) {
      const name = names.shift()!;
      if (name === "..") {
        chain.pop();
        continue;
      }
      const cur = chain.at(-1)?.node ?? this.root;
      if (cur.kind !== "dir") throw new FsError("ENOTDIR", syscall, path);
      const child = cur.entries.get(name);
      if (!child) throw new FsError("ENOENT", syscall, path);
      if (child.kind === "symlink" && (names.length > 0 || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) throw new FsError("ELOOP", syscall, path);
        if (child.target.startsWith("/")) chain.length = 0;
        names.unshift(...components(child.target, syscall, false));
        continue;
      }
      chain.push({ name, node: child });
    }
    return { node: chain.at(-1)?.node ?? this.root, real: "/" + chain.map((c) => c.name).join("/") };
  }

  /** The directory an entry would live in, its name, and the node there if any (last name not followed). */
  private entry(path: string, syscall: string): { dir: DirNode; name: string; node: MemNode | undefined } {
    const names = components(path, syscall);
    const name = names.pop();
    if (name === undefined || name === "..") throw new FsError(name === undefined ? "EBUSY" : "EINVAL", syscall, path);
    const parent = this.resolve("/" + names.join("/"), true, syscall).node;
    if (parent.kind !== "dir") throw new FsError("ENOTDIR", syscall, path);
    return { dir: parent, name, node: parent.entries.get(name) };
  }

  private existing(path: string, syscall: string): { dir: DirNode; name: string; node: MemNode } {
    const e = this.entry(path, syscall);
    if (!e.node) throw new FsError("ENOENT", syscall, path);
    return { ...e, node: e.node };
  }

  private dir(path: string, syscall: string): DirNode {
    const node = this.resolve(path, true, syscall).node;
    if (node.kind !== "dir") throw new FsError("ENOTDIR", syscall, path);
    return node;
  }

  private isWithin(dir: DirNode, ancestor: DirNode): boolean {
    if (dir === ancestor) return true;
    for (const child of ancestor.entries.values()) if (child.kind === "dir" && this.isWithin(dir, child)) return true;
    return false;
  }

  private fd(fd: number, syscall: string): { node: MemNode; flags: number } {
    const f = this.fds.get(fd);
    if (!f) throw new FsError("EBADF", syscall);
    return f;
  }

  // ---- nodes ------------------------------------------------------------

  private meta(mode: number): Meta {
    const t = now();
    return { ino: this.nextIno++, mode, uid: this.owner.uid, gid: this.owner.gid, atimeNs: t, mtimeNs: t, ctimeNs: t, birthtimeNs: t, xattrs: new Map() };
  }

  private newDir(perm: number): DirNode {
    return { ...this.meta(S_IFDIR | perm), kind: "dir", entries: new Map() };
  }

  private newFile(perm: number): FileNode {
    return { ...this.meta(S_IFREG | perm), kind: "file", data: new Uint8Array(0), size: 0, nlink: 0 };
  }

  private link_(dir: DirNode, name: string, node: MemNode): void {
    if (node.kind === "file") {
      if (node.nlink === 0) this.nodes++;
      node.nlink++;
    } else this.nodes++;
    dir.entries.set(name, node);
    this.touch(dir);
  }

  private unlink_(dir: DirNode, name: string): void {
    const node = dir.entries.get(name);
    if (!node) return;
    dir.entries.delete(name);
    this.touch(dir);
    this.forget(node);
  }

  /** Drops a node that lost a name: a file's data goes with its last link, a directory's whole subtree. */
  private forget(node: MemNode): void {
    if (node.kind === "file") {
      if (--node.nlink > 0) return;
      this.used -= node.size;
    } else if (node.kind === "dir") {
      for (const child of node.entries.values()) this.forget(child);
    }
    this.nodes--;
  }

  private resize(node: FileNode, size: number): void {
    const grow = size - node.size;
    if (grow > 0 && this.used + grow > this.capacity) throw new FsError("ENOSPC", "write");
    if (size > node.data.length) {
      const data = new Uint8Array(Math.max(size, Math.min(node.data.length * 2, size + 16 * 1024 * 1024)));
      data.set(node.data.subarray(0, node.size));
      node.data = data;
    } else if (size < node.size) {
      node.data.fill(0, size, node.size);
    }
    this.used += grow;
    node.size = size;
  }

  private touch(node: MemNode): void {
    node.mtimeNs = node.ctimeNs = now();
  }

  private setOwner(node: MemNode, uid: number, gid: number): void {
    // -1 (as u32) keeps the current id, as chown(2) does.
    if (uid !== -1 && uid !== 0xffffffff) node.uid = uid;
    if (gid !== -1 && gid !== 0xffffffff) node.gid = gid;
    node.ctimeNs = now();
  }

  private setTimes(node: MemNode, atime: number, mtime: number): void {
    node.atimeNs = secondsToNs(atime);
    node.mtimeNs = secondsToNs(mtime);
    node.ctimeNs = now();
  }

  private statOf(node: MemNode): P9Stat {
    const size = node.kind === "file" ? node.size : node.kind === "symlink" ? new TextEncoder().encode(node.target).length : BLOCK;
    const nlink = node.kind === "file" ? node.nlink : node.kind === "dir" ? 2 + [...node.entries.values()].filter((c) => c.kind === "dir").length : 1;
    return {
      mode: node.mode,
      uid: node.uid,
      gid: node.gid,
      nlink: BigInt(nlink),
      rdev: 0n,
      size: BigInt(size),
      blksize: BigInt(BLOCK),
      blocks: BigInt(Math.ceil(size / 512)),
      dev: 1n,
      ino: node.ino,
      atimeNs: node.atimeNs,
      mtimeNs: node.mtimeNs,
      ctimeNs: node.ctimeNs,
      birthtimeNs: node.birthtimeNs,
    };
  }
}

/** Path components without "" and "."; only absolute paths exist here. */
function components(path: string, syscall: string, mustBeAbsolute = true): string[] {
  if (mustBeAbsolute && !path.startsWith("/")) throw new FsError("ENOENT", syscall, path);
  return path.split("/").filter((p) => p !== "" && p !== ".");
}

function now(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function secondsToNs(s: number): bigint {
  return BigInt(Math.round(s * 1e6)) * 1000n;
}
