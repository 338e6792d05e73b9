/**
 * A 9p2000.L server behind v86's `filesystem.handle9p` (v86's own 9p keeps
 * files in memory), over a P9Fs: the host's real directories in Node
 * (NodeFs), an in-memory tree in browsers (MemoryFs). The guest's init
 * mounts it at /mnt/host; its root is virtual and lists the *exports* the
 * host registered: image layers (read-only) and volumes (read-write).
 *
 * Safety (the guest kernel is not trusted): an export is a directory or a
 * single file (a file volume is exported as itself, never its directory);
 * paths are walked one name at a time, never through a symlink ("..", "/"
 * and NUL refused in names, ".." at an export's root goes back to the
 * virtual root), and every host call checks that the real path of the file
 * (its parent's, for calls that must not follow the last name) is still
 * inside the export, so a symlink made in a volume — by the guest or on the
 * host — cannot lead the server elsewhere. Only regular files are ever
 * opened (P9Fs.open): a device node, FIFO or socket in a layer or volume is
 * refused, so it can neither read a host device nor block this thread. An
 * export's root cannot be removed or renamed. Read-only exports refuse
 * every change with EROFS. Fids are bounded (fid-table.ts). File system
 * calls are synchronous: local file system calls take microseconds, and the
 * emulator is on this thread anyway.
 */
import { Errno as E, errnoOf, P9Error } from "./errno.js";
import { utf8 } from "../bytes.js";
import { DEFAULT_FID_LIMITS, type DirEntry, type Fid, FidTable, type FidLimits } from "./fid-table.js";
import { childPath, isDirectory, isRegular, isSymlink, O, type P9Fs, type P9Stat, parentPath, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFSOCK } from "./fs.js";
import { MessageReader, MessageWriter } from "./wire.js";
const T = {
  lerror: 6, statfs: 8, lopen: 12, lcreate: 14, symlink: 16, mknod: 18, rename: 20, readlink: 22,
  getattr: 24, setattr: 26, xattrwalk: 30, xattrcreate: 32, readdir: 40, fsync: 50, lock: 52, getlock: 54,
  link: 70, mkdir: 72, renameat: 74, unlinkat: 76, version: 100, auth: 102, attach: 104, flush: 108,
  walk: 110, read: 116, write: 118, clunk: 120, remove: 122,
} as const;

const QT_DIR = 0x80;
const QT_SYMLINK = 0x02;
const QT_FILE = 0;
const GETATTR_BASIC = 0x7ff;
const AT_REMOVEDIR = 0x200;
/** Names in one Twalk (9P's MAXWELEM). */
const MAX_WALK_NAMES = 16;

export interface Export {
  /** Directory or file served (a host path in Node); a file export is that file alone. */
  path: string;
  readonly: boolean;
  /**
   * A container's bind mount or volume whose user is not its root: the
   * owner (guest ids) to show its files as where the server cannot give
   * them their own (node/p9/presented-owners.ts).
   */
  shownOwner?: Owner;
  /**
   * A bind source checked on the host (node/bind-source.ts): `path` is its
   * symlink-free path and this what it named then; the export is refused
   * unless it still is (decimal numbers: JSON carries them to the daemon).
   */
  identity?: FileIdentity;
}

export interface FileIdentity {
  dev: string;
  ino: string;
}

export interface Owner {
  uid: number;
  gid: number;
}

/** Owners the guest sees in an export in place of the files' own (node/p9/presented-owners.ts). */
export interface PresentedOwners {
  /** For a path (relative to the export's root); undefined: the file's own. */
  ownerOf(rel: string): Owner | undefined;
  /**
   * Where the host cannot give files to other ids (an unprivileged server):
   * keeps `owner` as the file's — a chown, or the owner of a file the guest
   * made — in place of failing or losing it; `own` is the host file's. Absent:
   * a chown is the host's (EPERM where it cannot).
   */
  record?(rel: string, owner: Owner, own: Owner): void;
  /** A file the guest renamed: what was kept for it (and below it, a directory) follows it. */
  moved?(from: string, to: string, directory: boolean): void;
  /** A file the guest removed. */
  removed?(rel: string): void;
  /** The export is gone. */
  release?(): void;
}

