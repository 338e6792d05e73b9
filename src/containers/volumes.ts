/**
 * Named volumes, docker's "local" driver: `<data>/volumes/<name>/_data` is
 * the directory containers mount, `volume.json` beside it what `volume
 * inspect` shows. A volume appears by renaming a complete temp dir into
 * place and disappears by renaming it away before deletion, so no reader
 * sees half of one. Which containers use a volume is recorded in each
 * bundle (`volumes.json`, written under the volumes lock while the
 * container is being created), so `volume rm` and `prune` never take a
 * volume a container holds, even one still being created. A volume made with
 * the driver's options (volume-options.ts) is a host directory or a tmpfs.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerError, UsageError } from "../errors.js";
import { checkOptions, checkStringMap, type OptionKinds } from "../spec/run-options-check.js";
import { ensurePrivateDir, isErrno, randomHex, readdirOrEmpty, treeBytes, writeFileAtomicSync } from "../fs-util.js";
import { removeTree } from "../remove-tree.js";
import { withLockFile } from "../lock-file.js";
import type { ContainerPaths, DataPaths } from "../paths.js";
import { compareText } from "../compare.js";
import { abandonedTemps, ownTempPrefix } from "../temp-names.js";
import { boundDevice, optionsText, volumeBacking } from "./volume-options.js";

/** A volume being removed (renamed aside first) and one being made: `<prefix><pid>-<hex>` (temp-names.ts). */
const REMOVING_PREFIX = ".rm-";
/** A removed `--rm` container's volumes.json, handed over by the runtime (`removeOrphanedUnlocked`). */
const ORPHANED = /^\.orphaned-[0-9a-f]{64}$/;
const CREATING_PREFIX = ".new-";
/** A volume a tsbox before stop 43 was removing: its name carried no pid. */
const LEGACY_REMOVING = /^\.rm-[0-9a-f]{16}$/;
/** A new volume's copy of the image's files, made beside its `_data` (volumes-resolve.ts `fillFromImage`). */
export const FILLING_PREFIX = ".fill-";
/** The same, of a tsbox before stop 50 (`mkdtemp`'s six characters, no pid). */
const LEGACY_FILLING = /^\.fill-[A-Za-z0-9]{6}$/;

/** What `tsbox volume inspect` prints: docker's shape. */
export interface VolumeInfo {
  CreatedAt: string;
  Driver: "local";
  Labels: Record<string, string>;
  Mountpoint: string;
  Name: string;
  Options: Record<string, string>;
  Scope: "local";
}

/** Docker (23+) marks volumes made for a container's unnamed mount with this label. */
export const ANONYMOUS_LABEL = "com.docker.volume.anonymous";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** One container's volumes (`<bundle>/volumes.json`). */
export interface ContainerVolumes {
  names: string[];
  /** The anonymous ones among them: `rm -v` and `--rm` delete these. */
  anonymous: string[];
}

export interface PruneResult {
  removed: string[];
  /** Bytes of the removed volumes' files. */
  bytes: number;
}

export class VolumeStore {
  readonly root: string;

  /**
   * `removeData` deletes a volume's directory (in a user namespace when a
   * rootless container left files of subordinate ids in it).
   */
  constructor(
    private readonly data: DataPaths,
    private readonly removeData: (dir: string) => Promise<void> = removeTree,
  ) {
    this.root = join(data.root, "volumes");
  }

  /**
   * `tsbox volume create`: the volume (an existing one as it is); no name makes
   * an anonymous one. `options`: the local driver's (volume-options.ts).
   */
  async create(name?: string, labels: Record<string, string> = {}, options: Record<string, string> = {}): Promise<VolumeInfo> {
    // Both are maps of strings (`create("v", { lables: … })` stored an object as a label's value).
    checkStringMap("volumes.create labels", labels);
    checkStringMap("volumes.create driver options", options);
    return this.locked(async () => this.ensure(name, labels, options).volume);
  }

