import { execFile } from "node:child_process";
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fsyncSync,
  ftruncateSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  renameSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
  type Stats,
} from "node:fs";
import { join, posix } from "node:path";
import { LayerError } from "../errors.js";
import { isErrno } from "../fs-util.js";
import { removeTree } from "../remove-tree.js";
import { fsName, hasRawBytes } from "../name-bytes.js";
import { OPAQUE_MARKER, sanitizeLayerPath, WHITEOUT_PREFIX, whiteoutTarget, XATTR_PREFIX, xattrBytes } from "./layer-paths.js";

import type { TarEntry } from "./tar.js";
import type { WhiteoutForm } from "../paths.js";
import { addonPresent, loadAddon, type NativeAddon } from "../backends/native/addon.js";

/** A file capability's pax record: as root the unpack sets it; rootless root of the user's namespace does (layer-owners.ts). */
const CAPABILITY_KEY = `${XATTR_PREFIX}security.capability`;

export interface UnpackOptions {
  /**
   * Running as real root: keep the tar's uid/gid, create device nodes.
   * Rootless, every file stays owned by the invoking
   * user here (`owners` notes the tar's for a pass in the user's user
   * namespace): with a single-id user namespace, a lower file owned by an
   * unmapped id makes overlay copy-up fail with EOVERFLOW.
   */
  privileged: boolean;
  /**
   * With `privileged`: root of a user namespace inside a container (spec/nested-root.ts). Owners as root,
   * those its namespace maps (another stays root's, as rootless without a range); no device nodes (mknod is the
   * host root's, all but the whiteout's 0/0) and user.* overlay marks (trusted.* is the host root's too), as
   * rootless.
   */
  nested?: boolean;
  /**
   * An image archive (`load`), not a layer: only directories and regular
   * files are written. A symlink that leads to a regular file of the archive
   * becomes a hard link to it (old docker archives link repeated layers);
   * other symlinks, device nodes, FIFOs and whiteout markers are left out, and
   * so are xattrs. Nothing read from the tree later can follow a link out of
   * it, or block on a FIFO.
   */
  archive?: boolean;
  /**
   * How deletions are marked (paths.ts WhiteoutForm; default "overlay"). In
   * the "oci" form (hosts with no xattr calls) a whiteout stays the empty
   * `.wh.` file the layer has, and pax xattrs are left out.
   */
  whiteouts?: WhiteoutForm;
  /**
   * Rootless: note the owners (other than 0:0) the tar gives, for a pass
   * that applies them in a user namespace with the user's subordinate ids
   * (layer-owners.ts) or, where none can, for the layer's notes
   * (owner-notes.ts); the files themselves stay the user's here. Files'
   * capabilities (`security.capability`, which only root of a user
   * namespace may set) are noted for that pass too.
   */
  owners?: boolean;
  /**
   * A layer about to be published: its files must reach the disk first (`syncFileSystem` after the unpack).
   * Without the addon (no syncfs: a vm-only install) each file is fsynced as it is closed instead.
   */
  durable?: boolean;
}

/** An owner the tar gave an entry that an unprivileged unpack could not apply. */
export interface LayerOwner {
  /** Relative to the layer's root; every parent is a real directory of the layer. */
  path: string;
  uid: number;
  gid: number;
  /** To restore after the chown (which clears setuid/setgid); undefined for a symlink. */
  mode?: number;
}

/** A regular file's capability (`security.capability`, the tar's bytes) that an unprivileged unpack could not set. */
export interface LayerCapability {
  /** Relative to the layer's root; every parent is a real directory of the layer. */
  path: string;
  value: Buffer;
}

export interface UnpackResult {
  entries: number;
  /** Device nodes left out because only root can create them. */
  skippedDevices: string[];
  /** With `owners`: what is left to chown, in the final tree. */
  owners: LayerOwner[];
  /** With `owners`: the capabilities left to set, of regular files in the final tree. */
  capabilities: LayerCapability[];
}

/** Synchronous work between two turns of the event loop, at most (about). */
const YIELD_EVERY_MS = 4;

/** Symlinks followed when resolving one inside an archive (as the kernel's MAXSYMLINKS). */
const MAX_LINK_HOPS = 40;

