/**
 * `tsbox inspect` / `Container.inspect()`: a container in docker's shape
 * (field names and types of docker's ContainerJSON), from its state.json
 * (the live part) and inspect.json (what was fixed at creation).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DataPaths } from "../paths.js";
import { LOG_FILE } from "./logs.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import { readSpec } from "./spec-file.js";
import { type InspectConfig, type InspectRecord, readInspectRecord, restartPolicyRecord } from "./inspect-record.js";
import { networkSettings } from "./inspect-network.js";
import { readAttachments } from "../network/attachments.js";
import { type ContainerState, UNKNOWN_EXIT } from "./state.js";
import { type HealthState, healthNow } from "./healthcheck.js";
import type { InspectMount } from "./volumes-resolve.js";

/** Go's zero time, which docker prints for a time that has not happened. */
export const ZERO_TIME = "0001-01-01T00:00:00Z";

export interface InspectState {
  Status: string;
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  /** Present when the container has a health check (docker's). */
  Health?: HealthState;
}

export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: InspectState;
  Image: string;
  ResolvConfPath: string;
  HostnamePath: string;
  HostsPath: string;
  LogPath: string;
  Name: string;
  RestartCount: number;
  Driver: string;
  Platform: string;
  MountLabel: string;
  ProcessLabel: string;
  AppArmorProfile: string;
  ExecIDs: string[] | null;
  HostConfig: Record<string, unknown>;
  GraphDriver: InspectRecord["GraphDriver"];
  Mounts: InspectMount[];
  Config: InspectConfig;
  NetworkSettings: Record<string, unknown>;
}

/**
 * Fields of docker's `.State` that the lifecycle's state.json may carry
 * (read when present; today's state maps onto the rest).
 */
interface LifecycleFields {
  paused?: boolean;
  restarting?: boolean;
  oomKilled?: boolean;
  restartCount?: number;
}

export function dockerState(state: ContainerState): InspectState {
  const s = state as ContainerState & LifecycleFields;
  const status = String(s.status);
  const paused = s.paused ?? status === "paused";
  const restarting = s.restarting ?? status === "restarting";
  const running = status === "running" || paused || restarting;
  return {
    Status: paused ? "paused" : restarting ? "restarting" : status,
    Running: running,
    Paused: paused,
    Restarting: restarting,
    OOMKilled: s.oomKilled ?? false,
    Dead: status === "dead",
    Pid: running ? (s.pid ?? 0) : 0,
    // null: never ended (0, as docker's), or ended unseen (its supervisor was killed).
    ExitCode: s.exitCode ?? (status === "exited" ? UNKNOWN_EXIT : 0),
    Error: s.error ?? "",
    // The last start (`start`, `restart` and restart policies move it), as docker's; a state written before
    // `started` was recorded started when it was created (run = create + start).
    StartedAt: s.started ?? (status === "created" ? ZERO_TIME : s.created),
    // Restarting: the run that just ended (docker's too; zero made ps say "2027 years ago").
    FinishedAt: status === "exited" || status === "dead" || status === "restarting" ? (s.finished ?? ZERO_TIME) : ZERO_TIME,
  };
}

/**
 * docker's State.Health: what the container's monitor last reported (it
 * writes "starting" as each run starts), "unhealthy" once the container is not
 * running. A container run in the foreground has no monitor to run the checks,
 * and shows none.
 */
function healthOf(bundleDir: string, record: InspectRecord, state: ContainerState): { Health?: HealthState } {
  const health = record.Config.Healthcheck ? healthNow(bundleDir, state.status === "running" || state.status === "paused") : undefined;
  return health ? { Health: health } : {};
}

/** The /etc files tsbox writes for the container (under `<bundle>/net`), where they exist. */
function etcPaths(bundleDir: string): Pick<ContainerInspect, "ResolvConfPath" | "HostnamePath" | "HostsPath"> {
  const path = (name: string) => (existsSync(join(bundleDir, "net", name)) ? join(bundleDir, "net", name) : "");
  return { ResolvConfPath: path("resolv.conf"), HostnamePath: path("hostname"), HostsPath: path("hosts") };
}