  /** `tsbox volume rm`: refuses a volume a container uses; `force` ignores a missing one. */
  async remove(name: string, options: { force?: boolean } = {}): Promise<boolean> {
    checkOptions("volumes.remove", options, { force: "boolean" } satisfies OptionKinds<typeof options>);
    return this.locked(() => this.removeUnlocked(name, options));
  }

  /**
   * `tsbox volume prune`: deletes the volumes no container uses, only
   * anonymous ones unless `all` (docker 23+), and only those `keep` lets go.
   */
  async prune(options: { all?: boolean; filter?: (v: VolumeInfo) => boolean } = {}): Promise<PruneResult> {
    checkOptions("volumes.prune", options, { all: "boolean", filter: "function" } satisfies OptionKinds<typeof options>);
    return this.locked(async () => {
      const result: PruneResult = { removed: [], bytes: await this.sweepUnlocked() };
      for (const v of this.list()) {
        if (!options.all && !(ANONYMOUS_LABEL in v.Labels)) continue;
        if (options.filter && !options.filter(v)) continue;
        if (this.users(v.Name).length > 0) continue;
        // Its own _data: a volume bound to a host directory leaves that directory's files (not counted).
        const bytes = await treeBytes(this.mountpoint(v.Name));
        if (await this.removeUnlocked(v.Name, { force: true })) {
          result.removed.push(v.Name);
          result.bytes += bytes;
        }
      }
      return result;
    });
  }

  /**
   * Deletes what a killed `volume rm` or `volume create` left (`.rm-<pid>-…`, `.new-<pid>-…` of a process that
   * no longer runs): no volume any more, but its files. `volume prune` and `system prune` do this. Returns the
   * bytes freed.
   */
  async sweepAbandoned(): Promise<number> {
    if (this.abandoned().length === 0) return 0; // (the lock would make volumes/ where there is none)
    return this.locked(() => this.sweepUnlocked());
  }

  /** The leftovers `sweepAbandoned` deletes: a killed process's volume half made or half removed, or copy half filled. */
  abandoned(): string[] {
    const names = readdirOrEmpty(this.root);
    const legacy = names.filter((n) => LEGACY_REMOVING.test(n)).map((n) => join(this.root, n));
    const fills = names.filter((n) => !n.startsWith(".")).flatMap((n) => {
      const dir = join(this.root, n);
      const legacyFills = readdirOrEmpty(dir).filter((f) => LEGACY_FILLING.test(f)).map((f) => join(dir, f));
      return [...abandonedTemps(dir, FILLING_PREFIX), ...legacyFills];
    });
    return [...abandonedTemps(this.root, REMOVING_PREFIX), ...abandonedTemps(this.root, CREATING_PREFIX), ...legacy, ...fills];
  }

  private async sweepUnlocked(): Promise<number> {
    let bytes = 0;
    for (const dir of this.abandoned()) {
      const size = await treeBytes(dir);
      if (await this.removeData(dir).then(() => true, () => false)) bytes += size;
    }
    return bytes;
  }

  /** A deleted container's anonymous volumes (`rm -v`, `--rm`), unless another container uses one. */
  async removeAnonymous(names: string[]): Promise<void> {
    if (names.length === 0) return;
    await this.locked(async () => {
      for (const name of names) {
        if (this.users(name).length === 0) await this.removeUnlocked(name, { force: true });
      }
    });
  }

  /** The directory containers mount. */
  mountpoint(name: string): string {
    return join(this.root, name, "_data");
  }

  static validName(name: string): boolean {
    return NAME_RE.test(name) && name.length <= 255;
  }

  /** Runs `fn` under the volumes lock (creation, removal, use by a new container), once what removed containers handed over is settled. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    // Private: a volume filled from an image as root keeps its setuid files and owners.
    ensurePrivateDir(this.root);
    return withLockFile(join(this.root, ".lock"), { missing: `no volumes directory ${this.root}`, busy: "the volumes are busy", directory: true }, async () => {
      await this.removeOrphanedUnlocked();
      return fn();
    });
  }

  /** What `volume ls` and kin show is settled first: the anonymous volumes of `--rm` containers their monitor removed. */
  async settle(): Promise<void> {
    if (this.orphanLists().length > 0) await this.locked(async () => {});
  }