/**
 * Unpacks a layer's tar entries into `root` (an empty directory), refusing
 * anything that could write outside it: absolute paths, `..` components,
 * parents that are symlinks, hard links to paths outside the layer.
 *
 * Why this is safe: every path is made of sanitised components below
 * `root`; every parent component is checked with lstat to be a real
 * directory created by this layer; the final component is created with
 * O_EXCL-style calls (open O_CREAT|O_EXCL, mkdir, symlink, link) that never
 * follow a symlink. The directory is private to this unpack until it is renamed.
 *
 * Why synchronous file system calls: a layer is thousands of small entries,
 * and each promise-based call is a round trip through libuv's thread pool
 * that costs more than the syscall itself (bench/unpack.ts: 2.3–3x `tar`
 * with fs/promises). The loop still yields between decompressed chunks.
 */
export async function unpackLayer(entries: AsyncIterable<TarEntry>, root: string, options: UnpackOptions): Promise<UnpackResult> {
  const unpacker = new LayerUnpacker(root, options);
  let turn = performance.now();
  for await (const entry of entries) {
    // Entries arrive through promises alone (microtasks): without a turn of the
    // event loop now and then, a chunk of many small entries would hold up every
    // other download, timer and signal of the process.
    if (performance.now() - turn > YIELD_EVERY_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      turn = performance.now();
    }
    try {
      await unpacker.add(entry);
    } catch (err) {
      throw asLayerError(err, `layer entry ${shorten(entry.path)}`);
    }
  }
  try {
    await unpacker.finish();
  } catch (err) {
    throw asLayerError(err, "the layer's directories");
  }
  return { entries: unpacker.count, skippedDevices: unpacker.skippedDevices, owners: unpacker.ownersLeft, capabilities: unpacker.capabilitiesLeft };
}

class LayerUnpacker {
  count = 0;
  readonly skippedDevices: string[] = [];
  /** Relative paths known to be real directories ("" is the root). */
  private readonly knownDirs = new Set<string>([""]);
  /** Directory mode/mtime applied at the end: a 0555 dir must stay writable while filled. */
  private readonly dirMeta = new Map<string, { mode: number; mtime: number }>();
  /** Directories made opaque (`.wh..wh..opq`), and those holding xattr whiteouts (rootless). */
  private readonly opaqueDirs = new Set<string>();
  private readonly xwhiteoutDirs = new Set<string>();
  /** Archive mode: symlinks (path → target), resolved into hard links at the end. */
  private readonly archiveLinks = new Map<string, string>();
  /** With `owners`: the tar's owner of each path not owned 0:0 (a later entry of the same path replaces it). */
  private readonly owners = new Map<string, LayerOwner>();
  /** With `owners`: the capability of each file that has one (a later entry of the same path replaces it). */
  private readonly capabilities = new Map<string, Buffer>();
  /** isRealDir's answers (asked once the tree is final). */
  private readonly realDirs = new Map<string, boolean>([["", true]]);
  /** Stand-in names used so far (`named`). */
  private standIns = 0;

  constructor(
    private readonly root: string,
    private readonly options: UnpackOptions,
  ) {}

  async add(entry: TarEntry): Promise<void> {
    this.count++;
    const rel = sanitizeLayerPath(entry.path, `layer entry ${shorten(entry.path)}`);
    // No file system call takes a NUL in a link target (names: sanitizeLayerPath).
    if (entry.linkname.includes("\0")) throw new LayerError(`refusing layer entry ${shorten(entry.path)}: a NUL byte in its link target`);
    const name = posix.basename(rel);
    if (this.options.archive) {
      this.archiveLinks.delete(rel); // a later entry replaces an earlier link
      if (entry.type === "symlink") {
        if (rel !== "") this.archiveLinks.set(rel, entry.linkname);
        return;
      }
      if (entry.type !== "directory" && entry.type !== "file" && entry.type !== "hardlink") return;
    } else if (name.startsWith(WHITEOUT_PREFIX)) return this.whiteout(entry, rel, name);
    if (rel === "") {
      if (entry.type !== "directory") throw new LayerError(`layer root entry ${entry.path} is not a directory`);
      this.dirMeta.set("", { mode: entry.mode, mtime: entry.mtime });
      return;
    }
    this.ensureParents(rel, entry.path);
    const target = join(this.root, rel);
    const existing = await this.clearTarget(rel, entry.type === "directory");
    if (this.options.owners && !this.options.privileged) {
      if (entry.uid !== 0 || entry.gid !== 0) this.owners.set(rel, { path: rel, uid: entry.uid, gid: entry.gid, ...(entry.type === "symlink" ? {} : { mode: entry.mode & 0o7777 }) });
      else this.owners.delete(rel);
      const cap = entry.type === "file" && this.takesXattrs() ? entry.pax[CAPABILITY_KEY] : undefined;
      if (cap !== undefined) this.capabilities.set(rel, Buffer.from(xattrBytes(cap)));
      else this.capabilities.delete(rel);
    }

    switch (entry.type) {
      case "directory":
        if (!existing) mkdirSync(fsName(target), { mode: 0o700 });
        this.knownDirs.add(rel);
        this.dirMeta.set(rel, { mode: entry.mode, mtime: entry.mtime });
        this.own(target, entry);
        return this.applyXattrs(entry, target);
      case "file":
        return this.writeFile(entry, target);
      case "symlink":
        symlinkSync(fsName(entry.linkname), fsName(target));
        this.own(target, entry);
        lutimesSync(fsName(target), entry.mtime, entry.mtime);
        return;
      case "hardlink":
        return this.hardlink(entry, target);
      case "chardev":
      case "blockdev":
        if (!this.options.privileged || this.options.nested) {
          this.skippedDevices.push(rel);
          return;
        }
        await this.named(target, false, (p) => makeNode(p, entry.type as "chardev" | "blockdev", entry.mode, entry.devmajor, entry.devminor));
        return this.finishSpecial(entry, target);
      case "fifo":
        await this.named(target, false, (p) => makeNode(p, "fifo", entry.mode));
        return this.finishSpecial(entry, target);
    }
  }

