/**
 * What `tsbox ps` shows of a container: docker's ContainerContext (the
 * fields `--format` templates use, the default columns and their titles)
 * and its filters.
 */
import { dirname } from "node:path";
import { ContainerError, UsageError } from "../../errors.js";
import { treeBytes } from "../../fs-util.js";
import { writableLayerBytes } from "../../containers/layer-bytes.js";
import { bundlePaths } from "../../paths.js";
import type { ContainerInspect } from "../../containers/inspect.js";
import { networkNames } from "../../containers/inspect-network.js";
import type { ImageConfig } from "../../image/oci.js";
import type { ContainerInfo, Runtime } from "../../runtime.js";
import { parsePortRange } from "../../network/ports.js";
import { strictContext } from "../format-template-exec.js";
import { labelMatch, regexMatch } from "../list-filters.js";
import type { FormatDefaults } from "../format-output.js";
import { humanDuration, humanSize, shortId, timeAgo, truncate } from "../format.js";

export interface PsEntry {
  inspect: ContainerInspect;
  /** Its state record (what `ps --json` prints). */
  state: ContainerInfo;
  /** It ended without anyone seeing its exit (its supervisor was killed): docker's inspect has no word for that. */
  unknownExit: boolean;
}

export const CONTAINER_FORMAT: FormatDefaults = {
  table: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
  quiet: "{{.ID}}",
  typeName: "*formatter.ContainerContext",
  headers: {
    ID: "CONTAINER ID",
    Names: "NAMES",
    Image: "IMAGE",
    Command: "COMMAND",
    CreatedAt: "CREATED AT",
    RunningFor: "CREATED",
    Ports: "PORTS",
    State: "STATE",
    Status: "STATUS",
    Size: "SIZE",
    Labels: "LABELS",
    Label: (name: unknown) => String(name).toUpperCase(),
    Mounts: "MOUNTS",
    LocalVolumes: "LOCAL VOLUMES",
    Networks: "NETWORKS",
  },
};

/** Every container, newest first, as inspect shows it. */
export async function psEntries(runtime: Runtime): Promise<PsEntry[]> {
  const out: PsEntry[] = [];
  for (const state of await runtime.containers({ all: true })) {
    try {
      out.push({
        inspect: await runtime.inspectContainer(state.id),
        state,
        unknownExit: state.status === "exited" && state.exitCode === null,
      });
    } catch (err) {
      if (!(err instanceof ContainerError)) throw err; // removed meanwhile
    }
  }
  return out;
}

interface ListedPort {
  ip: string;
  privatePort: number;
  publicPort: number;
  type: string;
}

/**
 * docker's PORTS column (docker/cli formatter.DisplayablePorts) from inspect's
 * `NetworkSettings.Ports`, which a running container has: exposed but
 * unpublished ports too (`9000/tcp`), runs of them and of ports published on
 * the same number grouped (`9000-9001/tcp`, `0.0.0.0:80-81->80-81/tcp`), the
 * other mappings last.
 */
