/**
 * The 9p server's fids, bounded: the guest kernel (which may be hostile)
 * picks fid numbers and decides how many it holds, so every host resource a
 * fid can pin is counted here. Beyond a bound the request fails (ENFILE,
 * EMFILE, ENAMETOOLONG) and the host's memory and fd table stay as they were.
 * A fid number in use is never silently replaced: that used to leak its fd.
 */
import { Errno as E, P9Error } from "./errno.js";

export interface Fid {
  /** null: the virtual root. */
  exportName: string | null;
  /** Path inside the export, "" for its root, "a/b" below. */
  rel: string;
  uid: number;
  fd?: number;
  /** The host flags `fd` was opened with (no create or truncate): a restored fid reopens with them. */
  flags?: number;
  /** Restored from a saved state while it held an fd: reopened with these flags at its first read or write. */
  reopen?: number;
  dirEntries?: DirEntry[];
  opened?: boolean;
  /** A fid made by xattrwalk: the value (or NUL-separated names) it reads. */
  xattr?: Uint8Array;
}

export interface DirEntry {
  name: string;
  qid: Uint8Array;
  type: number;
}

export interface FidLimits {
  /** Fids at once (Linux's client holds about one per cached dentry). */
  fids: number;
  /** Fids holding a host fd or an xattr value at once. */
  open: number;
  /** Bytes of a path inside an export (PATH_MAX). */
  path: number;
  /** Directory entries cached for paged readdir, over all fids. */
  dirEntries: number;
}

export const DEFAULT_FID_LIMITS: FidLimits = { fids: 65536, open: 4096, path: 4096, dirEntries: 1 << 20 };

export class FidTable {
  private readonly fids = new Map<number, Fid>();
  private openCount = 0;
  private cachedEntries = 0;

  constructor(
    readonly limits: FidLimits,
    /** Closes a host fd (errors ignored: it may be gone). */
    private readonly closeFd: (fd: number) => void,
  ) {}

  get size(): number {
    return this.fids.size;
  }

  get(n: number): Fid {
    const f = this.fids.get(n);
    if (!f) throw new P9Error(E.EBADF);
    return f;
  }

  has(n: number): boolean {
    return this.fids.has(n);
  }

  /** A new fid under a number that must be free (9P: "newfid must not be in use"). */
  add(n: number, f: Fid): void {
    if (this.fids.has(n)) throw new P9Error(E.EINVAL);
    if (this.fids.size >= this.limits.fids) throw new P9Error(E.ENFILE);
    this.checkPath(f.rel);
    this.fids.set(n, f);
  }

  /** A walk whose newfid is its fid: the old one's open state goes first. */
  replace(n: number, f: Fid): void {
    this.checkPath(f.rel);
    const old = this.fids.get(n);
    if (old) this.release(old);
    this.fids.set(n, f);
  }

  delete(n: number): void {
    const f = this.fids.get(n);
    if (!f) return;
    this.release(f);
    this.fids.delete(n);
  }

  /** Before a fid gets an fd or an xattr value: room for one more? */
  reserveOpen(f: Fid): void {
    if (f.fd === undefined && f.xattr === undefined && this.openCount >= this.limits.open) throw new P9Error(E.EMFILE);
  }

  /** `f` now holds an fd (or an xattr value): counted until released. */
  setFd(f: Fid, fd: number): void {
    this.closeOpen(f);
    this.reserveOpen(f);
    f.fd = fd;
    this.openCount++;
  }

  setXattr(f: Fid, value: Uint8Array): void {
    this.reserveOpen(f);
    f.xattr = value;
    this.openCount++;
  }

  /** Caches a listing; other fids' caches are dropped (they list again) when the total is over its bound. */
  setDirEntries(f: Fid, entries: DirEntry[]): void {
    this.dropDirEntries(f);
    if (this.cachedEntries + entries.length > this.limits.dirEntries) {
      for (const other of this.fids.values()) this.dropDirEntries(other);
    }
    f.dirEntries = entries;
    this.cachedEntries += entries.length;
  }

  dropDirEntries(f: Fid): void {
    if (!f.dirEntries) return;
    this.cachedEntries -= f.dirEntries.length;
    f.dirEntries = undefined;
  }

  /** Closes `f`'s fd, if any. */
  closeOpen(f: Fid): void {
    if (f.fd !== undefined) {
      this.closeFd(f.fd);
      f.fd = undefined;
      this.openCount--;
    }
  }

  checkPath(rel: string): void {
    if (rel.length > this.limits.path) throw new P9Error(E.ENAMETOOLONG);
  }

  /** Every fid, for a snapshot. */
  entries(): IterableIterator<[number, Fid]> {
    return this.fids.entries();
  }

  values(): IterableIterator<Fid> {
    return this.fids.values();
  }

  /** Forgets every fid, closing what they hold. */
  clear(): void {
    for (const f of this.fids.values()) this.release(f);
    this.fids.clear();
  }

  /**
   * Replaces the table with fids restored from a snapshot. They hold
   * nothing open: one that held an fd when saved (a file the guest has
   * open or mapped) reopens at its next read or write, when its export is
   * served again.
   */
  load(fids: Iterable<[number, Fid]>): void {
    this.clear();
    for (const [n, f] of fids) this.add(n, { exportName: f.exportName, rel: f.rel, uid: f.uid, ...(typeof f.reopen === "number" ? { reopen: f.reopen } : {}) });
  }

  /** Counters for tests and bench/. */
  counts(): { fids: number; open: number; dirEntries: number } {
    return { fids: this.fids.size, open: this.openCount, dirEntries: this.cachedEntries };
  }

  private release(f: Fid): void {
    this.closeOpen(f);
    if (f.xattr !== undefined) {
      f.xattr = undefined;
      this.openCount--;
    }
    this.dropDirEntries(f);
  }
}
