/**
 * A 9p2000.L server over the host's real directories, behind v86's
 * `filesystem.handle9p` (v86's own 9p keeps files in memory). The guest's
 * init mounts it at /mnt/host; its root is virtual and lists the *exports*
 * the host registered: image layers (read-only) and volumes (read-write).
 *
 * Safety: an export is a directory; paths are walked one name at a time,
 * never through a symlink ("..", "/" and NUL refused in names, ".." at an
 * export's root goes back to the virtual root), and every host call checks
 * that the real path of the file (its parent's, for calls that must not
 * follow the last name) is still inside the export, so a symlink made in a
 * volume — by the guest or on the host — cannot lead the server elsewhere.
 * Read-only exports refuse every change with EROFS. Host calls are
 * synchronous: local file system calls take microseconds, and the emulator
 * is on this thread anyway.
 */
import * as fs from "node:fs";
import { constants as osConstants } from "node:os";
import { dirname, join, sep } from "node:path";
import { MessageReader, MessageWriter } from "./wire.js";

const E = osConstants.errno;
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
const O_ACCMODE = 3;
const WRITE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_RDWR | fs.constants.O_TRUNC | fs.constants.O_APPEND | fs.constants.O_CREAT;

export interface Export {
  /** Host directory. */
  path: string;
  readonly: boolean;
}

interface Fid {
  /** null: the virtual root. */
  exportName: string | null;
  /** Path inside the export, "" for its root, "a/b" below. */
  rel: string;
  uid: number;
  fd?: number;
  dirEntries?: { name: string; qid: Buffer; type: number }[];
  opened?: boolean;
}

/** What survives a snapshot: the guest kernel keeps fids across it. */
export interface P9State {
  fids: [number, { exportName: string | null; rel: string; uid: number }][];
}

class P9Error extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

function errnoOf(err: unknown): number {
  if (err instanceof P9Error) return err.errno;
  const code = (err as NodeJS.ErrnoException)?.code;
  const n = code ? (E as Record<string, number>)[code] : undefined;
  return n ?? E.EIO;
}

export class P9Server {
  private readonly exports = new Map<string, Export & { real: string }>();
  private fids = new Map<number, Fid>();
  private msize = 8192;
  private readonly isRoot = process.getuid?.() === 0;
  /** Counters for bench/ and tests. */
  readonly stats = { requests: 0, bytesRead: 0, bytesWritten: 0 };

  /** Makes `dir` visible to the guest as /mnt/host/<name>. */
  addExport(name: string, exp: Export): void {
    if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..") throw new Error(`bad 9p export name ${name}`);
    this.exports.set(name, { ...exp, real: fs.realpathSync(exp.path) });
  }

  removeExport(name: string): void {
    this.exports.delete(name);
  }

  hasExport(name: string): boolean {
    return this.exports.has(name);
  }

  saveState(): P9State {
    return { fids: [...this.fids].map(([n, f]) => [n, { exportName: f.exportName, rel: f.rel, uid: f.uid }]) };
  }

  loadState(state: P9State): void {
    this.fids = new Map(state.fids.map(([n, f]) => [n, { ...f }]));
  }

  /** Closes every open host fd (the VM is going away). */
  closeAll(): void {
    for (const f of this.fids.values()) this.closeFd(f);
    this.fids.clear();
  }