export function displayablePorts(settings: Record<string, unknown>): string {
  const listed: ListedPort[] = [];
  for (const [key, bindings] of Object.entries((settings.Ports as Record<string, { HostIp: string; HostPort: string }[] | null> | undefined) ?? {})) {
    const [port = "", type = "tcp"] = key.split("/");
    const privatePort = Number(port);
    if (!bindings || bindings.length === 0) listed.push({ ip: "", privatePort, publicPort: 0, type });
    for (const b of bindings ?? []) listed.push({ ip: b.HostIp, privatePort, publicPort: Number(b.HostPort), type });
  }
  listed.sort((a, b) => a.privatePort - b.privatePort || (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0) || a.publicPort - b.publicPort || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const groups = new Map<string, { first: number; last: number }>();
  const result: string[] = [];
  const mappings: string[] = [];
  for (const p of listed) {
    if (p.ip !== "" && p.publicPort !== p.privatePort) {
      mappings.push(`${p.ip.includes(":") ? `[${p.ip}]` : p.ip}:${p.publicPort}->${p.privatePort}/${p.type}`);
      continue;
    }
    const key = p.ip !== "" ? `${p.ip}/${p.type}` : p.type;
    const group = groups.get(key);
    if (group && p.privatePort === group.last + 1) group.last = p.privatePort;
    else {
      if (group) result.push(portGroup(key, group));
      groups.set(key, { first: p.privatePort, last: p.privatePort });
    }
  }
  for (const [key, group] of groups) result.push(portGroup(key, group));
  return [...result, ...mappings].join(", ");
}

function portGroup(key: string, { first, last }: { first: number; last: number }): string {
  const slash = key.lastIndexOf("/");
  const [ip, type] = slash < 0 ? ["", key] : [key.slice(0, slash), key.slice(slash + 1)];
  const range = first === last ? `${first}` : `${first}-${last}`;
  return `${ip !== "" ? `${ip}:${range}->${range}` : range}/${type}`;
}

/** docker's `.Status`: "Up 5 seconds", "Exited (0) 2 minutes ago", "Created", … */
export function statusText(c: ContainerInspect, now = Date.now(), unknownExit = false): string {
  const s = c.State;
  if (unknownExit) return "Exited (unknown)";
  const since = (iso: string) => humanDuration(Math.max(0, now - Date.parse(iso)));
  if (s.Restarting) return s.FinishedAt.startsWith("0001-") ? `Restarting (${s.ExitCode})` : `Restarting (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
  if (s.Paused) return `Up ${since(s.StartedAt)} (Paused)`;
  if (s.Running) return `Up ${since(s.StartedAt)}${s.Health ? (s.Health.Status === "starting" ? " (health: starting)" : ` (${s.Health.Status})`) : ""}`;
  if (s.Status === "removing") return "Removal In Progress";
  if (s.Dead) return "Dead";
  if (s.Status === "created") return "Created";
  if (s.FinishedAt.startsWith("0001-")) return `Exited (${s.ExitCode})`;
  return `Exited (${s.ExitCode}) ${since(s.FinishedAt)} ago`;
}

/** docker's SizeRw (what its writable layer holds) and SizeRootFs (that and its image's layers): `ps -s`, `inspect -s`. */
export async function containerSizes(c: ContainerInspect): Promise<{ rw: number; rootFs: number }> {
  const upper = c.GraphDriver.Data.UpperDir ?? "";
  // (the upper dir is the bundle's: its sibling guest-layer/ holds a vm container's)
  const rw = upper === "" ? 0 : await writableLayerBytes(bundlePaths(dirname(upper)));
  let rootFs = rw;
  for (const dir of (c.GraphDriver.Data.LowerDir ?? "").split(":").filter((d) => d !== "")) rootFs += await treeBytes(dir);
  return { rw, rootFs };
}

function shownImage(c: ContainerInspect, options: { trunc: boolean; namesMeant?: Set<string> }): string {
  const name = c.Config.Image;
  const stale = !name.startsWith("sha256:") && options.namesMeant !== undefined && !options.namesMeant.has(`${name}\0${c.Image}`);
  const shown = stale ? c.Image : name;
  return options.trunc && shown.startsWith("sha256:") ? shortId(shown) : shown;
}

/**
 * docker's IMAGE column: the name the container was made from while it still names the container's image (for some
 * platform), else the image's id (the tag moved by a rebuild or a pull, or was removed). One lookup per name.
 */
export async function imageNamesStillMeant(entries: PsEntry[], runtime: Runtime): Promise<Set<string>> {
  const meant = new Set<string>();
  const byName = new Map<string, Set<string>>();
  for (const e of entries) {
    const name = e.inspect.Config.Image;
    if (!name.startsWith("sha256:")) byName.set(name, (byName.get(name) ?? new Set()).add(e.inspect.Image));
  }
  const store = runtime.imageStore;
  for (const [name, ids] of byName) {
    const platforms = await store.platformsOf(name).catch(() => []);
    for (const platform of platforms) {
      const found = await store.findImage(name, platform).catch(() => undefined);
      if (found && ids.has(found.configDigest)) meant.add(`${name}\0${found.configDigest}`);
    }
  }
  return meant;
}

/** One row for the template: docker's field names; `Label` is a method. */
export async function containerContext(e: PsEntry, options: { trunc: boolean; size: boolean; namesMeant?: Set<string> }): Promise<object> {
  const c = e.inspect;
  const labels = c.Config.Labels ?? {};
  const command = [c.Path, ...c.Args].join(" ");
  const mounts = c.Mounts.map((m) => (options.trunc ? truncate(m.Name ?? m.Source, 15) : (m.Name ?? m.Source)));
  let size = "0B";
  if (options.size) {
    const { rw, rootFs } = await containerSizes(c);
    size = `${humanSize(rw)} (virtual ${humanSize(rootFs)})`;
  }
  return strictContext(CONTAINER_FORMAT.typeName, {
    ID: options.trunc ? shortId(c.Id) : c.Id,
    Names: c.Name.replace(/^\//, ""),
    Image: shownImage(c, options),
    Command: JSON.stringify(options.trunc ? truncate(command, 20) : command),
    // A getter: the zone's name comes from Intl, whose first use costs ~10 ms, and few formats show it.
    get CreatedAt() {
      return goTimeString(new Date(c.Created));
    },
    RunningFor: timeAgo(c.Created),
    Ports: displayablePorts(c.NetworkSettings),
    State: c.State.Status,
    Status: statusText(c, Date.now(), e.unknownExit),
    Size: size,
    Labels: Object.keys(labels)
      .sort()
      .map((k) => `${k}=${labels[k]}`)
      .join(","),
    Label: (name: unknown) => labels[String(name)] ?? "",
    Mounts: mounts.join(","),
    LocalVolumes: String(c.Mounts.filter((m) => m.Type === "volume").length),
    Networks: networkNames(c.NetworkSettings),
  });
}

/** Go's time.Time.String(): `2006-01-02 15:04:05 -0700 MST` in local time. */
export function goTimeString(d: Date): string {
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  const offset = -d.getTimezoneOffset();
  const zone = new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(d).find((p) => p.type === "timeZoneName")?.value ?? "";
  const sign = offset >= 0 ? "+" : "-";
  const abs = Math.abs(offset);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)} ${zone}`;
}

const FILTER_KEYS = ["id", "name", "label", "status", "exited", "ancestor", "before", "since", "volume", "health", "network", "publish", "expose", "restart-policy"];
const HEALTH = ["starting", "healthy", "unhealthy", "none"];
/** podman's `restart-policy=` filter (docker has none): the policy's name, `on-failure` whatever its count. */
const RESTART_POLICIES = ["no", "always", "on-failure", "unless-stopped"];
const STATUSES = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/** `--filter K=V` flags: values per key (one key's values are alternatives, different keys must all match). */
export function parseFilters(specs: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0) throw new UsageError(`bad format of filter (expected name=value): ${spec}`);
    const key = spec.slice(0, eq).trim().toLowerCase();
    const value = spec.slice(eq + 1);
    if (!FILTER_KEYS.includes(key)) throw new UsageError(`invalid filter '${key}'`);
    if (key === "status" && !STATUSES.includes(value)) throw new UsageError(`invalid filter 'status=${value}'`);
    if (key === "exited" && !/^-?\d+$/.test(value)) throw new UsageError(`invalid filter 'exited=${value}'`);
    if (key === "health" && !HEALTH.includes(value)) throw new UsageError(`invalid filter 'health=${value}' (${HEALTH.join(", ")})`);
    if (key === "restart-policy" && !RESTART_POLICIES.includes(value)) throw new UsageError(`invalid filter 'restart-policy=${value}' (${RESTART_POLICIES.join(", ")})`);
    out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

export async function matchFilters(entries: PsEntry[], filters: Map<string, string[]>, runtime: Runtime): Promise<PsEntry[]> {
  if (filters.size === 0) return entries;
  const created = async (ref: string) => (await runtime.inspectContainer(ref)).Created;
  const before = filters.get("before")?.[0];
  const since = filters.get("since")?.[0];
  const beforeTime = before === undefined ? undefined : await created(before);
  const sinceTime = since === undefined ? undefined : await created(since);
  const ancestors = await Promise.all((filters.get("ancestor") ?? []).map((a) => ancestorMatcher(a, runtime)));
  const publish = portFilter(filters.get("publish"), "publish");
  const expose = portFilter(filters.get("expose"), "expose");
  const any = (key: string, test: (v: string) => boolean) => {
    const values = filters.get(key);
    return values === undefined || values.some(test);
  };
  const out: PsEntry[] = [];
  for (const e of entries) {
    const c = e.inspect;
    const labels = c.Config.Labels ?? {};
    const ok =
      any("id", (v) => regexMatch(v, c.Id)) &&
      any("name", (v) => regexMatch(v, c.Name.replace(/^\//, ""))) &&
      // Every label filter must hold.
      (filters.get("label") ?? []).every((v) => labelMatch(labels, v)) &&
      any("status", (v) => c.State.Status === v) &&
      any("exited", (v) => c.State.Status === "exited" && c.State.ExitCode === Number(v)) &&
      any("volume", (v) => c.Mounts.some((m) => m.Name === v || m.Source === v || m.Destination === v)) &&
      any("health", (v) => (c.State.Health?.Status ?? "none") === v) &&
      any("restart-policy", (v) => restartPolicyName(c) === v) &&
      // docker's: the container ports of -p bindings (HostConfig.PortBindings), of EXPOSE and --expose (Config.ExposedPorts).
      (publish === undefined || Object.keys((c.HostConfig.PortBindings ?? {}) as Record<string, unknown>).some(publish)) &&
      (expose === undefined || Object.keys(c.Config.ExposedPorts ?? {}).some(expose)) &&
      any("network", (v) => Object.entries(c.NetworkSettings.Networks ?? {}).some(([name, n]) => name === v || (v.length >= 3 && (n.NetworkID ?? "").startsWith(v)))) &&
      (beforeTime === undefined || c.Created < beforeTime) &&
      (sinceTime === undefined || c.Created > sinceTime) &&
      (ancestors.length === 0 || (await someAsync(ancestors, (m) => m(c))));
    if (ok) out.push(e);
  }
  return out;
}

/** `.HostConfig.RestartPolicy.Name`, "no" when unset. */
export function restartPolicyName(c: ContainerInspect): string {
  return (c.HostConfig.RestartPolicy as { Name?: string } | undefined)?.Name || "no";
}

/**
 * `publish=`/`expose=` values — `80`, `80/udp`, `8000-8080/tcp` — as one test of a port key ("80/tcp"); several
 * values: any of them. Undefined when there is no such filter.
 */
function portFilter(values: string[] | undefined, key: string): ((portKey: string) => boolean) | undefined {
  if (values === undefined) return undefined;
  const ranges = values.map((v) => {
    const r = parsePortRange(v, ["tcp", "udp", "sctp"]);
    if (!r) throw new UsageError(`invalid ${key} filter ${JSON.stringify(v)}: expected PORT[-PORT][/tcp|udp|sctp]`);
    return r;
  });
  return (portKey) => {
    const [port, proto = "tcp"] = portKey.split("/");
    return ranges.some((r) => proto === r.protocol && Number(port) >= r.first && Number(port) <= r.last);
  };
}

async function someAsync<T>(items: T[], test: (item: T) => Promise<boolean>): Promise<boolean> {
  for (const item of items) if (await test(item)) return true;
  return false;
}

/**
 * `ancestor=IMAGE`: containers of that image or of an image built on it
 * (its layers are a prefix of theirs); an image id prefix works too.
 */
async function ancestorMatcher(ref: string, runtime: Runtime): Promise<(c: ContainerInspect) => Promise<boolean>> {
  const store = runtime.imageStore;
  const image = await store.findImage(ref).catch(() => undefined);
  const hex = /^(sha256:)?[0-9a-f]{1,64}$/.test(ref) ? ref.replace(/^sha256:/, "") : undefined;
  const layersOf = new Map<string, string[] | undefined>();
  const diffIds = async (configDigest: string) => {
    if (!layersOf.has(configDigest)) {
      const config = await store.layout.readJsonBlob<ImageConfig>(configDigest).catch(() => undefined);
      layersOf.set(configDigest, config?.rootfs?.diff_ids);
    }
    return layersOf.get(configDigest);
  };
  const wanted = image?.config.rootfs.diff_ids;
  return async (c) => {
    if (image && c.Image === image.configDigest) return true;
    if (hex !== undefined && c.Image.replace(/^sha256:/, "").startsWith(hex)) return true;
    const theirs = await diffIds(c.Image);
    return wanted !== undefined && theirs !== undefined && wanted.length <= theirs.length && wanted.every((d, i) => theirs[i] === d);
  };
}
