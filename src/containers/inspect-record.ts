/**
 * What `docker inspect` shows of a container that does not change while it
 * lives (docker's config.v2.json + hostconfig.json): `Config`,
 * `HostConfig`, `Mounts`, `GraphDriver`, the command and the image. Built
 * from the request, the image and the spec when the container is created,
 * and written to `<bundle>/inspect.json`; inspect.ts adds the live state.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomicSync } from "../fs-util.js";
import { type ImageConfig, imageVolumePaths } from "../image/oci.js";
import { parseRestartPolicy, type RestartPolicy } from "./restart-policy.js";
import type { ContainerPaths } from "../paths.js";
import type { ContainerSpec, PortMapping } from "../spec/container-spec.js";
import { INIT_PATH } from "../spec/data-options.js";
import { capabilityName } from "../spec/capabilities.js";
import { DEFAULT_PATH_ENV } from "../spec/defaults.js";
import { nanoCpusOf } from "../spec/resources.js";
import { envList, mergeEnv } from "../spec/process-rules.js";
import type { RunOptions } from "../spec/run-options.js";
import type { InspectMount } from "./volumes-resolve.js";
import type { DeviceBind } from "./devices.js";
import type { HealthConfig } from "./healthcheck.js";
import { shmMode } from "../spec/ipc-pid.js";
import { withExposed } from "../network/ports.js";

export interface InspectRecord {
  Path: string;
  Args: string[];
  /** The image's config digest (docker's image id). */
  Image: string;
  Config: InspectConfig;
  HostConfig: Record<string, unknown>;
  Mounts: InspectMount[];
  GraphDriver: { Data: Record<string, string>; Name: string };
}

export interface InspectConfig {
  Hostname: string;
  Domainname: string;
  User: string;
  AttachStdin: boolean;
  AttachStdout: boolean;
  AttachStderr: boolean;
  Tty: boolean;
  OpenStdin: boolean;
  StdinOnce: boolean;
  Env: string[];
  Cmd: string[] | null;
  Image: string;
  Volumes: Record<string, object> | null;
  WorkingDir: string;
  Entrypoint: string[] | null;
  OnBuild: null;
  Labels: Record<string, string>;
  StopSignal?: string;
  StopTimeout?: number;
  /** The image's EXPOSE and the published ports, as `{"80/tcp": {}}` (absent when none, as docker omits it). */
  ExposedPorts?: Record<string, object>;
  /** The health check in force: the image's HEALTHCHECK with the run's flags over it. */
  Healthcheck?: HealthConfig;
}

export interface RecordInputs {
  options: RunOptions;
  image: { id: string; config: ImageConfig };
  spec: ContainerSpec;
  mounts: InspectMount[];
  /** The health check in force (healthcheck.ts `effectiveHealthcheck`). */
  healthcheck?: HealthConfig;
  /** docker's HostConfig.Devices: the `--device`s asked for (default none). */
  devices?: DeviceBind["inspect"][];
  bundle: ContainerPaths;
  /** docker's HostConfig.NetworkMode: bridge, none, host, container:ID or a network's name. */
  networkMode: string;
}

/**
 * docker's LogConfig.Config: the `--log-opt`s given (none: `{}`, the defaults
 * apply). The size is kept in bytes, so it shows in its largest exact unit
 * (`10k` for `max-size=10k` or `10240`).
 */
function logOptions(log: RunOptions["log"]): Record<string, string> {
  const out: Record<string, string> = {};
  if (log?.maxFiles !== undefined) out["max-file"] = String(log.maxFiles);
  if (log?.maxSize !== undefined) {
    const size = log.maxSize;
    const [unit, bytes] = SIZE_UNITS.find(([, b]) => size % b === 0) ?? ["", 1];
    out["max-size"] = `${size / bytes}${unit}`;
  }
  return out;
}

const SIZE_UNITS: [string, number][] = [["g", 1024 ** 3], ["m", 1024 ** 2], ["k", 1024]];