/** What survives a snapshot: the guest kernel keeps fids across it. */
export interface P9State {
  /** `reopen`: the host open flags of a fid that held an fd (fid-table.ts `load`). */
  fids: [number, { exportName: string | null; rel: string; uid: number; reopen?: number }][];
}

/** An open's host flags as a restored fid reopens them: the file is there, with what was written since. */
const reopenFlags = (hostFlags: number) => hostFlags & ~(O.TRUNC | O.EXCL | O.CREAT);

export class P9Server {
  private readonly exports = new Map<string, Export & { real: string; owners?: PresentedOwners }>();
  private readonly fids: FidTable;
  private msize = 8192;
  /** Counters for bench/ and tests. */
  readonly stats = { requests: 0, bytesRead: 0, bytesWritten: 0 };

  /**
   * `ownersOf`: asked once per export added, for owners to show in place of
   * the files' (node/p9/presented-owners.ts).
   */
  constructor(
    private readonly fs: P9Fs,
    limits: FidLimits = DEFAULT_FID_LIMITS,
    private readonly ownersOf?: (exp: Export) => PresentedOwners | undefined,
  ) {
    this.fids = new FidTable(limits, (fd) => {
      try {
        fs.close(fd);
      } catch {
        // already gone
      }
    });
  }

  /** Fids held, those holding an fd or xattr value, and cached directory entries (tests, bench/). */
  fidCounts(): { fids: number; open: number; dirEntries: number } {
    return this.fids.counts();
  }

  /** Makes `dir` visible to the guest as /mnt/host/<name>. */
  addExport(name: string, exp: Export): void {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") throw new Error(`bad 9p export name ${name}`);
    const real = this.fs.realpath(exp.path);
    if (exp.identity) this.pinned(exp.path, real, exp.identity);
    const owners = this.ownersOf?.(exp);
    this.exports.set(name, { ...exp, real, ...(owners ? { owners } : {}) });
  }

  /**
   * A checked source is served only as checked: still symlink-free and the
   * same file. From here every call checks its file's real path is inside
   * `real` (hostPath), so a link swapped in on the way later leads nowhere.
   */
  private pinned(path: string, real: string, identity: FileIdentity): void {
    const st = this.fs.lstat(real);
    if (real !== path || String(st.dev) !== identity.dev || String(st.ino) !== identity.ino) throw new Error(`${path} changed after it was checked`);
  }

  removeExport(name: string): void {
    this.exports.get(name)?.owners?.release?.();
    this.exports.delete(name);
  }

  hasExport(name: string): boolean {
    return this.exports.has(name);
  }

  saveState(): P9State {
    return {
      fids: [...this.fids.entries()].map(([n, f]) => {
        const reopen = f.fd !== undefined ? f.flags : f.reopen;
        return [n, { exportName: f.exportName, rel: f.rel, uid: f.uid, ...(reopen !== undefined ? { reopen } : {}) }];
      }),
    };
  }

  loadState(state: P9State): void {
    this.fids.load(state.fids);
  }

  /** Closes every open host fd (the VM is going away). */
  closeAll(): void {
    this.fids.clear();
  }

  /** v86's handle9p: one request in, one reply out (synchronously). */
  handle(req: Uint8Array, reply: (buf: Uint8Array) => void): void {
    const w = new MessageWriter();
    this.stats.requests++;
    let tag = 0xffff; // NOTAG, for a message too short to have one
    try {
      const r = new MessageReader(req);
      r.u32(); // size
      const type = r.u8();
      tag = r.u16();
      this.dispatch(type, r, w);
      reply(w.finish(type + 1, tag));
    } catch (err) {
      const e = new MessageWriter();
      e.u32(errnoOf(err));
      reply(e.finish(T.lerror + 1, tag));
    }
  }

