/**
 * A minimal 9p2000.L client for tests without a guest: it speaks to a
 * P9Server the way the guest kernel does (one request, one reply), so a test
 * can play a hostile guest — any message, any fid — against the real server.
 */
import { O } from "../../src/backends/vm/core/p9/fs.js";
import type { P9Server } from "../../src/backends/vm/core/p9/server.js";
import { MessageReader, MessageWriter } from "../../src/backends/vm/core/p9/wire.js";

/** Message types (requests; the reply is type + 1, Rlerror is 7). */
export const T = {
  statfs: 8, lopen: 12, lcreate: 14, symlink: 16, mknod: 18, rename: 20, readlink: 22, getattr: 24, setattr: 26,
  xattrwalk: 30, readdir: 40, fsync: 50, link: 70, mkdir: 72, renameat: 74, unlinkat: 76, version: 100,
  attach: 104, walk: 110, read: 116, write: 118, clunk: 120, remove: 122,
} as const;

export class P9Errno extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

export interface P9Client {
  /** Sends one message; the reply's reader past the header, or throws P9Errno. */
  call(type: number, build: (w: MessageWriter) => void): MessageReader;
  /** The errno `fn` failed with, 0 if it did not. */
  errno(fn: () => unknown): number;
  /** A new fid for the path from the root fid 0; a partial walk throws, naming how far it got. */
  walk(...names: string[]): number;
  /** Walks `names` from `fid` to the given `newfid` (a test may pick one in use). */
  walkTo(fid: number, newfid: number, names: string[]): number;
  open(fid: number, flags?: number): MessageReader;
  create(dir: number, name: string, flags?: number, gid?: number): MessageReader;
  mkdir(dir: number, name: string, gid?: number): void;
  read(fid: number, count?: number): string;
  write(fid: number, data: string): number;
  readdir(fid: number): string[];
  clunk(fid: number): void;
  remove(fid: number): void;
  rename(fid: number, dir: number, name: string): void;
  unlinkat(dir: number, name: string): void;
  /** A hard link named `name` in `dir` to `target`'s file. */
  link(dir: number, target: number, name: string): void;
  truncate(fid: number, size: number): void;
  xattr(fid: number, name: string): string;
  /** Mode and owner, as the guest sees them. */
  getattr(fid: number): { mode: number; uid: number; gid: number };
  /** chown (setattr with uid and gid). */
  chown(fid: number, uid: number, gid: number): void;
  /** A fid number nothing uses yet. */
  fid(): number;
}

/**
 * `attached`: the server's fids were restored (loadState): no version or attach, which would reset them.
 * `uid`: the guest user the client attaches as (the guest attaches per user), root by default.
 * `rootFid`: a second client of the same session (another guest user's attach) takes fids from there on.
 */