export function buildInspectRecord({ options, image, spec, mounts, devices = [], healthcheck, bundle, networkMode }: RecordInputs): InspectRecord {
  const imageRun = image.config.config ?? {};
  // The user's command, not tsbox-init's wrapper around it (docker shows it the same way).
  const command = spec.process.args[0] === INIT_PATH && options.init ? spec.process.args.slice(2) : spec.process.args;
  const resources = (spec.linux.resources ?? {}) as OciResources;
  const binds = (options.volumes ?? []).map(bindText);
  return {
    Path: command[0] ?? "",
    Args: command.slice(1),
    Image: image.id,
    Config: {
      Hostname: spec.hostname ?? "",
      Domainname: options.domainname ?? "",
      User: options.user ?? imageRun.User ?? "",
      AttachStdin: Boolean(options.stdin),
      AttachStdout: true,
      AttachStderr: true,
      Tty: Boolean(options.tty),
      OpenStdin: Boolean(options.stdin),
      StdinOnce: Boolean(options.stdin),
      // The image's and the user's variables (docker adds HOSTNAME and HOME only when the process starts).
      Env: configEnv(imageRun.Env ?? [], options.env),
      Cmd: options.cmd && options.cmd.length > 0 ? options.cmd : options.entrypoint ? null : (imageRun.Cmd ?? null),
      Image: options.image,
      Volumes: volumesOf(image.config),
      WorkingDir: options.workdir ?? imageRun.WorkingDir ?? "",
      Entrypoint: options.entrypoint ?? imageRun.Entrypoint ?? null,
      OnBuild: null,
      Labels: { ...(imageRun.Labels ?? {}), ...(options.labels ?? {}) },
      ...exposedPorts(withExposed(imageRun.ExposedPorts, options.expose), spec.network?.ports ?? []),
      ...(options.stopSignal || imageRun.StopSignal ? { StopSignal: options.stopSignal || imageRun.StopSignal } : {}),
      ...(options.stopTimeout !== undefined ? { StopTimeout: options.stopTimeout } : {}),
      ...(healthcheck ? { Healthcheck: healthcheck } : {}),
    },
    HostConfig: {
      Binds: binds.length > 0 ? binds : null,
      ContainerIDFile: "",
      LogConfig: { Type: options.log?.driver === "none" ? "none" : "json-file", Config: logOptions(options.log) },
      NetworkMode: networkMode,
      PortBindings: portBindings(spec.network?.ports ?? []),
      RestartPolicy: restartPolicyOf(options.restart),
      AutoRemove: Boolean(options.remove),
      VolumeDriver: "",
      VolumesFrom: options.volumesFrom?.length ? [...options.volumesFrom] : null,
      CapAdd: capabilityList(options.capAdd),
      GroupAdd: options.groupAdd?.length ? [...options.groupAdd] : null,
      CapDrop: capabilityList(options.capDrop),
      Dns: [...(options.dns ?? [])],
      DnsOptions: [...(options.dnsOptions ?? [])],
      DnsSearch: [...(options.dnsSearch ?? [])],
      ExtraHosts: options.addHosts?.length ? [...options.addHosts] : null,
      ...securityOpt(options),
      ...(options.sysctls && Object.keys(options.sysctls).length > 0 ? { Sysctls: { ...options.sysctls } } : {}),
      Init: options.init ? true : null,
      Privileged: options.privileged === true,
      Devices: devices.map((d) => ({ ...d })),
      ReadonlyRootfs: Boolean(options.readOnly),
      Tmpfs: options.tmpfs && Object.keys(options.tmpfs).length > 0 ? { ...options.tmpfs } : null,
      ShmSize: shmSizeOf(options),
      IpcMode: options.ipc ?? "private",
      PidMode: options.pid === undefined || options.pid === "private" ? "" : options.pid,
      UTSMode: options.uts === "host" ? "host" : "",
      Ulimits: options.ulimits && options.ulimits.length > 0 ? options.ulimits.map((u) => ({ Name: u.name, Hard: u.hard, Soft: u.soft })) : null,
      ...(options.mounts && options.mounts.length > 0 ? { Mounts: options.mounts.map(apiMount) } : {}),
      ...hostConfigResources(resources, nanoCpusOf(options.resources)),
      OomScoreAdj: (spec.process as { oomScoreAdj?: number }).oomScoreAdj ?? 0,
      CgroupParent: cgroupParentOf(spec.linux.cgroupsPath),
      // What the container got (none with --privileged or systempaths=unconfined), as docker shows them.
      MaskedPaths: [...spec.linux.maskedPaths],
      ReadonlyPaths: [...spec.linux.readonlyPaths],
    },
    Mounts: mounts,
    GraphDriver: {
      Data: {
        LowerDir: spec.root.overlay?.lower.join(":") ?? spec.root.path,
        MergedDir: bundle.rootfs,
        UpperDir: bundle.upper,
        WorkDir: bundle.work,
      },
      Name: "overlay",
    },
  };
}