  private dispatch(type: number, r: MessageReader, w: MessageWriter): void {
    switch (type) {
      case T.version: {
        const msize = r.u32();
        const version = r.str();
        // Linux asks for 8 KiB..512 KiB; a smaller one could not carry a getattr reply.
        this.msize = Math.max(4096, Math.min(msize, 512 * 1024));
        this.closeAll();
        w.u32(this.msize);
        w.str(version === "9P2000.L" ? "9P2000.L" : "unknown");
        return;
      }
      case T.attach: {
        const fid = r.u32();
        r.u32(); // afid
        r.str(); // uname
        const aname = r.str();
        const nUname = r.u32();
        const uid = nUname === 0xffffffff ? 0 : nUname;
        const f: Fid = aname === "" || aname === "/" ? { exportName: null, rel: "", uid } : this.lookupExport(aname.replace(/^\/+/, ""), uid);
        this.fids.add(fid, f);
        w.qid(this.qidOf(f));
        return;
      }
      case T.auth:
        throw new P9Error(E.EOPNOTSUPP);
      case T.flush:
        r.u16();
        return;
      case T.walk: {
        const fidNum = r.u32();
        const fid = this.fid(fidNum);
        const newfid = r.u32();
        const n = r.u16();
        if (n > MAX_WALK_NAMES) throw new P9Error(E.EINVAL);
        if (newfid !== fidNum && this.fids.has(newfid)) throw new P9Error(E.EINVAL);
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(r.str());
        let cur: Fid = { exportName: fid.exportName, rel: fid.rel, uid: fid.uid };
        const qids: Uint8Array[] = [];
        for (const name of names) {
          let next: Fid;
          try {
            next = this.walkOne(cur, name);
          } catch (err) {
            if (qids.length === 0) throw err;
            break; // a partial walk: the client sees how far it got
          }
          qids.push(this.qidOf(next));
          cur = next;
        }
        if (qids.length === names.length) {
          if (newfid === fidNum) this.fids.replace(newfid, cur);
          else this.fids.add(newfid, cur);
        }
        w.u16(qids.length);
        for (const q of qids) w.raw(q);
        return;
      }
      case T.clunk: {
        this.fids.delete(r.u32());
        return;
      }
      case T.remove: {
        const id = r.u32();
        const f = this.fid(id);
        this.fids.delete(id); // Tremove clunks the fid, whatever the outcome
        this.writable(f);
        this.notExportRoot(f);
        const p = this.hostPath(f, false);
        const dir = isDirectory(this.fs.lstat(p));
        this.inDir(f, p, () => (dir ? this.fs.rmdir(p) : this.fs.unlink(p)));
        this.ownersOfFid(f)?.removed?.(f.rel);
        return;
      }
      case T.getattr: {
        const f = this.fid(r.u32());
        r.u64(); // request mask: we always answer the basic set
        this.writeAttr(w, f);
        return;
      }
      case T.setattr: {
        const f = this.fid(r.u32());
        const valid = r.u32();
        const mode = r.u32();
        const uid = r.u32();
        const gid = r.u32();
        const size = r.u64();
        const atimeS = r.u64(), atimeNs = r.u64(), mtimeS = r.u64(), mtimeNs = r.u64();
        this.writable(f);
        const p = this.hostPath(f, true);
        if (valid & 1) this.fs.chmod(p, mode & 0o7777);
        if (valid & 6) {
          const st = this.fs.stat(p);
          const owners = this.ownersOfFid(f);
          const shown = owners?.ownerOf(f.rel) ?? st;
          const u = valid & 2 ? uid : shown.uid;
          const g = valid & 4 ? gid : shown.gid;
          if (u !== shown.uid || g !== shown.gid) {
            if (owners?.record) owners.record(f.rel, { uid: u, gid: g }, st);
            else if (!this.fs.canChown) throw new P9Error(E.EPERM);
            else this.fs.chown(p, u, g);
          }
        }
        if (valid & 8) this.asOwner(f, p, OWNER_W, () => this.fs.truncate(p, Number(size)));
        if (valid & (16 | 32)) {
          const st = this.fs.stat(p);
          const now = Date.now() / 1000;
          const at = valid & 16 ? (valid & 128 ? Number(atimeS) + Number(atimeNs) / 1e9 : now) : nsToSeconds(st.atimeNs);
          const mt = valid & 32 ? (valid & 256 ? Number(mtimeS) + Number(mtimeNs) / 1e9 : now) : nsToSeconds(st.mtimeNs);
          this.fs.utimes(p, at, mt);
        }
        return;
      }
      case T.lopen: {
        const f = this.fid(r.u32());
        const flags = r.u32();
        const st = this.lstat(f);
        if (st === null || isDirectory(st)) {
          f.opened = true;
          this.fids.dropDirEntries(f);
        } else {
          // Device nodes, FIFOs, sockets (and symlinks) are never opened on the host.
          if (!isRegular(st)) throw new P9Error(E.EACCES);
          if ((flags & O.ACCMODE) !== O.RDONLY || flags & O.TRUNC) this.writable(f);
          const hostFlags = (flags & (O.ACCMODE | O.TRUNC | O.APPEND)) | O.NOFOLLOW;
          this.fids.reserveOpen(f);
          const p = this.hostPath(f, true);
          this.fids.setFd(f, this.asOwner(f, p, ownerBitsFor(hostFlags), () => this.fs.open(p, hostFlags)));
          f.flags = reopenFlags(hostFlags);
          f.opened = true;
        }
        w.qid(this.qidOf(f));
        w.u32(this.msize - 24);
        return;
      }
      case T.lcreate: {
        const f = this.fid(r.u32());
        const name = checkName(r.str());
        const flags = r.u32();
        const mode = r.u32();
        const gid = r.u32();
        this.writable(f);
        const child: Fid = { exportName: f.exportName, rel: this.childRel(f, name), uid: f.uid };
        const p = this.hostPath(child, false);
        const hostFlags = (flags & (O.ACCMODE | O.TRUNC | O.APPEND | O.EXCL)) | O.CREAT | O.NOFOLLOW;
        this.fids.reserveOpen(f);
        const fd = this.createIn(child, p, () => this.fs.open(p, hostFlags, mode & 0o7777), hostFlags);
        this.chownNew(child, p, gid);
        this.fids.dropDirEntries(f);
        this.fids.setFd(f, fd);
        Object.assign(f, child, { opened: true, flags: reopenFlags(hostFlags) });
        w.qid(this.qidOf(f));
        w.u32(this.msize - 24);
        return;
      }
      case T.read: {
        const f = this.fid(r.u32());
        const offset = r.u64();
        const count = Math.min(r.u32(), this.msize - 11);
        if (f.xattr) {
          const part = f.xattr.subarray(Number(offset), Number(offset) + count);
          w.u32(part.length);
          w.raw(part);
          return;
        }
        const fd = this.fdOf(f);
        const buf = new Uint8Array(count);
        const n = this.fs.read(fd, buf, Number(offset));
        this.stats.bytesRead += n;
        w.u32(n);
        w.raw(buf.subarray(0, n));
        return;
      }
      case T.write: {
        const f = this.fid(r.u32());
        const offset = r.u64();
        const count = r.u32();
        const data = r.bytes(count);
        const fd = this.fdOf(f);
        this.writable(f);
        const n = this.fs.write(fd, data, Number(offset));
        this.stats.bytesWritten += n;
        w.u32(n);
        return;
      }
      case T.readdir: {
        const f = this.fid(r.u32());
        const offset = Number(r.u64());
        const count = Math.min(r.u32(), this.msize - 11);
        if (offset === 0 || !f.dirEntries) this.fids.setDirEntries(f, this.listDir(f));
        const entries = f.dirEntries!;
        const body = new MessageWriter();
        for (let i = offset; i < entries.length; i++) {
          const e = entries[i]!;
          const entry = new MessageWriter();
          entry.raw(e.qid);
          entry.u64(BigInt(i + 1));
          entry.u8(e.type);
          entry.str(e.name);
          const bytes = entry.body();
          if (body.length + bytes.length > count) break;
          body.raw(bytes);
        }
        const data = body.body();
        w.u32(data.length);
        w.raw(data);
        return;
      }
      case T.readlink: {
        const f = this.fid(r.u32());
        w.str(this.fs.readlink(this.hostPath(f, false)));
        return;
      }
      case T.mkdir: {
        const f = this.fid(r.u32());
        const name = checkName(r.str());
        const mode = r.u32();
        const gid = r.u32();
        this.writable(f);
        const child: Fid = { exportName: f.exportName, rel: this.childRel(f, name), uid: f.uid };
        const p = this.hostPath(child, false);
        this.inDir(child, p, () => this.fs.mkdir(p, mode & 0o7777));
        this.chownNew(child, p, gid);
        w.qid(this.qidOf(child));
        return;
      }
      case T.symlink: {
        const f = this.fid(r.u32());
        const name = checkName(r.str());
        const target = r.str();
        const gid = r.u32();
        this.writable(f);
        const child: Fid = { exportName: f.exportName, rel: this.childRel(f, name), uid: f.uid };
        const p = this.hostPath(child, false);
        this.inDir(child, p, () => this.fs.symlink(target, p));
        this.chownNew(child, p, gid);
        w.qid(this.qidOf(child));
        return;
      }
      case T.mknod:
        this.writable(this.fid(r.u32()));
        throw new P9Error(E.EPERM);
      case T.link: {
        const dir = this.fid(r.u32());
        const target = this.fid(r.u32());
        const name = checkName(r.str());
        this.writable(dir);
        if (dir.exportName !== target.exportName) throw new P9Error(E.EXDEV);
        const link: Fid = { ...dir, rel: this.childRel(dir, name) };
        const p = this.hostPath(link, false);
        const existing = this.hostPath(target, false);
        this.inDir(link, p, () => this.fs.link(existing, p));
        // One file, two names: the owner kept for the first is the new name's too.
        const owners = this.ownersOfFid(dir);
        const kept = owners?.ownerOf(target.rel);
        if (kept && owners?.record) owners.record(link.rel, kept, this.fs.lstat(p));
        return;
      }
      case T.rename: {
        const f = this.fid(r.u32());
        const dir = this.fid(r.u32());
        const name = checkName(r.str());
        this.renameFid(f, dir, name);
        return;
      }
      case T.renameat: {
        const oldDir = this.fid(r.u32());
        const oldName = checkName(r.str());
        const newDir = this.fid(r.u32());
        const newName = checkName(r.str());
        this.renameFid({ ...oldDir, rel: this.childRel(oldDir, oldName) }, newDir, newName);
        return;
      }
      case T.unlinkat: {
        const dir = this.fid(r.u32());
        const name = checkName(r.str());
        const flags = r.u32();
        this.writable(dir);
        const p = this.hostPath({ ...dir, rel: this.childRel(dir, name) }, false);
        if (!(flags & AT_REMOVEDIR) && isDirectory(this.fs.lstat(p))) throw new P9Error(E.EISDIR);
        this.inDir(dir, p, () => (flags & AT_REMOVEDIR ? this.fs.rmdir(p) : this.fs.unlink(p)));
        this.ownersOfFid(dir)?.removed?.(this.childRel(dir, name));
        return;
      }
      case T.fsync: {
        const f = this.fid(r.u32());
        if (f.fd !== undefined) this.fs.fsync(f.fd);
        return;
      }
      case T.statfs: {
        const f = this.fid(r.u32());
        const s = this.fs.statfs(f.exportName === null ? "/" : this.hostPath(f, true));
        w.u32(Number(s.type & 0xffffffffn));
        w.u32(Number(s.bsize));
        w.u64(s.blocks);
        w.u64(s.bfree);
        w.u64(s.bavail);
        w.u64(s.files);
        w.u64(s.ffree);
        w.u64(0n);
        w.u32(255);
        return;
      }
      case T.lock:
        w.u8(0); // LOCK_SUCCESS: locks are advisory and local to the guest
        return;
      case T.getlock: {
        this.fid(r.u32());
        r.u8();
        const start = r.u64();
        const length = r.u64();
        const procId = r.u32();
        const client = r.str();
        w.u8(2); // F_UNLCK
        w.u64(start);
        w.u64(length);
        w.u32(procId);
        w.str(client);
        return;
      }
      case T.xattrwalk: {
        const f = this.fid(r.u32());
        const newfid = r.u32();
        const name = r.str();
        if (f.exportName === null) throw new P9Error(E.ENODATA);
        if (this.fids.has(newfid)) throw new P9Error(E.EINVAL);
        const attrFid: Fid = { exportName: f.exportName, rel: f.rel, uid: f.uid };
        this.fids.reserveOpen(attrFid);
        const p = this.hostPath(f, false);
        // An empty name asks for the list: names, each NUL-terminated.
        const value = name === "" ? utf8(this.fs.listxattr(p).map((n) => n + "\0").join("")) : this.fs.getxattr(p, name);
        this.fids.add(newfid, attrFid);
        this.fids.setXattr(attrFid, value);
        w.u64(BigInt(value.length));
        return;
      }
      case T.xattrcreate:
        throw new P9Error(E.EOPNOTSUPP);
      default:
        throw new P9Error(E.EOPNOTSUPP);
    }
  }