  /** v86's handle9p: one request in, one reply out (synchronously). */
  handle(req: Uint8Array, reply: (buf: Uint8Array) => void): void {
    const r = new MessageReader(req);
    r.u32(); // size
    const type = r.u8();
    const tag = r.u16();
    const w = new MessageWriter();
    this.stats.requests++;
    try {
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
        this.msize = Math.min(msize, 512 * 1024);
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
        this.fids.set(fid, f);
        w.qid(this.qidOf(f));
        return;
      }
      case T.auth:
        throw new P9Error(E.EOPNOTSUPP);
      case T.flush:
        r.u16();
        return;
      case T.walk: {
        const fid = this.fid(r.u32());
        const newfid = r.u32();
        const n = r.u16();
        const names: string[] = [];
        for (let i = 0; i < n; i++) names.push(r.str());
        let cur: Fid = { exportName: fid.exportName, rel: fid.rel, uid: fid.uid };
        const qids: Buffer[] = [];
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
        if (qids.length === names.length) this.fids.set(newfid, cur);
        w.u16(qids.length);
        for (const q of qids) w.raw(q);
        return;
      }
      case T.clunk: {
        const id = r.u32();
        const f = this.fids.get(id);
        if (f) this.closeFd(f);
        this.fids.delete(id);
        return;
      }
      case T.remove: {
        const id = r.u32();
        const f = this.fid(id);
        this.closeFd(f);
        this.fids.delete(id);
        this.writable(f);
        const st = fs.lstatSync(this.hostPath(f, false));
        if (st.isDirectory()) fs.rmdirSync(this.hostPath(f, false));
        else fs.unlinkSync(this.hostPath(f, false));
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
        if (valid & 1) fs.chmodSync(p, mode & 0o7777);
        if (valid & 6) {
          const st = fs.statSync(p);
          const u = valid & 2 ? uid : st.uid;
          const g = valid & 4 ? gid : st.gid;
          if (u !== st.uid || g !== st.gid) {
            if (!this.isRoot) throw new P9Error(E.EPERM);
            fs.chownSync(p, u, g);
          }
        }
        if (valid & 8) fs.truncateSync(p, Number(size));
        if (valid & (16 | 32)) {
          const st = fs.statSync(p);
          const now = Date.now() / 1000;
          const at = valid & 16 ? (valid & 128 ? Number(atimeS) + Number(atimeNs) / 1e9 : now) : st.atimeMs / 1000;
          const mt = valid & 32 ? (valid & 256 ? Number(mtimeS) + Number(mtimeNs) / 1e9 : now) : st.mtimeMs / 1000;
          fs.utimesSync(p, at, mt);
        }
        return;
      }
      case T.lopen: {
        const f = this.fid(r.u32());
        const flags = r.u32();
        const st = this.lstat(f);
        if (st === null || st.isDirectory()) {
          f.opened = true;
          f.dirEntries = undefined;
        } else {
          if ((flags & O_ACCMODE) !== fs.constants.O_RDONLY || flags & fs.constants.O_TRUNC) this.writable(f);
          const hostFlags = (flags & (O_ACCMODE | fs.constants.O_TRUNC | fs.constants.O_APPEND)) | fs.constants.O_NOFOLLOW;
          this.closeFd(f);
          f.fd = fs.openSync(this.hostPath(f, true), hostFlags);
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
        const child: Fid = { exportName: f.exportName, rel: joinRel(f.rel, name), uid: f.uid };
        const p = this.hostPath(child, false);
        const hostFlags = (flags & (O_ACCMODE | fs.constants.O_TRUNC | fs.constants.O_APPEND | fs.constants.O_EXCL)) | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;
        const fd = fs.openSync(p, hostFlags, mode & 0o7777);
        this.chownNew(p, f.uid, gid);
        this.closeFd(f);
        Object.assign(f, child, { fd, opened: true, dirEntries: undefined });
        w.qid(this.qidOf(f));
        w.u32(this.msize - 24);
        return;
      }
      case T.read: {
        const f = this.fid(r.u32());
        const offset = r.u64();
        const count = Math.min(r.u32(), this.msize - 11);
        if (f.fd === undefined) throw new P9Error(E.EBADF);
        const buf = Buffer.allocUnsafe(count);
        const n = fs.readSync(f.fd, buf, 0, count, Number(offset));
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
        if (f.fd === undefined) throw new P9Error(E.EBADF);
        this.writable(f);
        const n = fs.writeSync(f.fd, data, 0, data.length, Number(offset));
        this.stats.bytesWritten += n;
        w.u32(n);
        return;
      }
      case T.readdir: {
        const f = this.fid(r.u32());
        const offset = Number(r.u64());
        const count = Math.min(r.u32(), this.msize - 11);
        if (offset === 0 || !f.dirEntries) f.dirEntries = this.listDir(f);
        const body = new MessageWriter();
        for (let i = offset; i < f.dirEntries.length; i++) {
          const e = f.dirEntries[i]!;
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
        w.str(fs.readlinkSync(this.hostPath(f, false), "utf8"));
        return;
      }
      case T.mkdir: {
        const f = this.fid(r.u32());
        const name = checkName(r.str());
        const mode = r.u32();
        const gid = r.u32();
        this.writable(f);
        const child: Fid = { exportName: f.exportName, rel: joinRel(f.rel, name), uid: f.uid };
        const p = this.hostPath(child, false);
        fs.mkdirSync(p, mode & 0o7777);
        this.chownNew(p, f.uid, gid);
        w.qid(this.qidOf(child));
        return;
      }
      case T.symlink: {
        const f = this.fid(r.u32());
        const name = checkName(r.str());
        const target = r.str();
        const gid = r.u32();
        this.writable(f);
        const child: Fid = { exportName: f.exportName, rel: joinRel(f.rel, name), uid: f.uid };
        const p = this.hostPath(child, false);
        fs.symlinkSync(target, p);
        if (this.isRoot) fs.lchownSync(p, f.uid, gid);
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
        fs.linkSync(this.hostPath(target, false), this.hostPath({ ...dir, rel: joinRel(dir.rel, name) }, false));
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
        this.renameFid({ ...oldDir, rel: joinRel(oldDir.rel, oldName) }, newDir, newName);
        return;
      }
      case T.unlinkat: {
        const dir = this.fid(r.u32());
        const name = checkName(r.str());
        const flags = r.u32();
        this.writable(dir);
        const p = this.hostPath({ ...dir, rel: joinRel(dir.rel, name) }, false);
        if (flags & AT_REMOVEDIR) fs.rmdirSync(p);
        else {
          if (fs.lstatSync(p).isDirectory()) throw new P9Error(E.EISDIR);
          fs.unlinkSync(p);
        }
        return;
      }
      case T.fsync: {
        const f = this.fid(r.u32());
        if (f.fd !== undefined) fs.fsyncSync(f.fd);
        return;
      }
      case T.statfs: {
        const f = this.fid(r.u32());
        const s = fs.statfsSync(f.exportName === null ? "/" : this.hostPath(f, true), { bigint: true });
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
      case T.xattrwalk:
        this.fid(r.u32());
        throw new P9Error(E.ENODATA);
      case T.xattrcreate:
        throw new P9Error(E.EOPNOTSUPP);
      default:
        throw new P9Error(E.EOPNOTSUPP);
    }
  }

  private fid(n: number): Fid {
    const f = this.fids.get(n);
    if (!f) throw new P9Error(E.EBADF);
    return f;
  }

  private lookupExport(name: string, uid: number): Fid {
    if (!this.exports.has(name)) throw new P9Error(E.ENOENT);
    return { exportName: name, rel: "", uid };
  }

  private walkOne(cur: Fid, name: string): Fid {
    if (name === "." || name === "") return { ...cur };
    if (name === "..") {
      if (cur.exportName === null || cur.rel === "") return { exportName: null, rel: "", uid: cur.uid };
      const parent = dirname(cur.rel);
      return { ...cur, rel: parent === "." ? "" : parent };
    }
    checkName(name);
    if (cur.exportName === null) return this.lookupExport(name, cur.uid);
    // Never walk *through* a symlink: the guest resolves links itself.
    const st = this.lstat(cur);
    if (st && !st.isDirectory()) throw new P9Error(E.ENOTDIR);
    const next: Fid = { exportName: cur.exportName, rel: joinRel(cur.rel, name), uid: cur.uid };
    fs.lstatSync(this.hostPath(next, false));
    return next;
  }

  /**
   * The host path of a fid, checked to be inside its export: of the file
   * itself when `follow`, else of its parent (the last name is then not
   * resolved, so it may be a symlink or not exist yet).
   */
  private hostPath(f: Fid, follow: boolean): string {
    if (f.exportName === null) throw new P9Error(E.EPERM);
    const exp = this.exports.get(f.exportName);
    if (!exp) throw new P9Error(E.ESTALE);
    const p = f.rel === "" ? exp.path : join(exp.path, f.rel);
    const check = follow || f.rel === "" ? p : dirname(p);
    let real: string;
    try {
      real = fs.realpathSync(check);
    } catch (err) {
      if (follow && errnoOf(err) === E.ENOENT) throw new P9Error(E.ENOENT);
      throw err;
    }
    if (real !== exp.real && !real.startsWith(exp.real + sep)) throw new P9Error(E.EACCES);
    return p;
  }

  private lstat(f: Fid): fs.BigIntStats | null {
    if (f.exportName === null) return null;
    return fs.lstatSync(this.hostPath(f, false), { bigint: true });
  }

  private writable(f: Fid): void {
    if (f.exportName === null) throw new P9Error(E.EROFS);
    const exp = this.exports.get(f.exportName);
    if (!exp) throw new P9Error(E.ESTALE);
    if (exp.readonly) throw new P9Error(E.EROFS);
  }

  /** Files the guest creates belong to the guest user when we can do that (root); else to us. */
  private chownNew(p: string, uid: number, gid: number): void {
    if (this.isRoot) fs.lchownSync(p, uid, gid);
  }

  private renameFid(from: Fid, toDir: Fid, name: string): void {
    this.writable(from);
    this.writable(toDir);
    if (from.exportName !== toDir.exportName) throw new P9Error(E.EXDEV);
    const target: Fid = { ...toDir, rel: joinRel(toDir.rel, name) };
    fs.renameSync(this.hostPath(from, false), this.hostPath(target, false));
    // Fids below the old path follow the file.
    const prefix = from.rel;
    for (const f of this.fids.values()) {
      if (f.exportName !== from.exportName) continue;
      if (f.rel === prefix) f.rel = target.rel;
      else if (f.rel.startsWith(prefix + "/")) f.rel = target.rel + f.rel.slice(prefix.length);
    }
  }

  private closeFd(f: Fid): void {
    if (f.fd !== undefined) {
      try {
        fs.closeSync(f.fd);
      } catch {
        // already gone
      }
      f.fd = undefined;
    }
  }

  private qidOf(f: Fid): Buffer {
    if (f.exportName === null) return qid(QT_DIR, 0, 1n);
    return qidFromStat(fs.lstatSync(this.hostPath(f, false), { bigint: true }));
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
    const st = fs.lstatSync(this.hostPath(f, false), { bigint: true });
    w.u64(BigInt(GETATTR_BASIC));
    w.raw(qidFromStat(st));
    w.u32(Number(st.mode));
    w.u32(Number(st.uid));
    w.u32(Number(st.gid));
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

  private listDir(f: Fid): { name: string; qid: Buffer; type: number }[] {
    const out: { name: string; qid: Buffer; type: number }[] = [];
    const self = this.qidOf(f);
    out.push({ name: ".", qid: self, type: 4 }, { name: "..", qid: self, type: 4 });
    if (f.exportName === null) {
      for (const name of [...this.exports.keys()].sort()) {
        out.push({ name, qid: this.qidOf({ exportName: name, rel: "", uid: f.uid }), type: 4 });
      }
      return out;
    }
    const dir = this.hostPath(f, true);
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      try {
        const st = fs.lstatSync(join(dir, e.name), { bigint: true });
        out.push({ name: e.name, qid: qidFromStat(st), type: dtype(st) });
      } catch {
        // removed while listing
      }
    }
    return out;
  }
}

function checkName(name: string): string {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) throw new P9Error(E.EINVAL);
  return name;
}

function joinRel(rel: string, name: string): string {
  return rel === "" ? name : `${rel}/${name}`;
}

function qid(type: number, version: number, path: bigint): Buffer {
  const b = Buffer.alloc(13);
  b[0] = type;
  b.writeUInt32LE(version, 1);
  b.writeBigUInt64LE(path & 0xffffffffffffffffn, 5);
  return b;
}

function qidFromStat(st: fs.BigIntStats): Buffer {
  const type = st.isDirectory() ? QT_DIR : st.isSymbolicLink() ? QT_SYMLINK : QT_FILE;
  // Unique across the host file systems the exports live on.
  return qid(type, Number(st.mtimeMs & 0xffffffffn), (st.dev << 40n) ^ st.ino);
}

function dtype(st: fs.BigIntStats): number {
  if (st.isDirectory()) return 4;
  if (st.isSymbolicLink()) return 10;
  if (st.isFIFO()) return 1;
  if (st.isCharacterDevice()) return 2;
  if (st.isBlockDevice()) return 6;
  if (st.isSocket()) return 12;
  return 8;
}
