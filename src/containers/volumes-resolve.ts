/**
 * A new container's user mounts, docker's way: `-v` and `--mount` binds,
 * named and anonymous volumes (created on first use; a new or empty volume
 * gets what the image has at its mount point, unless `nocopy`), tmpfs
 * mounts, host devices (devices.ts), and an anonymous volume for each
 * VOLUME of the image that no mount of the run covers. Each becomes a spec mount plus the `.Mounts`
 * entry `inspect` shows; the volumes used are recorded in the bundle under
 * the volumes lock.
 */
import { fsName } from "../name-bytes.js";
import { chmodSync, copyFileSync, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, renameSync, statSync, symlinkSync, utimesSync } from "node:fs";
import { dirname, isAbsolute, join, posix } from "node:path";
import { isErrno, makeDirs, readdirNames, systemErrorText } from "../fs-util.js";
import { removeTreeNow } from "../remove-tree.js";
import { ContainerError, UsageError } from "../errors.js";
import { type LayerEntry, LayerView } from "../image/layer-view.js";
import { ownerNotesOrNone, ownerNotesPath, readOwnerNotes, removeOwnerNotes, writeOwnerNotes } from "../image/owner-notes.js";
import type { LayerOwner } from "../image/unpack.js";
import { unmappedId } from "../spec/mapped-ids.js";
import type { ContainerPaths } from "../paths.js";
import type { IdMapping, MountSpec } from "../spec/container-spec.js";
import type { MountOption, RunOptions, VolumeOption } from "../spec/run-options.js";
import { type ContainerVolumes, FILLING_PREFIX, type VolumeStore, writeContainerVolumes } from "./volumes.js";
import { ownTempPrefix } from "../temp-names.js";
import { type DeviceBind, privilegedDevices, requestedDevices } from "./devices.js";
import { type BindRecursive, bindOptions, bindRecursiveProblem, PROPAGATIONS } from "../spec/propagation.js";
import { tmpfsOptionProblem, volumeBacking } from "./volume-options.js";

/** One entry of docker's `.Mounts` in `inspect`. */
export interface InspectMount {
  Type: "bind" | "volume" | "tmpfs";
  Name?: string;
  Source: string;
  Destination: string;
  Driver?: string;
  Mode: string;
  RW: boolean;
  Propagation: string;
}

export interface ResolvedMounts {
  /** In mount order: parents before children. */
  specs: MountSpec[];
  inspect: InspectMount[];
  volumes: ContainerVolumes;
  /** docker's `HostConfig.Devices`: the `--device`s asked for. */
  devices: DeviceBind["inspect"][];
}

export interface ResolveContext {
  volumes: VolumeStore;
  /** The image's VOLUME paths (its config's `Volumes`). */
  imageVolumes: string[];
  /** The image's unpacked layers, topmost first: what a new volume is filled from. */
  layers: string[];
  bundle: ContainerPaths;
  /** Real root: copied files keep their owners. */
  privileged: boolean;
  /**
   * Rootless: the ids the layers' files have in a container (the backend's
   * maps), and how to give a filled volume's files their owners where this
   * user can (native, with subordinate ids). Where it cannot they are kept
   * beside the volume's data (`_data.owners`), which the vm's 9p server
   * presents (backends/vm/node/p9/owner-records.ts).
   */
  owners?: {
    maps: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
    give?: (dir: string, owners: LayerOwner[]) => Promise<boolean>;
    /**
     * Native with subordinate ids: fills `dest` with what `layers` have below `imagePath` as root of the user's
     * namespace (volume-fill.ts), which reads what only the image's own users may, and gives owners as it copies.
     */
    fill?: (layers: string[], imagePath: string, dest: string) => Promise<void>;
  };
  /**
   * Whether the backend's containers run on this host (native), so its device nodes and mounts are theirs. The
   * vm's binds are 9p exports, which show what the host mounts below them as it comes: no propagation to ask for.
   */
  onHost: boolean;
  /** Volumes `--volumes-from` took that are anonymous in their container: anonymous in this one too. */
  inheritedAnonymous?: string[];
}

