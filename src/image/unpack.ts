import { execFile } from "node:child_process";
import { chmod, lchown, link, lstat, lutimes, mkdir, open, symlink, unlink, utimes } from "node:fs/promises";
import { join, posix } from "node:path";
import { LayerError } from "../errors.js";
import { isErrno, removeTree } from "../fs-util.js";
import { OPAQUE_MARKER, sanitizeLayerPath, WHITEOUT_PREFIX, whiteoutTarget, XATTR_PREFIX } from "./layer-paths.js";
import type { TarEntry } from "./tar.js";
import { loadAddon, type NativeAddon } from "../backends/native/addon.js";

export interface UnpackOptions {
  /**
   * Running as real root: keep the tar's uid/gid, create device nodes and
   * overlay whiteouts. Rootless, every file stays owned by the invoking
   * user: with a single-id user namespace, a lower file owned by an
   * unmapped id makes overlay copy-up fail with EOVERFLOW.
   */
  privileged: boolean;
}

export interface UnpackResult {
  entries: number;
  /** Device nodes left out because only root can create them. */
  skippedDevices: string[];
}


/**
 * Unpacks a layer's tar entries into `root` (an empty directory), refusing
 * anything that could write outside it: absolute paths, `..` components,
 * parents that are symlinks, hard links to paths outside the layer.
 *
 * Why this is safe: every path is made of sanitised components below
 * `root`; every parent component is checked with lstat to be a real
 * directory created by this layer; the final component is created with
 * O_EXCL-style calls (open "wx", mkdir, symlink, link) that never follow a
 * symlink. The directory is private to this unpack until it is renamed.
 */