  /** The tar's owner, as root (chown before chmod: it clears setuid/setgid). Inside a container an id its namespace does not map (EINVAL) leaves root's. */
  private own(target: string | number, entry: TarEntry): void {
    if (!this.options.privileged) return;
    try {
      if (typeof target === "number") fchownSync(target, entry.uid, entry.gid);
      else lchownSync(fsName(target), entry.uid, entry.gid);
    } catch (err) {
      if (!this.options.nested || !isErrno(err, "EINVAL")) throw err;
    }
  }

  /** With `owners`: what is left to chown and setcap, listed by `finish`. */
  ownersLeft: LayerOwner[] = [];
  capabilitiesLeft: LayerCapability[] = [];

  /** Applies deferred directory modes and mtimes, deepest first. */
  async finish(): Promise<void> {
    if (this.options.archive) await this.linkArchiveSymlinks();
    await this.markDirectories();
    // Listed (lstat of each path) before the modes: a directory of mode 000 locks out the unpacking user, and its
    // files' lstat failed with EACCES (a rootless run of a commit whose 000 directory held a file of uid 1000).
    this.ownersLeft = this.listOwnersLeft();
    this.capabilitiesLeft = this.listCapabilitiesLeft();
    const dirs = [...this.knownDirs].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
    for (const rel of dirs) {
      const meta = this.dirMeta.get(rel);
      const path = join(this.root, rel);
      // Implicit parents (no tar entry) get 0755 like other unpackers; so does the root,
      // which becomes the container's `/` when this is the top layer.
      chmodSync(fsName(path), meta ? meta.mode : 0o755);
      if (meta) utimesSync(fsName(path), meta.mtime, meta.mtime);
    }
  }