type Request =
  | { kind: "bind"; source: string; target: string; readonly: boolean; propagation: string; recursive?: BindRecursive; idmap?: boolean; label: string; fromV: boolean }
  | { kind: "volume"; name?: string; target: string; readonly: boolean; noCopy: boolean; labels: Record<string, string>; options: Record<string, string>; label: string; fromV: boolean }
  | { kind: "tmpfs"; target: string; options: string[]; label: string; inspect: boolean }
  | { kind: "device"; source: string; target: string };

export async function resolveMounts(options: RunOptions, ctx: ResolveContext): Promise<ResolvedMounts> {
  const requests = [...(options.volumes ?? []).map(fromVolumeOption), ...(options.mounts ?? []).map(fromMountOption), ...tmpfsRequests(options.tmpfs ?? {})];
  const seen = new Set<string>();
  for (const r of requests) {
    if (seen.has(r.target)) throw new UsageError(`Duplicate mount point: ${r.target}`);
    seen.add(r.target);
  }
  const devices = deviceRequests(options, ctx.onHost);
  for (const d of devices.asked) {
    if (seen.has(d.target)) throw new UsageError(`Duplicate mount point: ${d.target}`);
    seen.add(d.target);
    requests.push({ kind: "device", source: d.source, target: d.target });
  }
  // --privileged's host nodes yield to the run's own mounts and devices.
  for (const d of devices.privileged) if (!seen.has(d.target)) requests.push({ kind: "device", source: d.source, target: d.target });
  for (const r of imageVolumeRequests(ctx.imageVolumes, options.imageVolume ?? "volume")) {
    if (seen.has(r.target)) continue; // the run's own mount there takes its place
    seen.add(r.target);
    requests.push(r);
  }
  const resolved: { spec: MountSpec; inspect: InspectMount | null }[] = [];
  const volumes: ContainerVolumes = { names: [], anonymous: [] };
  const needVolumes = requests.some((r) => r.kind === "volume");
  // Anonymous volumes made here: a run that fails before the container records them takes them along.
  const made: string[] = [];
  const resolveAll = async () => {
    for (const r of requests) resolved.push(await resolveOne(r, ctx, volumes, made));
    // Before the lock is released: from now on `volume rm` sees these volumes in use.
    if (needVolumes) writeContainerVolumes(ctx.bundle, volumes);
  };
  try {
    if (needVolumes) await ctx.volumes.locked(resolveAll);
    else await resolveAll();
  } catch (err) {
    await ctx.volumes.removeAnonymous(made).catch(() => {});
    throw err;
  }
  return {
    // In the order asked; the spec puts every mount of the container's own in docker's order (data-options.ts).
    specs: resolved.map((r) => r.spec),
    inspect: resolved.map((r) => r.inspect).filter((m): m is InspectMount => m !== null),
    volumes,
    devices: devices.asked.map((d) => d.inspect),
  };
}

function deviceRequests(options: RunOptions, hostDevices: boolean): { asked: DeviceBind[]; privileged: DeviceBind[] } {
  if (!hostDevices) {
    // The vm's containers see the guest's devices: a host path names nothing there.
    if (options.devices?.length) throw new UsageError("--device needs the native backend: a vm container's devices are the guest's");
    return { asked: [], privileged: [] };
  }
  return { asked: requestedDevices(options.devices ?? []), privileged: options.privileged === true ? privilegedDevices() : [] };
}