export async function unpackLayer(entries: AsyncIterable<TarEntry>, root: string, options: UnpackOptions): Promise<UnpackResult> {
  const unpacker = new LayerUnpacker(root, options);
  for await (const entry of entries) await unpacker.add(entry);
  await unpacker.finish();
  return { entries: unpacker.count, skippedDevices: unpacker.skippedDevices };
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

  constructor(
    private readonly root: string,
    private readonly options: UnpackOptions,
  ) {}

  async add(entry: TarEntry): Promise<void> {
    this.count++;
    const rel = sanitizeLayerPath(entry.path, `layer entry ${entry.path}`);
    const name = posix.basename(rel);
    if (name.startsWith(WHITEOUT_PREFIX)) return this.whiteout(entry, rel, name);
    if (rel === "") {
      if (entry.type !== "directory") throw new LayerError(`layer root entry ${entry.path} is not a directory`);
      this.dirMeta.set("", { mode: entry.mode, mtime: entry.mtime });
      return;
    }
    await this.ensureParents(rel, entry.path);
    const target = join(this.root, rel);
    const existing = await this.clearTarget(rel, entry.type === "directory");

    switch (entry.type) {
      case "directory":
        if (!existing) await mkdir(target, { mode: 0o700 });
        this.knownDirs.add(rel);
        this.dirMeta.set(rel, { mode: entry.mode, mtime: entry.mtime });
        if (this.options.privileged) await lchown(target, entry.uid, entry.gid);
        return;
      case "file":
        return this.writeFile(entry, target);
      case "symlink":
        await symlink(entry.linkname, target);
        if (this.options.privileged) await lchown(target, entry.uid, entry.gid);
        await lutimes(target, entry.mtime, entry.mtime);
        return;
      case "hardlink":
        return this.hardlink(entry, target);
      case "chardev":
      case "blockdev":
        if (!this.options.privileged) {
          this.skippedDevices.push(rel);
          return;
        }
        await runTool("mknod", ["-m", octal(entry.mode), target, entry.type === "chardev" ? "c" : "b", String(entry.devmajor), String(entry.devminor)]);
        return this.finishSpecial(entry, target);
      case "fifo":
        await runTool("mkfifo", ["-m", octal(entry.mode), target]);
        return this.finishSpecial(entry, target);
    }
  }

  /** Applies deferred directory modes and mtimes, deepest first. */
  async finish(): Promise<void> {
    await this.markDirectories();
    const dirs = [...this.knownDirs].sort((a, b) => depth(b) - depth(a) || (a < b ? -1 : 1));
    for (const rel of dirs) {
      const meta = this.dirMeta.get(rel);
      const path = join(this.root, rel);
      // Implicit parents (no tar entry) get 0755 like other unpackers; so does the root,
      // which becomes the container's `/` when this is the top layer.
      await chmod(path, meta ? meta.mode : 0o755);
      if (meta) await utimes(path, meta.mtime, meta.mtime);
    }
  }

  private async writeFile(entry: TarEntry, target: string): Promise<void> {
    const fh = await open(target, "wx", 0o600);
    try {
      for await (const chunk of entry.body) await fh.write(chunk);
      // chown before chmod: chown clears setuid/setgid bits.
      if (this.options.privileged) await fh.chown(entry.uid, entry.gid);
      await fh.chmod(entry.mode);
      await fh.utimes(entry.mtime, entry.mtime);
    } finally {
      await fh.close();
    }
    await this.applyXattrs(entry, target);
  }

  /**
   * `SCHILY.xattr.*` pax records, where allowed: rootless only `user.*`; as
   * root also `security.*`/`trusted.*`. Overlay's own attributes are never
   * taken from a layer: they would forge whiteouts, opaque dirs or redirects.
   * Attributes the file system refuses (ENOTSUP, EPERM) are skipped.
   */
  private async applyXattrs(entry: TarEntry, target: string): Promise<void> {
    for (const [key, value] of Object.entries(entry.pax)) {
      if (!key.startsWith(XATTR_PREFIX)) continue;
      const name = key.slice(XATTR_PREFIX.length);
      if (/^(trusted|user)\.overlay\./.test(name)) continue;
      if (!this.options.privileged && !name.startsWith("user.")) continue;
      try {
        (await addon()).lsetxattr(target, name, value);
      } catch (err) {
        if (!["ENOTSUP", "EPERM", "EACCES", "ERANGE", "E2BIG"].includes(String((err as NodeJS.ErrnoException).code))) throw err;
      }
    }
  }

  private async hardlink(entry: TarEntry, target: string): Promise<void> {
    const sourceRel = sanitizeLayerPath(entry.linkname, `hard link ${entry.path} -> ${entry.linkname}`);
    if (sourceRel === "") throw new LayerError(`hard link ${entry.path} points at the layer root`);
    await this.checkParents(sourceRel, entry.path);
    const source = join(this.root, sourceRel);
    let st;
    try {
      st = await lstat(source);
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw new LayerError(`hard link ${entry.path} points at ${entry.linkname}, which is not in the layer`);
      throw err;
    }
    if (st.isDirectory()) throw new LayerError(`hard link ${entry.path} points at a directory`);
    // link(2) does not follow a symlink source, so this never reaches outside the root.
    await link(source, target);
  }

  private async finishSpecial(entry: TarEntry, target: string): Promise<void> {
    if (this.options.privileged) await lchown(target, entry.uid, entry.gid);
    await utimes(target, entry.mtime, entry.mtime);
  }

  /**
   * Whiteouts become overlayfs whiteouts in the unpacked layer. As root: a
   * 0/0 character device, and `trusted.overlay.opaque=y` on an opaque dir.
   * Rootless (overlay mounted with `userxattr`): device nodes cannot be made,
   * so an empty file with `user.overlay.whiteout` whose directory carries
   * `user.overlay.opaque=x` ("holds xattr whiteouts", Linux >= 6.7), and
   * `user.overlay.opaque=y` on an opaque dir.
   */
  private async whiteout(entry: TarEntry, rel: string, name: string): Promise<void> {
    const dirRel = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
    if (dirRel !== "") await this.ensureParents(rel, entry.path);
    const dir = join(this.root, dirRel);
    if (name === OPAQUE_MARKER) {
      this.opaqueDirs.add(dirRel);
      return;
    }
    const hidden = whiteoutTarget(name, entry.path);
    const hiddenRel = dirRel === "" ? hidden : `${dirRel}/${hidden}`;
    await this.clearTarget(hiddenRel, false);
    if (this.options.privileged) {
      // overlayfs whiteout: a character device 0/0 with the hidden name.
      await runTool("mknod", ["-m", "000", join(dir, hidden), "c", "0", "0"]);
      return;
    }
    const path = join(dir, hidden);
    // 0600, not 0000: setting a user.* xattr needs write permission on the file.
    await (await open(path, "wx", 0o600)).close();
    await setMarker(path, "user.overlay.whiteout", "y");
    this.xwhiteoutDirs.add(dirRel);
  }

  /**
   * As root both namespaces are marked: the runtime mounts the overlay inside
   * a user namespace with `userxattr` where the kernel allows it (user.*),
   * and without it elsewhere (trusted.*).
   */
  private async markDirectories(): Promise<void> {
    const prefixes = this.options.privileged ? ["trusted", "user"] : ["user"];
    for (const rel of this.opaqueDirs) {
      if (!this.knownDirs.has(rel)) continue;
      for (const p of prefixes) await setMarker(join(this.root, rel), `${p}.overlay.opaque`, "y");
    }
    for (const rel of this.xwhiteoutDirs) {
      if (this.knownDirs.has(rel) && !this.opaqueDirs.has(rel)) await setMarker(join(this.root, rel), "user.overlay.opaque", "x");
    }
  }

  /** Creates missing parent directories; refuses symlinks and non-directories on the way. */
  private async ensureParents(rel: string, raw: string): Promise<void> {
    const parts = rel.split("/");
    let current = "";
    for (let i = 0; i < parts.length - 1; i++) {
      current = current === "" ? parts[i]! : `${current}/${parts[i]}`;
      if (this.knownDirs.has(current)) continue;
      const path = join(this.root, current);
      let st;
      try {
        st = await lstat(path);
      } catch (err) {
        if (!isErrno(err, "ENOENT")) throw err;
        await mkdir(path, { mode: 0o700 });
        this.knownDirs.add(current);
        continue;
      }
      if (st.isSymbolicLink()) throw new LayerError(`refusing to write ${raw} through the symlink ${current}`);
      if (!st.isDirectory()) throw new LayerError(`cannot write ${raw}: ${current} is not a directory`);
      this.knownDirs.add(current);
    }
  }

  /** Like ensureParents, but only checks (for hard link sources, which must already exist). */
  private async checkParents(rel: string, raw: string): Promise<void> {
    const parts = rel.split("/");
    let current = "";
    for (let i = 0; i < parts.length - 1; i++) {
      current = current === "" ? parts[i]! : `${current}/${parts[i]}`;
      if (this.knownDirs.has(current)) continue;
      const st = await lstat(join(this.root, current)).catch(() => undefined);
      if (!st?.isDirectory()) throw new LayerError(`hard link ${raw} points through ${current}, which is not a directory in the layer`);
    }
  }

  /**
   * Makes room for a new entry: a later tar entry replaces an earlier one.
   * Returns true when an existing directory is kept (a dir entry over a dir).
   */
  private async clearTarget(rel: string, keepDirectory: boolean): Promise<boolean> {
    const path = join(this.root, rel);
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      if (isErrno(err, "ENOENT")) return false;
      throw err;
    }
    if (st.isDirectory()) {
      if (keepDirectory) return true;
      await removeTree(path);
      for (const known of [...this.knownDirs]) {
        if (known === rel || known.startsWith(rel + "/")) {
          this.knownDirs.delete(known);
          this.dirMeta.delete(known);
        }
      }
      return false;
    }
    await unlink(path);
    return false;
  }
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


function depth(rel: string): number {
  return rel === "" ? 0 : rel.split("/").length;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8);
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