  /** The fid's open fd; a restored fid that held one reopens it now (its export is served again by then). */
  private fdOf(f: Fid): number {
    if (f.fd !== undefined) return f.fd;
    if (f.reopen === undefined) throw new P9Error(E.EBADF);
    // As at lopen: only a regular file is opened on the host (a FIFO put there since would block).
    const st = this.lstat(f);
    if (st === null || !isRegular(st)) throw new P9Error(E.EBADF);
    this.fids.reserveOpen(f);
    const p = this.hostPath(f, true);
    const flags = f.reopen;
    this.fids.setFd(f, this.asOwner(f, p, ownerBitsFor(flags), () => this.fs.open(p, flags)));
    f.flags = f.reopen;
    f.reopen = undefined;
    return f.fd!;
  }

  private fid(n: number): Fid {
    return this.fids.get(n);
  }

  /** The path of `name` in the directory fid `dir`, within the path bound. */
  private childRel(dir: Fid, name: string): string {
    const rel = joinRel(dir.rel, name);
    this.fids.checkPath(rel);
    return rel;
  }

  /** An export's root is the host's directory or file itself: never removed or renamed by the guest. */
  private notExportRoot(f: Fid): void {
    if (f.rel === "") throw new P9Error(E.EBUSY);
  }

  private lookupExport(name: string, uid: number): Fid {
    if (!this.exports.has(name)) throw new P9Error(E.ENOENT);
    return { exportName: name, rel: "", uid };
  }

