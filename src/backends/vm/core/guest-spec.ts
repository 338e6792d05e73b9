/**
 * The pure part of running a container in a guest, shared by Node
 * (container-run.ts) and the browser Worker: a host spec translated to
 * guest paths (layers and volumes as 9p exports under /mnt/host, the root
 * and the overlay's writable layer in a tmpfs of the guest, kept between
 * runs in a host directory when asked), exports
 * counted across the containers that share them, and the agent's
 * create/start and wait/delete sequences.
 */
import type { ContainerSpec } from "../../../spec/container-spec.js";
import { mappedId } from "../../../spec/mapped-ids.js";
import type { ExitStatus } from "../../backend.js";
import type { AgentProtocol } from "./agent-protocol.js";
import { toGuestNetwork } from "./guest-network.js";
import { TsboxError } from "../../../errors.js";
import type { Export, FileIdentity, Owner } from "./p9/server.js";

export const GUEST_HOST_MOUNT = "/mnt/host";
export const GUEST_RUN_DIR = "/run/tsbox";
/**
 * `--init`'s binary on the vm backend, as a spec's mount source: the agent
 * itself (the guest's /init), which runs as tsbox-init when started as
 * /dev/init (native-rs/agent/src/main.rs; contract: guest-init.json).
 * Absolute, as every mount source of a spec, and no path a host has.
 */
export const GUEST_INIT_SOURCE = "/.tsbox-vm-guest/init";

export interface GuestExport {
  name: string;
  /** Directory or file the 9p server serves (a file volume is exported alone). */
  path: string;
  readonly: boolean;
  /** Image layers: one export per layer, shared by the containers using it. */
  shared: boolean;
  /** A bind mount's or volume's files as the container's user's where the host cannot chown (p9/server.ts Export). */
  shownOwner?: Owner;
  /** A checked bind source: what `path` named when checked (p9/server.ts Export). */
  identity?: FileIdentity;
}

export interface GuestSpec {
  spec: ContainerSpec;
  /** 9p exports this container needs. */
  exports: GuestExport[];
  /** The guest path of the file its writable layer is kept in between runs (`create`'s `layer`), if kept. */
  layer?: string;
  /** Each bind export's guest path → the source the spec gave, to name it in the guest's errors (`inHostTerms`). */
  sources: Record<string, string>;
}

/** What the translation asks of the side that serves the files. */
export interface ExportNaming {
  /** A stable export name for an image layer directory (so containers share it). */
  layerExportName(dir: string): string;
  /**
   * A bind source as it may be exported: checked (node/bind-source.ts) and
   * pinned to what was checked. Throws what refuses it. Absent: as given.
   */
  checkSource?(path: string): { path: string; identity: FileIdentity };
}

/** The file of a kept layer in its export (native-rs/agent/src/kept_layer.rs writes and reads it). */
export const KEPT_LAYER_FILE = "layer.records";

/**
 * Host paths → guest paths. `cid` names the container in the guest. With
 * `keptLayerDir` (a host directory of the container's), its writable layer
 * is saved there when a run ends and restored at the next one's `create`.
 */