export function p9Client(server: P9Server, msize = 65536, options: { attached?: boolean; uid?: number; rootFid?: number } = {}): P9Client {
  const rootFid = options.rootFid ?? 0;
  let tag = 0;
  const call = (type: number, build: (w: MessageWriter) => void): MessageReader => {
    const w = new MessageWriter();
    build(w);
    let reply: Uint8Array | undefined;
    server.handle(w.finish(type, ++tag & 0xffff), (b) => (reply = b));
    if (!reply) throw new Error("the server sent no reply");
    const r = new MessageReader(reply);
    r.u32();
    const rtype = r.u8();
    r.u16();
    if (rtype === 7) throw new P9Errno(r.u32());
    if (rtype !== type + 1) throw new Error(`reply type ${rtype} to request ${type}`);
    return r;
  };
  const errno = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (e instanceof P9Errno) return e.errno;
      throw e;
    }
    return 0;
  };
  if (!options.attached) {
    if (rootFid === 0) call(T.version, (w) => (w.u32(msize), w.str("9P2000.L")));
    call(T.attach, (w) => (w.u32(rootFid), w.u32(0xffffffff), w.str("root"), w.str(""), w.u32(options.uid ?? 0)));
  }
  let nextFid = rootFid + 1;
  const walkTo = (fid: number, newfid: number, names: string[]) => {
    const walked = call(T.walk, (w) => (w.u32(fid), w.u32(newfid), w.u16(names.length), names.forEach((n) => w.str(n)))).u16();
    if (walked < names.length) throw new Error(`walk stopped after ${walked} of ${names.length} names`);
    return newfid;
  };
  return {
    call,
    errno,
    walkTo,
    walk: (...names) => walkTo(rootFid, nextFid++, names),
    fid: () => nextFid++,
    open: (fid, flags = O.RDONLY) => call(T.lopen, (w) => (w.u32(fid), w.u32(flags))),
    create: (dir, name, flags = O.WRONLY, gid = 0) => call(T.lcreate, (w) => (w.u32(dir), w.str(name), w.u32(flags), w.u32(0o644), w.u32(gid))),
    mkdir: (dir, name, gid = 0) => void call(T.mkdir, (w) => (w.u32(dir), w.str(name), w.u32(0o755), w.u32(gid))),
    read: (fid, count = 4096) => {
      const r = call(T.read, (w) => (w.u32(fid), w.u64(0n), w.u32(count)));
      return new TextDecoder().decode(r.bytes(r.u32()));
    },
    write: (fid, data) => {
      const bytes = new TextEncoder().encode(data);
      return call(T.write, (w) => (w.u32(fid), w.u64(0n), w.u32(bytes.length), w.raw(bytes))).u32();
    },
    readdir: (fid) => {
      const r = call(T.readdir, (w) => (w.u32(fid), w.u64(0n), w.u32(msize - 11)));
      const body = new MessageReader(r.bytes(r.u32()));
      const names: string[] = [];
      for (;;) {
        try {
          body.bytes(13);
        } catch {
          return names;
        }
        body.u64();
        body.u8();
        names.push(body.str());
      }
    },
    clunk: (fid) => void call(T.clunk, (w) => w.u32(fid)),
    remove: (fid) => void call(T.remove, (w) => w.u32(fid)),
    rename: (fid, dir, name) => void call(T.rename, (w) => (w.u32(fid), w.u32(dir), w.str(name))),
    unlinkat: (dir, name) => void call(T.unlinkat, (w) => (w.u32(dir), w.str(name), w.u32(0))),
    link: (dir, target, name) => void call(T.link, (w) => (w.u32(dir), w.u32(target), w.str(name))),
    truncate: (fid, size) =>
      void call(T.setattr, (w) => {
        w.u32(fid);
        w.u32(8); // P9_ATTR_SIZE
        for (let i = 0; i < 3; i++) w.u32(0);
        w.u64(BigInt(size));
        for (let i = 0; i < 4; i++) w.u64(0n);
      }),
    chown: (fid, uid, gid) =>
      void call(T.setattr, (w) => {
        w.u32(fid);
        w.u32(2 | 4); // P9_ATTR_UID | P9_ATTR_GID
        w.u32(0);
        w.u32(uid);
        w.u32(gid);
        w.u64(0n);
        for (let i = 0; i < 4; i++) w.u64(0n);
      }),
    getattr: (fid) => {
      const r = call(T.getattr, (w) => (w.u32(fid), w.u64(0x7ffn)));
      r.u64(); // valid
      r.bytes(13); // qid
      return { mode: r.u32(), uid: r.u32(), gid: r.u32() };
    },
    xattr: (fid, name) => {
      const attrFid = nextFid++;
      const size = Number(call(T.xattrwalk, (w) => (w.u32(fid), w.u32(attrFid), w.str(name))).u64());
      const r = call(T.read, (w) => (w.u32(attrFid), w.u64(0n), w.u32(size)));
      return new TextDecoder().decode(r.bytes(r.u32()));
    },
  };
}