  private async writeFile(entry: TarEntry, target: string): Promise<void> {
    // O_EXCL: never opens an existing name, so never follows a symlink there.
    const fd = openSync(fsName(target), createFile(), 0o600);
    try {
      if (entry.fragments) {
        // A sparse file: its holes stay holes.
        for await (const { offset, data } of entry.fragments) writeAll(fd, data, offset);
        ftruncateSync(fd, entry.size);
      } else for await (const chunk of entry.body) writeAll(fd, chunk);
      // chown before chmod: chown clears setuid/setgid bits.
      this.own(fd, entry);
      fchmodSync(fd, entry.mode);
      futimesSync(fd, entry.mtime, entry.mtime);
      if (this.options.durable && !(hasAddon ??= addonPresent())) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    await this.applyXattrs(entry, target);
  }

  /**
   * `SCHILY.xattr.*` pax records of a file or directory, where allowed
   * (not into an archive's tree, nor in the "oci" form): rootless only
   * `user.*` (a file's capability is noted for root of the user's
   * namespace: capabilitiesLeft); as root also `security.*`/`trusted.*`. Overlay's own attributes are never
   * taken from a layer: they would forge whiteouts, opaque dirs or redirects.
   * Attributes the file system refuses (ENOTSUP, EPERM) are skipped.
   */
  private async applyXattrs(entry: TarEntry, target: string): Promise<void> {
    if (!this.takesXattrs()) return;
    for (const [key, value] of Object.entries(entry.pax)) {
      if (!key.startsWith(XATTR_PREFIX)) continue;
      const name = key.slice(XATTR_PREFIX.length);
      // A C string to the kernel: a NUL would cut it into another attribute's name.
      if (name.includes("\0")) throw new LayerError(`refusing layer entry ${shorten(entry.path)}: a NUL byte in an extended attribute's name`);
      if (/^(trusted|user)\.overlay\./.test(name)) continue;
      if (!this.options.privileged && !name.startsWith("user.")) continue;
      try {
        const bytes = Buffer.from(xattrBytes(value));
        await this.named(target, true, async (p) => (await addon()).lsetxattr(p, name, bytes));
      } catch (err) {
        const code = String((err as NodeJS.ErrnoException).code);
        if (["ENOTSUP", "EPERM", "EACCES", "ERANGE", "E2BIG"].includes(code)) continue;
        // Named: a bare "cannot unpack layer entry f: EINVAL" did not say it was the attribute (a malformed file capability).
        if (/^E[A-Z0-9]+$/.test(code) && code !== "ENOSPC" && code !== "EDQUOT") {
          throw new LayerError(`cannot unpack layer entry ${shorten(entry.path)}: its extended attribute ${JSON.stringify(name)} was refused (${code}${code === "EINVAL" ? ": a malformed value" : ""})`);
        }
        throw err;
      }
    }
  }

  /** Root of the initial user namespace: device nodes and trusted.* xattrs. */
  private hostRoot(): boolean {
    return this.options.privileged && !this.options.nested;
  }

  /** Not into an archive's tree, nor in the "oci" form (no xattr calls there). */
  private takesXattrs(): boolean {
    return !this.options.archive && this.options.whiteouts !== "oci";
  }

  /**
   * The noted owners of paths still in the tree as noted: every parent a
   * real directory (lstat, no symlink followed) and the entry itself there.
   * A path a later entry removed, or put under a symlink, is left out.
   */
  private listOwnersLeft(): LayerOwner[] {
    const left: LayerOwner[] = [];
    for (const o of this.owners.values()) {
      const st = this.stillThere(o.path);
      if (st === undefined) continue;
      // A hard link to a symlink is a symlink: chmod would follow it, so it gets no mode.
      if (st.isSymbolicLink() && o.mode !== undefined) left.push({ path: o.path, uid: o.uid, gid: o.gid });
      else left.push(o);
    }
    return left;
  }

  /** The noted capabilities of regular files still in the tree as noted (as ownersLeft). */
  private listCapabilitiesLeft(): LayerCapability[] {
    return [...this.capabilities].filter(([path]) => this.stillThere(path)?.isFile()).map(([path, value]) => ({ path, value }));
  }

  /** The lstat of `rel` where every parent is a real directory (lstat, no symlink followed); undefined otherwise. */
  private stillThere(rel: string): Stats | undefined {
    const parent = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
    return this.isRealDir(parent) ? lstatOrUndefined(join(this.root, rel)) : undefined;
  }

  /** Whether `rel` and every parent are real directories (lstat, no symlink followed); asked once the tree is final. */
  private isRealDir(rel: string): boolean {
    let known = this.realDirs.get(rel);
    if (known === undefined) {
      known = this.isRealDir(posix.dirname(rel) === "." ? "" : posix.dirname(rel)) && lstatOrUndefined(join(this.root, rel))?.isDirectory() === true;
      this.realDirs.set(rel, known);
    }
    return known;
  }

  private async hardlink(entry: TarEntry, target: string): Promise<void> {
    const sourceRel = sanitizeLayerPath(entry.linkname, `hard link ${entry.path} -> ${entry.linkname}`);
    if (sourceRel === "") throw new LayerError(`hard link ${entry.path} points at the layer root`);
    this.checkParents(sourceRel, entry.path);
    const source = join(this.root, sourceRel);
    const st = lstatOrUndefined(source);
    if (!st) throw new LayerError(`hard link ${entry.path} points at ${entry.linkname}, which is not in the layer`);
    if (st.isDirectory()) throw new LayerError(`hard link ${entry.path} points at a directory`);
    // link(2) does not follow a symlink source, so this never reaches outside the root.
    linkSync(fsName(source), fsName(target));
  }

  private async finishSpecial(entry: TarEntry, target: string): Promise<void> {
    this.own(target, entry);
    utimesSync(fsName(target), entry.mtime, entry.mtime);
  }

  /**
   * Whiteouts become overlayfs whiteouts in the unpacked layer: a 0/0
   * character device, which any user may make since Linux 5.8 ("vfs: allow
   * unprivileged whiteout creation"), and `trusted.overlay.opaque=y` on an
   * opaque dir (rootless, where overlay is mounted with `userxattr`,
   * `user.overlay.opaque=y`). A rootless unpack on an older kernel (mknod
   * EPERM, probed once) marks a whiteout with xattrs instead: an empty file
   * with `user.overlay.whiteout` whose directory carries
   * `user.overlay.opaque=x` ("holds xattr whiteouts"). That form hides the
   * name, but overlayfs counts it in rmdir's emptiness check, so `rm -rf` of
   * its directory fails ENOTEMPTY: the device is the form to use where it can be made.
   * In the "oci" form, the marker file itself (whiteout-form.ts reads it).
   */
  private async whiteout(entry: TarEntry, rel: string, name: string): Promise<void> {
    const dirRel = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
    if (dirRel !== "") this.ensureParents(rel, entry.path);
    const dir = join(this.root, dirRel);
    const oci = this.options.whiteouts === "oci";
    if (name === OPAQUE_MARKER && !oci) {
      this.opaqueDirs.add(dirRel);
      return;
    }
    const hidden = name === OPAQUE_MARKER ? undefined : whiteoutTarget(name, entry.path);
    const hiddenRel = hidden === undefined ? undefined : dirRel === "" ? hidden : `${dirRel}/${hidden}`;
    // A whiteout hides lower layers only: an entry of this layer it names goes (overlay's form has one name for both).
    if (hiddenRel !== undefined) await this.clearTarget(hiddenRel, false);
    if (oci) {
      await this.clearTarget(rel, false);
      closeSync(openSync(fsName(join(this.root, rel)), createFile(), 0o600));
      return;
    }
    const path = join(dir, hidden!);
    const hostRoot = this.hostRoot();
    if (hostRoot || deviceWhiteouts !== false) {
      try {
        // overlayfs whiteout: a character device 0/0 with the hidden name.
        await this.named(path, false, (p) => makeNode(p, "chardev", 0, 0, 0));
        if (!hostRoot) deviceWhiteouts = true;
        return;
      } catch (err) {
        if (hostRoot || deviceWhiteouts === true || !isErrno(err, "EPERM")) throw err;
        deviceWhiteouts = false; // a kernel before 5.8
      }
    }
    // 0600, not 0000: setting a user.* xattr needs write permission on the file.
    closeSync(openSync(fsName(path), createFile(), 0o600));
    await this.named(path, true, (p) => setMarker(p, "user.overlay.whiteout", "y"));
    this.xwhiteoutDirs.add(dirRel);
  }

  /**
   * Archive mode: each recorded symlink that resolves — within the archive,
   * by name, through other recorded links — to a regular file written here
   * becomes a hard link to it. Absolute targets, targets above the root and
   * anything else are dropped (a later lookup finds nothing there).
   */
  private async linkArchiveSymlinks(): Promise<void> {
    for (const [rel, target] of this.archiveLinks) {
      const resolved = this.resolveArchivePath(posix.dirname(rel) === "." ? [] : posix.dirname(rel).split("/"), target);
      if (resolved === undefined) continue;
      const st = lstatOrUndefined(join(this.root, resolved));
      if (!st?.isFile()) continue;
      if (lstatOrUndefined(join(this.root, rel))) continue; // a directory was made there since
      try {
        this.ensureParents(rel, rel);
      } catch {
        continue; // its directory is not a real one of the archive
      }
      linkSync(fsName(join(this.root, resolved)), fsName(join(this.root, rel)));
    }
  }

  /** `target` seen from the directory `dir` of the archive, links resolved by name; undefined when it leaves the archive. */
  private resolveArchivePath(dir: string[], target: string): string | undefined {
    if (target.startsWith("/")) return undefined;
    const out = [...dir];
    const queue = target.split("/");
    let hops = 0;
    while (queue.length > 0) {
      const name = queue.shift()!;
      if (name === "" || name === ".") continue;
      if (name === "..") {
        if (out.length === 0) return undefined;
        out.pop();
        continue;
      }
      const next = this.archiveLinks.get([...out, name].join("/"));
      if (next !== undefined) {
        if (++hops > MAX_LINK_HOPS || next.startsWith("/")) return undefined;
        queue.unshift(...next.split("/"));
        continue;
      }
      out.push(name);
    }
    return out.join("/");
  }

  /**
   * As root both namespaces are marked: the runtime mounts the overlay inside
   * a user namespace with `userxattr` where the kernel allows it (user.*),
   * and without it elsewhere (trusted.*).
   */
  private async markDirectories(): Promise<void> {
    const prefixes = this.hostRoot() ? ["trusted", "user"] : ["user"];
    for (const rel of this.opaqueDirs) {
      if (!this.knownDirs.has(rel)) continue;
      for (const p of prefixes) await this.named(join(this.root, rel), true, (at) => setMarker(at, `${p}.overlay.opaque`, "y"));
    }
    for (const rel of this.xwhiteoutDirs) {
      if (this.knownDirs.has(rel) && !this.opaqueDirs.has(rel)) await this.named(join(this.root, rel), true, (at) => setMarker(at, "user.overlay.opaque", "x"));
    }
  }

  /**
   * `op` on `path` under a UTF-8 name: the addon, coreutils and removeTree
   * take strings, and a layer's names need not be UTF-8 (src/name-bytes.ts).
   * Such a path is renamed to a free name at the root (the unpack's private
   * directory) for `op` (`exists`: it is there before; else `op` creates it),
   * and back.
   */
  private async named<T>(path: string, exists: boolean, op: (p: string) => Promise<T>): Promise<T> {
    if (!hasRawBytes(path)) return op(path);
    let stand: string;
    do stand = join(this.root, `.tsbox-name-${process.pid}-${this.standIns++}`);
    while (lstatOrUndefined(stand));
    if (exists) renameSync(fsName(path), stand);
    try {
      return await op(stand);
    } finally {
      if (lstatOrUndefined(stand)) renameSync(stand, fsName(path));
    }
  }

  /** Creates missing parent directories; refuses symlinks and non-directories on the way. */
  private ensureParents(rel: string, raw: string): void {
    const slash = rel.lastIndexOf("/");
    // The common case: the parent is a directory this unpack already knows.
    if (slash < 0 || this.knownDirs.has(rel.slice(0, slash))) return;
    const parts = rel.split("/");
    let current = "";
    for (let i = 0; i < parts.length - 1; i++) {
      current = current === "" ? parts[i]! : `${current}/${parts[i]}`;
      if (this.knownDirs.has(current)) continue;
      const path = join(this.root, current);
      const st = lstatOrUndefined(path);
      if (!st) {
        mkdirSync(fsName(path), { mode: 0o700 });
        this.knownDirs.add(current);
        continue;
      }
      if (st.isSymbolicLink()) throw new LayerError(`refusing to write ${raw} through the symlink ${current}`);
      if (!st.isDirectory()) throw new LayerError(`cannot write ${raw}: ${current} is not a directory`);
      this.knownDirs.add(current);
    }
  }

  /** Like ensureParents, but only checks (for hard link sources, which must already exist). */
  private checkParents(rel: string, raw: string): void {
    const parts = rel.split("/");
    let current = "";
    for (let i = 0; i < parts.length - 1; i++) {
      current = current === "" ? parts[i]! : `${current}/${parts[i]}`;
      if (this.knownDirs.has(current)) continue;
      const st = lstatOrUndefined(join(this.root, current));
      if (!st?.isDirectory()) throw new LayerError(`hard link ${raw} points through ${current}, which is not a directory in the layer`);
    }
  }

  /**
   * Makes room for a new entry: a later tar entry replaces an earlier one.
   * Returns true when an existing directory is kept (a dir entry over a dir).
   */
  private async clearTarget(rel: string, keepDirectory: boolean): Promise<boolean> {
    const path = join(this.root, rel);
    const st = lstatOrUndefined(path);
    if (!st) return false;
    if (st.isDirectory()) {
      if (keepDirectory) return true;
      await this.named(path, true, removeTree);
      for (const known of [...this.knownDirs]) {
        if (known === rel || known.startsWith(rel + "/")) {
          this.knownDirs.delete(known);
          this.dirMeta.delete(known);
        }
      }
      return false;
    }
    unlinkSync(fsName(path));
    return false;
  }
}

/** New files only, never through a symlink (libuv adds O_CLOEXEC). A function, not a constant: the browser bundle imports this module without node:fs. */
function createFile(): number {
  return constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
}

/** lstat without an exception (and its stack trace) for a missing name. */
function lstatOrUndefined(path: string): Stats | undefined {
  return lstatSync(fsName(path), { throwIfNoEntry: false });
}

/** All of `chunk`, at the file's offset or at `position`. */
function writeAll(fd: number, chunk: Buffer, position?: number): void {
  for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off, position === undefined ? null : position + off);
}