/** `networkId`: a network's id by name ("" when it is gone). */
export function inspectContainer(paths: DataPaths, state: ContainerState, networkId: (name: string) => string = () => ""): ContainerInspect {
  const bundle = paths.container(state.id);
  const record = readInspectRecord(bundle) ?? recordFromSpec(bundle.config, state);
  const running = state.status === "running" || state.status === "paused";
  const mode = String(record.HostConfig.NetworkMode ?? "none");
  return {
    Id: state.id,
    Created: state.created,
    Path: record.Path,
    Args: record.Args,
    State: { ...dockerState(state), ...healthOf(bundle.dir, record, state) },
    Image: record.Image,
    ...etcPaths(bundle.dir),
    // Its JSON-lines log: a monitored container's, or a foreground run's that kept one.
    LogPath: existsSync(join(bundle.dir, LOG_FILE)) ? join(bundle.dir, LOG_FILE) : "",
    Name: `/${state.name ?? state.id.slice(0, 12)}`,
    RestartCount: (state as ContainerState & LifecycleFields).restartCount ?? 0,
    Driver: record.GraphDriver.Name,
    Platform: "linux",
    MountLabel: "",
    ProcessLabel: "",
    AppArmorProfile: "",
    ExecIDs: null,
    // The policy is state.json's (what the monitor obeys, and `update --restart` changes): tsbox before bc21af6
    // wrote "no" into every inspect.json, so a container it made with --restart was shown (and filtered) as "no".
    HostConfig: { ...record.HostConfig, RestartPolicy: restartPolicyRecord(state.restartPolicy) },
    GraphDriver: record.GraphDriver,
    Mounts: record.Mounts,
    Config: record.Config,
    NetworkSettings: networkSettings({
      mode,
      running,
      planned: mode === "none" || mode === "host" || mode.startsWith("container:") ? [] : plannedNetworks(bundle.config),
      attachments: running ? readAttachments(bundle.dir) : [],
      exposed: Object.keys(record.Config.ExposedPorts ?? {}),
      containerId: state.id,
      containerName: state.name ?? state.id.slice(0, 12),
      hostname: record.Config.Hostname,
      networkId,
    }),
  };
}

/** A container made before inspect.json existed: what its spec still tells. */
function recordFromSpec(configPath: string, state: ContainerState): InspectRecord {
  let spec: Partial<ContainerSpec> = {};
  try {
    spec = readSpec(configPath);
  } catch {
    // a bundle that never started: state.json is all there is
  }
  const args = spec.process?.args ?? state.command;
  return {
    Path: args[0] ?? "",
    Args: args.slice(1),
    Image: state.imageDigest,
    Config: {
      Hostname: spec.hostname ?? "",
      Domainname: "",
      User: "",
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      Tty: spec.process?.terminal ?? false,
      OpenStdin: false,
      StdinOnce: false,
      Env: spec.process?.env ?? [],
      Cmd: args,
      Image: state.image,
      Volumes: null,
      WorkingDir: spec.process?.cwd ?? "",
      Entrypoint: null,
      OnBuild: null,
      Labels: {},
    },
    HostConfig: { AutoRemove: state.remove, ReadonlyRootfs: spec.root?.readonly ?? false, NetworkMode: spec.network ? "bridge" : "none" },
    Mounts: [],
    GraphDriver: { Data: {}, Name: "overlay" },
  };
}

/** The networks the spec joins at a start (the first gets the default route). */
function plannedNetworks(configPath: string): { name: string; aliases: string[]; dns: boolean }[] {
  try {
    const spec: Partial<ContainerSpec> = readSpec(configPath);
    return (spec.network?.attach ?? []).map((a) => ({ name: a.name, aliases: a.aliases, dns: a.dns }));
  } catch {
    return [];
  }
}