  private walkOne(cur: Fid, name: string): Fid {
    if (name === "." || name === "") return { ...cur };
    if (name === "..") {
      if (cur.exportName === null || cur.rel === "") return { exportName: null, rel: "", uid: cur.uid };
      const slash = cur.rel.lastIndexOf("/");
      return { ...cur, rel: slash < 0 ? "" : cur.rel.slice(0, slash) };
    }
    checkName(name);
    if (cur.exportName === null) return this.lookupExport(name, cur.uid);
    // Never walk *through* a symlink: the guest resolves links itself.
    const st = this.lstat(cur);
    if (st && !isDirectory(st)) throw new P9Error(E.ENOTDIR);
    const next: Fid = { exportName: cur.exportName, rel: this.childRel(cur, name), uid: cur.uid };
    this.fs.lstat(this.hostPath(next, false));
    return next;
  }

  /**
   * The file system path of a fid, checked to be inside its export: of the
   * file itself when `follow`, else of its parent (the last name is then
   * not resolved, so it may be a symlink or not exist yet). Built on the
   * export's real path, as resolved when it was added.
   */
  private hostPath(f: Fid, follow: boolean): string {
    if (f.exportName === null) throw new P9Error(E.EPERM);
    const exp = this.exports.get(f.exportName);
    if (!exp) throw new P9Error(E.ESTALE);
    const p = f.rel === "" ? exp.real : childPath(exp.real, f.rel);
    const check = follow || f.rel === "" ? p : parentPath(p);
    let real: string;
    try {
      real = this.fs.realpath(check);
    } catch (err) {
      if (follow && errnoOf(err) === E.ENOENT) throw new P9Error(E.ENOENT);
      throw err;
    }
    if (real !== exp.real && !real.startsWith(childPath(exp.real, ""))) throw new P9Error(E.EACCES);
    return p;
  }