export function toGuestSpec(spec: ContainerSpec, cid: string, naming: ExportNaming, keptLayerDir?: string): GuestSpec {
  const exports: GuestExport[] = [];
  const dir = `${GUEST_RUN_DIR}/${cid}`;
  let layer: string | undefined;
  const out: ContainerSpec = structuredClone(spec);
  out.root = { ...spec.root, path: `${dir}/rootfs` };
  if (spec.root.overlay) {
    const lower = spec.root.overlay.lower.map((hostDir) => {
      const name = naming.layerExportName(hostDir);
      if (!exports.some((e) => e.name === name)) exports.push({ name, path: hostDir, readonly: true, shared: true });
      return `${GUEST_HOST_MOUNT}/${name}`;
    });
    out.root.overlay = { lower, upper: `${dir}/upper`, work: `${dir}/work` };
    if (keptLayerDir !== undefined) {
      const name = `w-${cid.slice(0, 16)}`;
      exports.push({ name, path: keptLayerDir, readonly: false, shared: false });
      layer = `${GUEST_HOST_MOUNT}/${name}/${KEPT_LAYER_FILE}`;
    }
  } else {
    // A plain directory root: exported as is (read-only when the spec says so).
    const name = `r-${cid.slice(0, 16)}`;
    exports.push({ name, path: spec.root.path, readonly: spec.root.readonly, shared: false });
    out.root = { path: `${dir}/rootfs`, readonly: spec.root.readonly };
    out.mounts = [{ destination: "/", type: "bind", source: `${GUEST_HOST_MOUNT}/${name}`, options: ["rbind"] }, ...out.mounts];
  }
  const net = spec.network ? toGuestNetwork(spec.network, dir) : undefined;
  if (net) out.network = net.network;
  const userOwner = volumeOwner(spec);
  const sources: Record<string, string> = {};
  let n = 0;
  out.mounts = out.mounts.map((m) => {
    const inGuest = net?.mount(m);
    if (inGuest) return inGuest;
    if (m.source === GUEST_INIT_SOURCE) return { ...m, source: "/init" };
    if (m.type !== "bind" || m.source.startsWith(GUEST_HOST_MOUNT + "/")) return m;
    const readonly = m.options.includes("ro");
    const name = `v-${cid.slice(0, 16)}-${n++}`;
    const checked = checkedSource(naming, m.source, m.destination);
    // The source itself, directory or file: a file volume exports that file
    // alone (its directory would give the guest every sibling, read-write).
    exports.push({ name, path: checked.path, readonly, shared: false, ...(userOwner ? { shownOwner: userOwner } : {}), ...(checked.identity ? { identity: checked.identity } : {}) });
    const guestSource = `${GUEST_HOST_MOUNT}/${name}`;
    sources[guestSource] = m.source;
    return { ...m, source: guestSource };
  });
  return { spec: out, exports, ...(layer !== undefined ? { layer } : {}), sources };
}

/** A bind source as `naming` lets it be exported; refused as the native set-up words it (mounts.rs check_sources). */
function checkedSource(naming: ExportNaming, source: string, destination: string): { path: string; identity?: FileIdentity } {
  if (!naming.checkSource) return { path: source };
  try {
    return naming.checkSource(source);
  } catch (err) {
    throw new TsboxError(`bind-mounting ${source} on ${destination}: ${errorText(err)}`, { code: "setup", cause: err });
  }
}

/** "Not a directory" of node:fs's "ENOTDIR: not a directory, lstat '…'", as strerror says it natively; other errors as they are. */
function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /^E[A-Z0-9]+: ([^,]+)/.exec(message);
  return m ? m[1]!.charAt(0).toUpperCase() + m[1]!.slice(1) : message;
}

/**
 * The guest's error about a container's mounts in the user's terms: each
 * bind export's guest path (`/mnt/host/v-…-0`, which the user never sees)
 * replaced by the source the spec gave, as the native set-up names it.
 * Kept the same error (its kind and exit code), its message rewritten.
 */
export function inHostTerms(err: unknown, guest: Pick<GuestSpec, "sources">): unknown {
  if (!(err instanceof Error)) return err;
  // Export names are [A-Za-z0-9._-] (p9/server.ts addExport); the mount point has no regex character.
  err.message = err.message.replace(new RegExp(`${GUEST_HOST_MOUNT}/[A-Za-z0-9._-]+`, "g"), (p) => guest.sources[p] ?? p);
  return err;
}

/**
 * Who a rootless host's bind mounts and volumes look owned by in the
 * container: its user, where that is not its root (whose the user's files
 * already are). A 9p server run by an unprivileged user cannot give a file
 * to another id, so an image's `USER node` could not write in a mounted
 * project; Docker Desktop's file sharing lets it, and so does this.
 */
function volumeOwner(spec: ContainerSpec): Owner | undefined {
  const { uid, gid } = spec.process.user;
  if (uid === 0) return undefined;
  const guestUid = mappedId(uid, spec.linux.uidMappings);
  const guestGid = mappedId(gid, spec.linux.gidMappings);
  return guestUid !== undefined && guestGid !== undefined ? { uid: guestUid, gid: guestGid } : undefined;
}

/** Where 9p exports are registered: the in-process server, or the vm daemon's. */
export interface ExportTable {
  add(name: string, exp: Export): Promise<void> | void;
  remove(name: string): void;
}

/** Exports being added, per reference table: a second container waits for the first one's add. */
const adding = new WeakMap<Map<string, number>, Map<string, Promise<void>>>();

/**
 * Registers a container's exports; `refs` counts them across the guest's
 * containers (shared layers stay until their last user is gone). Returns
 * the release, to call once the container is gone from the guest. Counts
 * go up before any await: two containers starting at once must both be
 * counted, or the first to end would remove an export the other still uses.
 */