  /**
   * `<volumes>/.orphaned-<id>`: the volumes.json of a `--rm` container the runtime removed (its monitor, or the
   * helper of a foreground run: native-rs/runtime/src/monitor/remove.rs), whose anonymous volumes go now unless
   * another container uses one, as `removeAnonymous` does for the removals made here.
   */
  private orphanLists(): string[] {
    return readdirOrEmpty(this.root).filter((n) => ORPHANED.test(n));
  }

  private async removeOrphanedUnlocked(): Promise<void> {
    for (const list of this.orphanLists()) {
      const path = join(this.root, list);
      let anonymous: unknown;
      try {
        anonymous = (JSON.parse(readFileSync(path, "utf8")) as { anonymous?: unknown }).anonymous;
      } catch {
        anonymous = undefined; // unreadable: nothing to settle
      }
      for (const name of Array.isArray(anonymous) ? anonymous : []) {
        if (typeof name === "string" && VolumeStore.validName(name) && this.users(name).length === 0) await this.removeUnlocked(name, { force: true });
      }
      rmSync(path, { force: true });
    }
  }

  /**
   * The volume `name`, created when missing (docker's `volume create` of an
   * existing name is not an error either, unless it was made with other
   * options). No name: a new anonymous one. Returns it and whether it was made
   * now. Call under `locked`.
   */
  ensure(name: string | undefined, labels: Record<string, string> = {}, options: Record<string, string> = {}): { volume: VolumeInfo; created: boolean } {
    volumeBacking(options); // what tsbox cannot apply is refused before anything is made
    if (name !== undefined) {
      if (!VolumeStore.validName(name)) {
        throw new UsageError(
          `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
        );
      }
      const existing = this.get(name);
      if (existing) return { volume: sameOptions(existing, options), created: false };
    }
    const volumeName = name ?? randomHex(32);
    const info: VolumeInfo = {
      CreatedAt: rfc3339(new Date()),
      Driver: "local",
      Labels: name === undefined ? { ...labels, [ANONYMOUS_LABEL]: "" } : { ...labels },
      Mountpoint: boundDevice(options) ?? this.mountpoint(volumeName),
      Name: volumeName,
      // Sorted, as docker's map prints.
      Options: Object.fromEntries(Object.keys(options).sort().map((k) => [k, options[k]!])),
      Scope: "local",
    };
    const tmp = join(this.root, `${ownTempPrefix(CREATING_PREFIX)}${randomHex(8)}`);
    mkdirSync(join(tmp, "_data"), { recursive: true });
    // docker's 0755 root: the caller's umask (077) left a volume no user of the container could enter.
    chmodSync(join(tmp, "_data"), 0o755);
    try {
      writeFileSync(join(tmp, "volume.json"), JSON.stringify(info, null, 2) + "\n");
      renameSync(tmp, join(this.root, volumeName));
    } catch (err) {
      void removeTree(tmp);
      // Another process made it first (outside our lock: an older tsbox): use theirs.
      if ((isErrno(err, "ENOTEMPTY") || isErrno(err, "EEXIST")) && name !== undefined) {
        const theirs = this.get(name);
        if (theirs) return { volume: sameOptions(theirs, options), created: false };
        throw new ContainerError(`create ${name}: ${join(this.root, name)} is in the way: it is no volume (no _data directory in it); move or delete it`);
      }
      throw err;
    }
    return { volume: info, created: true };
  }

  get(name: string): VolumeInfo | undefined {
    if (!VolumeStore.validName(name)) return undefined;
    try {
      const info = JSON.parse(readFileSync(join(this.root, name, "volume.json"), "utf8")) as VolumeInfo;
      return { ...info, Options: info.Options ?? {}, Mountpoint: boundDevice(info.Options) ?? this.mountpoint(name) };
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR") || err instanceof SyntaxError) return this.adopted(name);
      throw err;
    }
  }

  /**
   * A volume's directory without its record (what deleting the data dir leaves of a volume holding files of
   * subordinate ids, which the user cannot delete): a volume with no labels, as docker's local driver takes
   * every directory of its root for one. So `volume ls`, `rm` and `prune -a` reach it (deleting those files
   * in the user namespace) and its name can be used again.
   */
  private adopted(name: string): VolumeInfo | undefined {
    let data;
    try {
      data = statSync(this.mountpoint(name));
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return undefined;
      throw err;
    }
    if (!data.isDirectory()) return undefined;
    return { CreatedAt: rfc3339(data.mtime), Driver: "local", Labels: {}, Mountpoint: this.mountpoint(name), Name: name, Options: {}, Scope: "local" };
  }

  inspect(name: string): VolumeInfo {
    const info = this.get(name);
    if (!info) throw new ContainerError(`no such volume: ${name}`, "no_such_volume");
    return info;
  }

  list(): VolumeInfo[] {
    return readdirOrEmpty(this.root)
      .filter((n) => !n.startsWith("."))
      .map((n) => this.get(n))
      .filter((v): v is VolumeInfo => v !== undefined)
      .sort((a, b) => compareText(a.Name, b.Name));
  }

  /** Ids of the containers (any state) that use `name`. */
  users(name: string): string[] {
    const out: string[] = [];
    let ids: string[];
    try {
      ids = readdirSync(this.data.containers);
    } catch (err) {
      if (isErrno(err, "ENOENT")) return out;
      throw err;
    }
    // A bundle being removed (or left so by a killed rm, until the leftover sweep) holds no volume: its container is gone.
    for (const id of ids) if (!id.startsWith(".removing-") && readContainerVolumes(this.data.container(id)).names.includes(name)) out.push(id);
    return out;
  }

  /** Deletes a volume nobody uses (`force` does not change that: docker's -f only ignores a missing one). */
  private async removeUnlocked(name: string, options: { force?: boolean }): Promise<boolean> {
    if (!this.get(name)) {
      if (options.force) return false;
      throw new ContainerError(`no such volume: ${name}`, "no_such_volume");
    }
    const users = this.users(name);
    if (users.length > 0) throw new ContainerError(`remove ${name}: volume is in use - [${users.join(", ")}]`, "in_use");
    const doomed = join(this.root, `${ownTempPrefix(REMOVING_PREFIX)}${randomHex(8)}`);
    renameSync(join(this.root, name), doomed);
    await this.removeData(doomed);
    return true;
  }
}

/** Records the volumes a container uses, in its bundle. */
export function writeContainerVolumes(bundle: ContainerPaths, volumes: ContainerVolumes): void {
  writeFileAtomicSync(join(bundle.dir, "volumes.json"), JSON.stringify(volumes) + "\n");
}

export function readContainerVolumes(bundle: ContainerPaths): ContainerVolumes {
  try {
    const v = JSON.parse(readFileSync(join(bundle.dir, "volumes.json"), "utf8")) as ContainerVolumes;
    return { names: v.names ?? [], anonymous: v.anonymous ?? [] };
  } catch {
    return { names: [], anonymous: [] };
  }
}

/** An existing volume asked for with options: they must be its own (none asked: it is used as it is). */
function sameOptions(volume: VolumeInfo, options: Record<string, string>): VolumeInfo {
  if (Object.keys(options).length === 0 || optionsText(options) === optionsText(volume.Options)) return volume;
  const own = Object.keys(volume.Options).length > 0 ? `options ${optionsText(volume.Options)}` : "no options";
  throw new UsageError(`volume ${volume.Name} already exists with ${own}, not ${optionsText(options)}: remove it first, or use it without options`);
}

/** Go's time.RFC3339 in UTC, as docker prints a volume's CreatedAt. */
function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