function exposedPorts(image: Record<string, unknown> | null | undefined, published: PortMapping[]): { ExposedPorts?: Record<string, object> } {
  const keys = [...Object.keys(image ?? {}).map((k) => (k.includes("/") ? k : `${k}/tcp`)), ...published.map((p) => `${p.containerPort}/${p.protocol}`)];
  return keys.length > 0 ? { ExposedPorts: Object.fromEntries([...new Set(keys)].sort().map((k) => [k, {}])) } : {};
}

function configEnv(imageEnv: string[], requested: RunOptions["env"]): string[] {
  const env = mergeEnv(imageEnv, requested);
  if (!env.has("PATH")) env.set("PATH", DEFAULT_PATH_ENV.slice("PATH=".length));
  return envList(env);
}

/** The OCI `linux.resources` fields docker's HostConfig mirrors. */
interface OciResources {
  memory?: { limit?: number; reservation?: number; swap?: number };
  cpu?: { shares?: number; quota?: number; period?: number; cpus?: string; mems?: string };
  pids?: { limit?: number };
  blockIO?: { weight?: number };
}

/** `-v` as docker keeps it in HostConfig.Binds: `SRC:DST[:OPTIONS]`, its options as given (ro, nocopy, rslave). */
function bindText(v: NonNullable<RunOptions["volumes"]>[number]): string {
  const source = v.host ?? v.volume;
  const options = [...(v.readonly ? ["ro"] : []), ...(v.noCopy ? ["nocopy"] : []), ...(v.propagation ? [v.propagation] : []), ...(v.idmap ? ["idmap"] : [])];
  return [...(source !== undefined ? [source] : []), v.container, ...(options.length > 0 ? [options.join(",")] : [])].join(":");
}

/** `--mount bind-recursive=` as docker's API carries it. */
const RECURSIVE_OPTIONS = { enabled: {}, disabled: { NonRecursive: true }, writable: { ReadOnlyNonRecursive: true }, readonly: { ReadOnlyForceRecursive: true } };

/** `--mount` as docker's API takes it (HostConfig.Mounts). */
function apiMount(m: NonNullable<RunOptions["mounts"]>[number]): Record<string, unknown> {
  switch (m.type) {
    case "bind": {
      const bindOptions = { ...(m.propagation ? { Propagation: m.propagation } : {}), ...(m.recursive ? RECURSIVE_OPTIONS[m.recursive] : {}) };
      return { Type: "bind", Source: m.source, Target: m.target, ReadOnly: Boolean(m.readonly), ...(Object.keys(bindOptions).length > 0 ? { BindOptions: bindOptions } : {}) };
    }
    case "volume":
      return { Type: "volume", Source: m.source ?? "", Target: m.target, ReadOnly: Boolean(m.readonly), VolumeOptions: { NoCopy: Boolean(m.noCopy), Labels: m.labels ?? {} } };
    case "tmpfs":
      return { Type: "tmpfs", Target: m.target, TmpfsOptions: { ...(m.size !== undefined ? { SizeBytes: m.size } : {}), ...(m.mode !== undefined ? { Mode: m.mode } : {}) } };
  }
}

function restartPolicyOf(text: string | undefined): { Name: string; MaximumRetryCount: number } {
  return restartPolicyRecord(parseRestartPolicy(text ?? "no"));
}