let addonPromise: Promise<NativeAddon> | undefined;
function addon(): Promise<NativeAddon> {
  return (addonPromise ??= loadAddon());
}

async function setMarker(path: string, name: string, value: string): Promise<void> {
  try {
    (await addon()).lsetxattr(path, name, value);
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException).code);
    if (code === "ENOTSUP") throw new LayerError(`cannot unpack a layer with whiteouts here: the file system of ${path} does not support ${name.split(".")[0]} xattrs`);
    throw new LayerError(`cannot mark overlay whiteout (${name}) on ${path}: ${(err as Error).message}`);
  }
}


/**
 * A file system error while writing an entry (a name too long, a file where
 * a directory is needed…) is the layer's fault: one clear LayerError. A
 * full disk stays itself (the caller says where it is full).
 */
function asLayerError(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (err instanceof LayerError || typeof code !== "string" || code === "ENOSPC" || code === "EDQUOT" || !/^E[A-Z0-9]+$/.test(code)) return err;
  return new LayerError(`cannot unpack ${what}: ${code}`);
}

function shorten(path: string): string {
  return path.length > 120 ? `${path.slice(0, 60)}…${path.slice(-40)}` : path;
}

function depth(rel: string): number {
  return rel === "" ? 0 : rel.split("/").length;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
}