  private lstat(f: Fid): P9Stat | null {
    if (f.exportName === null) return null;
    return this.fs.lstat(this.hostPath(f, false));
  }

  private writable(f: Fid): void {
    if (f.exportName === null) throw new P9Error(E.EROFS);
    const exp = this.exports.get(f.exportName);
    if (!exp) throw new P9Error(E.ESTALE);
    if (exp.readonly) throw new P9Error(E.EROFS);
  }

  /**
   * Files the guest creates belong to the guest user: kept by the export's
   * presented owners where it has them (an unprivileged server's files are
   * all its own), else given on the host when we can (root).
   */
  private chownNew(child: Fid, p: string, gid: number): void {
    const owners = this.ownersOfFid(child);
    if (owners?.record) owners.record(child.rel, { uid: child.uid, gid }, this.fs.lstat(p));
    else if (this.fs.canChown) this.fs.lchown(p, child.uid, gid);
  }

  /**
   * `call` on `path` in export `f`'s; where the host refuses it (EACCES) in a
   * writable export, once more with the owner bits `need` given for it
   * (P9Fs.withOwnerAccess): the guest kernel has checked the asker against
   * the modes it showed, so what reaches here is what the guest allowed —
   * container root's DAC override, which the host user can give itself on
   * its own files. A read-only export is never changed, not even a mode.
   */
  private asOwner<T>(f: Fid, path: string, need: number, call: () => T): T {
    try {
      return call();
    } catch (err) {
      if (errnoOf(err) !== E.EACCES || !this.fs.withOwnerAccess || f.exportName === null || this.exports.get(f.exportName)?.readonly !== false) throw err;
      return this.fs.withOwnerAccess(path, need, call, err);
    }
  }