async function resolveOne(r: Request, ctx: ResolveContext, used: ContainerVolumes, made: string[]): Promise<{ spec: MountSpec; inspect: InspectMount | null }> {
  switch (r.kind) {
    case "bind": {
      try {
        statSync(r.source);
      } catch {
        // docker's rules: `-v` makes a missing host directory, `--mount` refuses it.
        if (!r.fromV) throw new UsageError(`invalid mount config for type "bind": bind source path does not exist: ${r.source}`);
        try {
          makeDirs(r.source, 0o755);
        } catch (err) {
          throw new UsageError(`invalid mount ${r.label}: cannot create the host directory ${r.source}: ${systemErrorText(err as NodeJS.ErrnoException)}`);
        }
      }
      return {
        // docker's default propagation, rprivate: the container's / is rslave (native-rs rootfs.rs), a bind not.
        spec: { destination: r.target, type: "bind", source: r.source, options: [...bindOptions(r.readonly, r.recursive), ctx.onHost ? r.propagation || "rprivate" : "rprivate", ...(r.idmap ? ["idmap"] : [])] },
        inspect: { Type: "bind", Source: r.source, Destination: r.target, Mode: r.fromV && r.readonly ? "ro" : "", RW: !r.readonly, Propagation: r.propagation || "rprivate" },
      };
    }
    case "volume": {
      const { volume, created } = ctx.volumes.ensure(r.name, r.labels, r.options);
      if (created && r.name === undefined) made.push(volume.Name);
      const backing = volumeBacking(volume.Options);
      // docker's local driver fails the mount of a missing device: a bound directory must exist.
      if (backing.kind === "bind" && !isDirectory(backing.device)) {
        throw new UsageError(`error while mounting volume ${volume.Name}: its device ${backing.device} is not an existing directory (type=none,o=bind mounts a host directory that must exist)`);
      }
      if (!used.names.includes(volume.Name)) used.names.push(volume.Name);
      if (r.name === undefined || ctx.inheritedAnonymous?.includes(volume.Name)) used.anonymous.push(volume.Name);
      // Only a volume of its own data is filled from the image: a copy into a host directory would stage
      // beside it, and a tmpfs is made in the container.
      if (backing.kind === "data" && !r.noCopy && (created || isEmptyDir(volume.Mountpoint))) await fill(ctx, r.target, volume.Mountpoint);
      else if (backing.kind === "data") await giveKeptOwners(ctx, volume.Mountpoint);
      return {
        spec: backing.kind === "tmpfs"
          ? { destination: r.target, type: "tmpfs", source: "tmpfs", options: [...backing.options, r.readonly ? "ro" : "rw"] }
          : // `idmap`: with --userns=auto the container's root owns the volume as the host's root does (native-rs idmapped.rs);
            // a volume of its own data lives in the data dir, which no other host user reaches. One bound to a host
            // directory (type=none,o=bind) is a bind like the user's above: not idmapped (before stop 66 it was, and
            // the container's root chowned and planted set-uid-root files in that host directory).
            { destination: r.target, type: "bind", source: volume.Mountpoint, options: [...bindOptions(r.readonly), ...(backing.kind === "data" ? ["idmap"] : [])] },
        inspect: { Type: "volume", Name: volume.Name, Source: volume.Mountpoint, Destination: r.target, Driver: "local", Mode: r.fromV ? "z" : "", RW: !r.readonly, Propagation: "" },
      };
    }
    case "tmpfs":
      return {
        spec: { destination: r.target, type: "tmpfs", source: "tmpfs", options: r.options },
        inspect: r.inspect ? { Type: "tmpfs", Source: "", Destination: r.target, Mode: "", RW: !r.options.includes("ro"), Propagation: "" } : null,
      };
    case "device":
      // docker lists devices in HostConfig.Devices, not .Mounts.
      return { spec: { destination: r.target, type: "bind", source: r.source, options: ["bind", "rw", "nosuid", "noexec"] }, inspect: null };
  }
}

function target(path: string, label: string): string {
  if (typeof path !== "string" || !isAbsolute(path)) throw new UsageError(`invalid mount ${label}: container path ${String(path)} must be absolute`);
  const normal = posix.normalize(path).replace(/(.)\/$/, "$1");
  if (normal === "/") throw new UsageError(`invalid mount ${label}: cannot mount over the container's /`);
  return normal;
}

function fromVolumeOption(v: VolumeOption): Request {
  const label = [v.host ?? v.volume, v.container].filter((x) => x !== undefined).join(":") + (v.readonly ? ":ro" : "");
  if (v.host !== undefined && v.volume !== undefined) throw new UsageError(`invalid volume ${label}: give a host path or a volume name, not both`);
  const dest = target(v.container, label);
  if (v.host !== undefined) {
    if (!isAbsolute(v.host)) throw new UsageError(`invalid volume ${label}: host path ${v.host} must be absolute`);
    if (v.propagation !== undefined && !PROPAGATIONS.includes(v.propagation)) throw new UsageError(`invalid volume ${label}: propagation must be ${PROPAGATIONS.join(", ")}`);
    // (`-v`'s rro: its propagation is rprivate unless asked)
    const problem = bindRecursiveProblem(v.recursive, Boolean(v.readonly), v.propagation ?? "rprivate");
    if (problem) throw new UsageError(`invalid volume ${label}: ${problem}`);
    return { kind: "bind", source: posix.normalize(v.host), target: dest, readonly: Boolean(v.readonly), propagation: v.propagation ?? "", ...(v.recursive ? { recursive: v.recursive } : {}), ...(v.idmap ? { idmap: true } : {}), label, fromV: true };
  }
  if (v.recursive !== undefined) throw new UsageError(`invalid volume ${label}: rro (recursive) is a bind mount's option`);
  return { kind: "volume", ...(v.volume !== undefined ? { name: v.volume } : {}), target: dest, readonly: Boolean(v.readonly), noCopy: Boolean(v.noCopy), labels: {}, options: {}, label, fromV: true };
}