/** `.HostConfig.RestartPolicy` (also what `update --restart` writes). */
export function restartPolicyRecord(policy: RestartPolicy): { Name: string; MaximumRetryCount: number } {
  return { Name: policy.name, MaximumRetryCount: policy.maximumRetryCount };
}

function volumesOf(config: ImageConfig): Record<string, object> | null {
  const paths = imageVolumePaths(config);
  return paths.length > 0 ? Object.fromEntries(paths.map((p) => [p, {}])) : null;
}

const FILE = "inspect.json";

/**
 * linux.resources as docker's HostConfig names them (the spec holds OCI's names); `update` rewrites these.
 * `nanoCpus`: what `--cpus` asked for; docker shows its quota and period as 0 (they are the runtime's).
 */
export function hostConfigResources(resources: OciResources, nanoCpus: number): Record<string, unknown> {
  const cpu = resources.cpu ?? {};
  return {
    Memory: resources.memory?.limit ?? 0,
    MemoryReservation: resources.memory?.reservation ?? 0,
    MemorySwap: resources.memory?.swap ?? 0,
    NanoCpus: nanoCpus,
    CpuShares: cpu.shares ?? 0,
    CpuPeriod: nanoCpus > 0 ? 0 : (cpu.period ?? 0),
    CpuQuota: nanoCpus > 0 ? 0 : (cpu.quota ?? 0),
    CpusetCpus: cpu.cpus ?? "",
    CpusetMems: cpu.mems ?? "",
    BlkioWeight: resources.blockIO?.weight ?? 0,
    PidsLimit: resources.pids?.limit ?? null,
  };
}

/** A record, or its JSON text as this wrote it before (the run cache's replay). */
export function writeInspectRecord(bundle: ContainerPaths, record: InspectRecord | string): void {
  writeFileAtomicSync(join(bundle.dir, FILE), typeof record === "string" ? record : JSON.stringify(record) + "\n");
}

export function readInspectRecord(bundle: ContainerPaths): InspectRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(bundle.dir, FILE), "utf8")) as InspectRecord;
  } catch {
    return undefined;
  }
}

/** docker's `"80/tcp": [{ HostIp, HostPort }]` map of published ports (HostPort "" for a free port). */
export function portBindings(ports: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  const host = (p: PortMapping) => (p.hostPort === 0 ? "" : p.hostPortEnd !== undefined ? `${p.hostPort}-${p.hostPortEnd}` : String(p.hostPort));
  for (const p of ports) (out[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIp, HostPort: host(p) });
  return out;
}

/** docker's HostConfig.CgroupParent: the cgroup path (`--cgroup-parent`, `$TSBOX_CGROUP_PARENT`) without the container's own last part. */
function cgroupParentOf(cgroupsPath: string | undefined): string {
  return cgroupsPath === undefined ? "" : cgroupsPath.slice(0, Math.max(cgroupsPath.lastIndexOf("/"), 0));
}

/** docker's HostConfig.ShmSize: the /dev/shm tmpfs's bytes (0 when it is the host's or none). */
function shmSizeOf(options: RunOptions): number {
  const shm = shmMode(options);
  return typeof shm === "object" ? shm.size : 0;
}

/**
 * docker's HostConfig.CapAdd/CapDrop: `CAP_`-prefixed upper case, without
 * duplicates, sorted; `ALL` stays `ALL` (moby's client normalises them so,
 * moby#48551).
 */
function capabilityList(names: string[] | undefined): string[] | null {
  return names?.length ? [...new Set(names.map(capabilityName))].sort() : null;
}

/** docker's `HostConfig.SecurityOpt`: what the user's `--security-opt`s set (absent when none). */
function securityOpt(options: RunOptions): { SecurityOpt?: string[] } {
  const out: string[] = [];
  if (options.noNewPrivileges !== undefined) out.push(`no-new-privileges=${options.noNewPrivileges}`);
  if (options.systemPaths === "unconfined") out.push("systempaths=unconfined");
  if (options.seccomp === "unconfined") out.push("seccomp=unconfined");
  else if (options.seccomp !== undefined) out.push(`seccomp=${JSON.stringify(options.seccomp)}`);
  return out.length > 0 ? { SecurityOpt: out } : {};
}