  /** A call that makes or removes the entry `path` (the directory it is in needs write and search). */
  private inDir<T>(f: Fid, path: string, call: () => T): T {
    return this.asOwner(f, parentPath(path), OWNER_WX, call);
  }

  /** An lcreate's open: refused for the directory, or for a file that is there already (no O_EXCL). */
  private createIn(child: Fid, path: string, call: () => number, hostFlags: number): number {
    return this.inDir(child, path, () => {
      try {
        return call();
      } catch (err) {
        if (errnoOf(err) !== E.EACCES || hostFlags & O.EXCL || !this.exists(path)) throw err;
        return this.asOwner(child, path, ownerBitsFor(hostFlags), call);
      }
    });
  }

  private exists(path: string): boolean {
    try {
      this.fs.lstat(path);
      return true;
    } catch {
      return false;
    }
  }

  private ownersOfFid(f: Fid): PresentedOwners | undefined {
    return f.exportName === null ? undefined : this.exports.get(f.exportName)?.owners;
  }

  private renameFid(from: Fid, toDir: Fid, name: string): void {
    this.writable(from);
    this.writable(toDir);
    this.notExportRoot(from);
    if (from.exportName !== toDir.exportName) throw new P9Error(E.EXDEV);
    const target: Fid = { ...toDir, rel: this.childRel(toDir, name) };
    const to = this.hostPath(target, false);
    const fromPath = this.hostPath(from, false);
    const move = () => this.fs.rename(fromPath, to);
    this.inDir(from, fromPath, parentPath(fromPath) === parentPath(to) ? move : () => this.inDir(target, to, move));
    const owners = this.ownersOfFid(from);
    if (owners?.moved) owners.moved(from.rel, target.rel, isDirectory(this.fs.lstat(to)));
    // Fids below the old path follow the file.
    const prefix = from.rel;
    for (const f of this.fids.values()) {
      if (f.exportName !== from.exportName) continue;
      if (f.rel === prefix) f.rel = target.rel;
      // (may exceed the path bound: such a fid fails with ENOENT/ENAMETOOLONG on the host later)
      else if (f.rel.startsWith(prefix + "/")) f.rel = target.rel + f.rel.slice(prefix.length);
    }
  }

  private qidOf(f: Fid): Uint8Array {
    if (f.exportName === null) return qid(QT_DIR, 0, 1n);
    return qidFromStat(this.fs.lstat(this.hostPath(f, false)));
  }