function fromMountOption(m: MountOption): Request {
  const label = `type=${m.type},target=${m.target}`;
  const dest = target(m.target, label);
  switch (m.type) {
    case "bind": {
      if (typeof m.source !== "string" || !isAbsolute(m.source)) throw new UsageError(`invalid mount ${label}: bind source ${String(m.source)} must be an absolute path`);
      if (m.propagation !== undefined && !PROPAGATIONS.includes(m.propagation)) throw new UsageError(`invalid mount ${label}: propagation must be ${PROPAGATIONS.join(", ")}`);
      const problem = bindRecursiveProblem(m.recursive, Boolean(m.readonly), m.propagation);
      if (problem) throw new UsageError(`invalid mount ${label}: ${problem}`);
      return { kind: "bind", source: posix.normalize(m.source), target: dest, readonly: Boolean(m.readonly), propagation: m.propagation ?? "", ...(m.recursive ? { recursive: m.recursive } : {}), label, fromV: false };
    }
    case "volume":
      return {
        kind: "volume",
        ...(m.source !== undefined && m.source !== "" ? { name: m.source } : {}),
        target: dest,
        readonly: Boolean(m.readonly),
        noCopy: Boolean(m.noCopy),
        labels: m.labels ?? {},
        options: m.volumeOptions ?? {},
        label,
        fromV: false,
      };
    case "tmpfs":
      return {
        kind: "tmpfs",
        target: dest,
        options: ["nosuid", "nodev", ...(m.size !== undefined ? [`size=${m.size}`] : []), ...(m.mode !== undefined ? [`mode=${m.mode.toString(8)}`] : []), ...(m.options ?? [])],
        label,
        inspect: true,
      };
    default:
      throw new UsageError(`invalid mount type "${(m as { type: string }).type}": bind, volume or tmpfs`);
  }
}

/** `--tmpfs PATH:OPTIONS`: docker's defaults noexec,nosuid,nodev, the user's options after them (so `exec` wins). */
function tmpfsRequests(tmpfs: Record<string, string>): Request[] {
  return Object.entries(tmpfs).map(([path, opts]) => {
    const label = opts ? `${path}:${opts}` : path;
    const options = opts.split(",").filter((o) => o !== "");
    for (const o of options) {
      const problem = tmpfsOptionProblem(o);
      if (problem) throw new UsageError(`invalid tmpfs option "${o}" in --tmpfs ${label}: ${problem}`);
    }
    return { kind: "tmpfs", target: target(path, label), options: ["noexec", "nosuid", "nodev", ...options], label, inspect: false } as Request;
  });
}