export async function acquireExports(table: ExportTable, refs: Map<string, number>, exports: readonly GuestExport[]): Promise<() => void> {
  const inFlight = adding.get(refs) ?? new Map<string, Promise<void>>();
  adding.set(refs, inFlight);
  const release = (list: readonly GuestExport[]) => {
    for (const e of list) {
      const count = (refs.get(e.name) ?? 1) - 1;
      if (count <= 0) {
        refs.delete(e.name);
        table.remove(e.name);
      } else refs.set(e.name, count);
    }
  };
  const held: GuestExport[] = [];
  try {
    for (const e of exports) {
      const count = refs.get(e.name) ?? 0;
      refs.set(e.name, count + 1);
      held.push(e);
      if (count === 0) {
        const exp: Export = { path: e.path, readonly: e.readonly, ...(e.shownOwner ? { shownOwner: e.shownOwner } : {}), ...(e.identity ? { identity: e.identity } : {}) };
        const added = Promise.resolve(table.add(e.name, exp));
        inFlight.set(e.name, added);
        void added.finally(() => inFlight.delete(e.name)).catch(() => {});
      }
      await inFlight.get(e.name);
    }
  } catch (err) {
    release(held);
    throw err;
  }
  return () => release(exports);
}

/** Stdio channel numbers the host opened for a container (null: none). */
export interface GuestChannels {
  stdin: number | null;
  stdout: number | null;
  stderr: number | null;
}

/**
 * `create` + `start`; resolves with the container's pid in the guest (-1 if
 * not told). `onWarning` gets what `create` warns about (limits the guest
 * cannot apply); `started` gets `start`'s whole answer (its `networks`: the
 * attachment records of the container's network keeper).
 */
export async function createAndStart(
  link: AgentProtocol<any>,
  cid: string,
  spec: ContainerSpec,
  channels: GuestChannels,
  hooks: { onWarning?: ((message: string) => void) | undefined; beforeStart?: () => void; started?: (reply: Record<string, unknown>) => void } = {},
  fields: Record<string, unknown> = {},
): Promise<number> {
  for (const w of await requestCreate(link, cid, spec, channels, fields)) hooks.onWarning?.(w);
  // (may throw: the container is then deleted unstarted)
  hooks.beforeStart?.();
  const reply = await requestStart(link, cid);
  hooks.started?.(reply);
  return pidOf(reply);
}

/** `create` (`fields`: more of the request, a spare's flag); resolves with its warnings. */
export async function requestCreate(link: AgentProtocol<any>, cid: string, spec: ContainerSpec, channels: GuestChannels, fields: Record<string, unknown> = {}): Promise<string[]> {
  const created = await link.request("create", { cid, spec, ...channels, ...fields }, 60_000);
  return Array.isArray(created.warnings) ? created.warnings.filter((w): w is string => typeof w === "string") : [];
}

/** `start` (`fields`: more of the request, a spare's process); resolves with its whole answer. */
export function requestStart(link: AgentProtocol<any>, cid: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return link.request("start", { cid, ...fields }, 120_000);
}

/** The guest pid a `start` answered with (-1 if not told). */
export function pidOf(reply: Record<string, unknown>): number {
  return typeof reply.pid === "number" ? reply.pid : -1;
}

/** A container's end when its guest is stopped under it (`vm stop --force`, a page's `terminate()`): SIGKILL's, as docker's kill. */
export const GUEST_STOPPED_EXIT: ExitStatus = { exitCode: 137, signal: "SIGKILL", oomKilled: false };

/** Waits for the exit (the output channels' EOFs come first on the link). */
export async function waitForExit(link: AgentProtocol<any>, cid: string): Promise<ExitStatus> {
  const r = await link.request("wait", { cid }, 0x7fffffff);
  return { exitCode: typeof r.exitCode === "number" ? r.exitCode : 125, signal: typeof r.signal === "string" ? r.signal : null, oomKilled: r.oomKilled === true };
}

/**
 * Removes the container from the guest; failures are ignored (the guest may
 * be gone). `timeoutMs`: longer when the agent saves a kept layer first.
 */
export async function deleteInGuest(link: AgentProtocol<any>, cid: string, timeoutMs = 10_000): Promise<void> {
  await link.request("delete", { cid }, timeoutMs).catch(() => {});
}