  private writeAttr(w: MessageWriter, f: Fid): void {
    if (f.exportName === null) {
      w.u64(BigInt(GETATTR_BASIC));
      w.raw(qid(QT_DIR, 0, 1n));
      w.u32(0o040555);
      w.u32(0);
      w.u32(0);
      w.u64(2n);
      w.u64(0n);
      w.u64(0n);
      w.u64(4096n);
      w.u64(0n);
      for (let i = 0; i < 8; i++) w.u64(0n);
      w.u64(0n);
      w.u64(0n);
      return;
    }
    const st = this.fs.lstat(this.hostPath(f, false));
    const owner = this.ownersOfFid(f)?.ownerOf(f.rel);
    w.u64(BigInt(GETATTR_BASIC));
    w.raw(qidFromStat(st));
    w.u32(st.mode);
    w.u32(owner?.uid ?? st.uid);
    w.u32(owner?.gid ?? st.gid);
    w.u64(st.nlink);
    w.u64(st.rdev);
    w.u64(st.size);
    w.u64(st.blksize);
    w.u64(st.blocks);
    for (const ns of [st.atimeNs, st.mtimeNs, st.ctimeNs, st.birthtimeNs]) {
      w.u64(ns / 1_000_000_000n);
      w.u64(ns % 1_000_000_000n);
    }
    w.u64(0n); // gen
    w.u64(0n); // data_version
  }

  private listDir(f: Fid): DirEntry[] {
    const out: DirEntry[] = [];
    const self = this.qidOf(f);
    out.push({ name: ".", qid: self, type: 4 }, { name: "..", qid: self, type: 4 });
    if (f.exportName === null) {
      for (const name of [...this.exports.keys()].sort()) {
        try {
          const st = this.fs.lstat(this.hostPath({ exportName: name, rel: "", uid: f.uid }, false));
          out.push({ name, qid: qidFromStat(st), type: dtype(st) });
        } catch {
          // an export whose path is gone
        }
      }
      return out;
    }
    const dir = this.hostPath(f, true);
    for (const name of this.fs.readdir(dir)) {
      try {
        const st = this.fs.lstat(childPath(dir, name));
        out.push({ name, qid: qidFromStat(st), type: dtype(st) });
      } catch {
        // removed while listing
      }
    }
    return out;
  }
}

const OWNER_W = 0o200;
const OWNER_WX = 0o300;

/** The owner bits an open with `flags` needs: read, write (O_TRUNC writes too). */
function ownerBitsFor(flags: number): number {
  const acc = flags & O.ACCMODE;
  return (acc === O.WRONLY ? 0 : 0o400) | (acc !== O.RDONLY || flags & O.TRUNC ? OWNER_W : 0);
}

function checkName(name: string): string {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) throw new P9Error(E.EINVAL);
  return name;
}

function joinRel(rel: string, name: string): string {
  return rel === "" ? name : `${rel}/${name}`;
}

function qid(type: number, version: number, path: bigint): Uint8Array {
  const b = new Uint8Array(13);
  const v = new DataView(b.buffer);
  b[0] = type;
  v.setUint32(1, version, true);
  v.setBigUint64(5, path & 0xffffffffffffffffn, true);
  return b;
}

function qidFromStat(st: P9Stat): Uint8Array {
  const type = isDirectory(st) ? QT_DIR : isSymlink(st) ? QT_SYMLINK : QT_FILE;
  // Unique across the host file systems the exports live on.
  return qid(type, Number((st.mtimeNs / 1_000_000n) & 0xffffffffn), (st.dev << 40n) ^ st.ino);
}

/** readdir's d_type for a mode. */
function dtype(st: P9Stat): number {
  switch (st.mode & S_IFMT) {
    case S_IFDIR:
      return 4;
    case S_IFLNK:
      return 10;
    case S_IFIFO:
      return 1;
    case S_IFCHR:
      return 2;
    case S_IFBLK:
      return 6;
    case S_IFSOCK:
      return 12;
    default:
      return 8;
  }
}

function nsToSeconds(ns: bigint): number {
  return Number(ns / 1000n) / 1e6;
}