/** The image's VOLUMEs as the run's own `-v PATH` (or `--tmpfs PATH`) would be. */
function imageVolumeRequests(paths: string[], mode: "volume" | "tmpfs" | "ignore"): Request[] {
  if (mode === "ignore") return [];
  return paths.map((path) => {
    const label = `VOLUME ${path} of the image`;
    const dest = target(path, label);
    return mode === "tmpfs"
      ? { kind: "tmpfs", target: dest, options: ["noexec", "nosuid", "nodev"], label, inspect: true }
      : { kind: "volume", target: dest, readonly: false, noCopy: false, labels: {}, options: {}, label, fromV: false };
  });
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function isEmptyDir(dir: string): boolean {
  try {
    return readdirSync(dir).length === 0;
  } catch {
    return false;
  }
}

/** A new volume with what the image has at `target`, its files with their owners (see ResolveContext.owners). */
async function fill(ctx: ResolveContext, target: string, dest: string): Promise<void> {
  const owners = ctx.privileged ? undefined : { ids: ctx.owners?.maps ?? { uidMappings: [], gidMappings: [] }, noted: new Map<string, Map<string, LayerOwner>>(), found: [] as LayerOwner[] };
  const view = new LayerView(ctx.layers);
  // Layers whose owners are notes (unpacked without subordinate ids) are read as the user: the notes give them.
  if (owners && ctx.owners?.fill && !ctx.layers.some((l) => existsSync(ownerNotesPath(l)))) {
    const top = view.lookup(target);
    if (!top || !top.stat.isDirectory()) return;
    await ctx.owners.fill(ctx.layers, target, dest);
    // The volume's own directory, which the copy below it does not make: as the JS copy gives it.
    finishCopy(dest, top.stat, false);
    noteOwner(owners, top, "");
  } else {
    fillFromImage(view, target, dest, owners);
  }
  if (!owners || owners.found.length === 0) return;
  if (await ctx.owners?.give?.(dest, owners.found)) return;
  writeOwnerNotes(dest, owners.found);
}

/**
 * Owners kept beside a volume's data where they could not be given (the vm
 * backend's, or a fill without subordinate ids), given at a native use that
 * can, and then dropped: the volume reads alike on both backends (as a
 * layer's notes do: image/layers.ts).
 */
async function giveKeptOwners(ctx: ResolveContext, dir: string): Promise<void> {
  if (ctx.privileged || !ctx.owners?.give || !existsSync(ownerNotesPath(dir))) return;
  let kept: LayerOwner[] | undefined;
  try {
    kept = readOwnerNotes(dir);
  } catch {
    return; // unreadable: the files keep their own owners
  }
  // Only files still there (the host may have changed the volume since); one that cannot be looked up as the
  // user (below a directory of another id) is left to the chown. A path out of the directory is no file of it.
  const gone = (rel: string) => {
    try {
      lstatSync(fsName(join(dir, rel)));
      return false;
    } catch (err) {
      return isErrno(err, "ENOENT");
    }
  };
  const present = (kept ?? []).filter((o) => o.path === "" || (!o.path.split("/").includes("..") && !gone(o.path)));
  try {
    if (present.length > 0 && !(await ctx.owners.give(dir, present))) return;
  } catch {
    return; // the chown failed: they stay for the vm, and the run goes on
  }
  removeOwnerNotes(dir);
}

/** Rootless: the container ids of the layers' files, by their notes or their host owners; what was copied with another owner than root. */
interface CopiedOwners {
  ids: { uidMappings: IdMapping[]; gidMappings: IdMapping[] };
  noted: Map<string, Map<string, LayerOwner>>;
  found: LayerOwner[];
}

/** The owner a layer's file has in a container: its note, else its host owner mapped in (root where unmapped). */
function containerOwner(owners: CopiedOwners, entry: LayerEntry): { uid: number; gid: number } {
  let notes = owners.noted.get(entry.layer);
  if (!notes) owners.noted.set(entry.layer, (notes = new Map(ownerNotesOrNone(entry.layer).map((o) => [o.path, o]))));
  const noted = notes.get(entry.rel);
  return { uid: noted?.uid ?? unmappedId(entry.stat.uid, owners.ids.uidMappings) ?? 0, gid: noted?.gid ?? unmappedId(entry.stat.gid, owners.ids.gidMappings) ?? 0 };
}

function noteOwner(owners: CopiedOwners, entry: LayerEntry, rel: string): void {
  const st = entry.stat;
  const { uid, gid } = containerOwner(owners, entry);
  if (uid === 0 && gid === 0) return;
  owners.found.push(st.mode & 0o7000 && !st.isSymbolicLink() ? { path: rel, uid, gid, mode: st.mode & 0o7777 } : { path: rel, uid, gid });
}

/**
 * Copies what the image has at `imagePath` into an empty volume, as docker
 * fills a new volume: the directory's contents, mode and owner. Nothing
 * when the image has no directory there. Symlinks are copied as links,
 * never followed; device nodes and fifos are left out.
 *
 * The copy is made in a private directory beside the volume's `_data` and
 * its top-level entries are then renamed in: a running container that has
 * the volume mounted can swap a directory of it for a symlink at any time,
 * and a copy by path into `_data` would follow that link out to the host
 * (chmod, chown and writes as this process). A rename never follows a
 * symlink it replaces, and a name the container made meanwhile is left.
 */
function fillFromImage(view: LayerView, imagePath: string, dest: string, owners: CopiedOwners | undefined): void {
  const top = view.lookup(imagePath);
  if (!top || !top.stat.isDirectory()) return;
  const privileged = owners === undefined;
  // Named by our pid: a run killed mid-copy leaves it for the next prune (`VolumeStore.abandoned`).
  const staging = mkdtempSync(join(dirname(dest), ownTempPrefix(FILLING_PREFIX)));
  try {
    copyTree(view, top, imagePath, staging, owners);
    for (const name of readdirNames(staging)) {
      try {
        renameSync(fsName(join(staging, name)), fsName(join(dest, name)));
      } catch (err) {
        if (!["EEXIST", "ENOTEMPTY", "ENOTDIR", "EISDIR"].some((code) => isErrno(err, code))) throw err;
      }
    }
  } finally {
    removeTreeNow(staging); // what was not moved in (names the container made meanwhile); copied dirs may be read-only
  }
  finishCopy(dest, top.stat, privileged);
  if (owners) noteOwner(owners, top, "");
}

/**
 * The image's tree under `from` (its entry `top`) as a copy in `to` (a
 * directory no container can reach). What the user cannot read (the fill
 * runs as the user where it cannot run in the user's namespace) fails it,
 * named: never a volume with files missing.
 */
function copyTree(view: LayerView, top: LayerEntry, from: string, to: string, owners: CopiedOwners | undefined): void {
  const volumePath = from;
  const unreadable = (err: unknown, path: string, entry: LayerEntry) => {
    if (!isErrno(err, "EACCES") && !isErrno(err, "EPERM")) return err;
    const uid = owners ? containerOwner(owners, entry).uid : entry.stat.uid;
    const mode = (entry.stat.mode & 0o7777).toString(8).padStart(4, "0");
    return new ContainerError(`cannot fill the volume at ${volumePath} from the image: ${path} (uid ${uid}, mode ${mode} in the image) is unreadable to this user outside its user namespace`);
  };
  // A file of several names in the image stays one file of several names (docker's copy keeps hard links).
  const firstCopy = new Map<string, string>();
  const copy = (from: string, dirEntry: LayerEntry, to: string, rel: string) => {
    let names: string[];
    try {
      names = view.list(from);
    } catch (err) {
      throw unreadable(err, from, dirEntry);
    }
    for (const name of names) {
      const entry = view.lookup(posix.join(from, name));
      if (!entry) continue;
      const path = join(to, name);
      const entryRel = rel === "" ? name : `${rel}/${name}`;
      const st = entry.stat;
      if (st.isDirectory()) {
        mkdirSync(fsName(path), { mode: 0o700 });
        copy(posix.join(from, name), entry, path, entryRel);
      } else if (st.isSymbolicLink()) {
        symlinkSync(readlinkSync(fsName(entry.path), { encoding: "buffer" }), fsName(path));
      } else if (st.isFile()) {
        const inode = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
        const linked = inode === undefined ? undefined : firstCopy.get(inode);
        if (linked !== undefined) {
          linkSync(fsName(linked), fsName(path)); // its owner, mode and times are the first name's
          if (owners) noteOwner(owners, entry, entryRel);
          continue;
        }
        try {
          copyFileSync(fsName(entry.path), fsName(path));
        } catch (err) {
          throw unreadable(err, posix.join(from, name), entry);
        }
        if (inode !== undefined) firstCopy.set(inode, path);
      } else {
        continue;
      }
      finishCopy(path, st, owners === undefined);
      if (owners) noteOwner(owners, entry, entryRel);
    }
  };
  copy(from, top, to, "");
}

/** Owner (as root), mode and times of a copied entry. */
function finishCopy(path: string, st: { mode: number; uid: number; gid: number; atime: Date; mtime: Date; isSymbolicLink(): boolean }, privileged: boolean): void {
  // (Names as src/name-bytes.ts keeps them: an image's need not be UTF-8.)
  const p = fsName(path);
  if (privileged) lchownSync(p, st.uid, st.gid);
  if (st.isSymbolicLink()) return lutimesSync(p, st.atime, st.mtime);
  chmodSync(p, st.mode & 0o7777);
  utimesSync(p, st.atime, st.mtime);
}