const NODE_TYPES = { chardev: 0o020000, blockdev: 0o060000, fifo: 0o010000 } as const;
let hasAddon: boolean | undefined;
/** Can this process make the 0/0 device whiteout unprivileged (Linux >= 5.8)? Learnt at the first rootless whiteout. */
let deviceWhiteouts: boolean | undefined;

/**
 * A device node or FIFO with exactly `mode`'s permission bits. Through the
 * addon's mknod (one syscall) where there is one; spawning coreutils cost a
 * process per entry, which a layer of many deletions (root whiteouts) paid
 * thousands of times.
 */
async function makeNode(path: string, type: keyof typeof NODE_TYPES, mode: number, major = 0, minor = 0): Promise<void> {
  // Looked for once: a layer may hold thousands of whiteouts.
  if (!(hasAddon ??= addonPresent())) {
    if (type === "fifo") return runTool("mkfifo", ["-m", octal(mode), path]);
    return runTool("mknod", ["-m", octal(mode), path, type === "chardev" ? "c" : "b", String(major), String(minor)]);
  }
  (await addon()).mknod(path, NODE_TYPES[type] | (mode & 0o7777), major, minor);
  // mknod(2) masks the mode with the umask; a layer's mode is kept as it is.
  if ((mode & 0o7777) !== 0) chmodSync(path, mode & 0o7777);
}

/**
 * Writes out the file system holding `dir` (a layer unpacked there with `durable`, before the rename that
 * publishes it): the unpack's writes sit in the page cache for up to 30 s, and a power loss in that time would
 * leave a published layer with empty or missing files (ext4's delayed allocation) that nothing repairs, since a
 * present layer is never unpacked again (containerd's moby/moby#49784). One syncfs(2) through the addon; without
 * one (a vm-only install, which may have no coreutils on its PATH) the unpack fsynced each file already.
 */
export async function syncFileSystem(dir: string): Promise<void> {
  if (!(hasAddon ??= addonPresent())) return;
  try {
    (await addon()).syncfs(dir);
  } catch (err) {
    throw new LayerError(`cannot write the unpacked layer to disk (syncfs ${dir}): ${(err as Error).message}`);
  }
}

function runTool(command: string, args: string[], provider = "coreutils"): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if (isErrno(err, "ENOENT")) return reject(new LayerError(`cannot unpack layer: ${command} is not installed (install ${provider})`));
      reject(new LayerError(`${command} ${args.join(" ")} failed: ${String(stderr).trim() || err.message}`));
    });
  });
}
