/// <reference types="node" preserve="true" />
// (The declarations name Node's types: a project whose tsconfig lists no `types` still gets them.)
/**
 * tsbox: rootless containers for Node.
 *
 *   import { Runtime } from "tsbox";
 *   const rt = new Runtime();
 *   const c = await rt.run({ image: "busybox", cmd: ["echo", "hi"], remove: true });
 *   const { exitCode, stdout } = await c.output();
 *   // in a running container: await c.exec(["ls", "/"]), or c.spawn(…) for streams
 */
export { Runtime, type RuntimeOptions, type RunControl, type ContainerInfo, type ListOptions } from "./runtime.js";
export {
  Container,
  ExecProcess,
  type ContainerOutput,
  type ContainerStats,
  type ExecOptions,
  type ExecResult,
  type ExitStatus,
  type ProcessOptions,
  type SpawnOptions,
  type LogsOptions,
  type RemoveOptions,
} from "./container.js";
// Types the public signatures use, so a caller can name them.
export type { LogEntry } from "./containers/logs.js";
export type { StopOptions } from "./containers/ops/stop.js";
export type { Attachment, AttachOptions } from "./containers/monitor-client.js";
export type { PullEvent, PullOptions, PullResult } from "./image/registry/pull-image.js";
export type { PushOptions, PushResult } from "./image/registry/push-image.js";
export type { Platform } from "./image/oci.js";
export type { RemoveImageOptions } from "./verb-options.js";
export type { ContainerPruneResult, ImagePruneResult } from "./containers/cleanup.js";
export type { PruneResult as VolumePruneResult } from "./containers/volumes.js";
export type { NetworkConfig, CreateOptions as NetworkCreateOptions } from "./network/store.js";
export type { ResourceOptions, MemorySize } from "./spec/resources.js";
export type { DeviceOption } from "./spec/run-options.js";
export type { HealthcheckOptions } from "./containers/healthcheck.js";
export type { PortMapping, CgroupsMode } from "./spec/container-spec.js";
export type { NetIO } from "./network/net-io.js";
export type { VolumeStore } from "./containers/volumes.js";
export type { NetworkStore } from "./network/store.js";
export type { DockerSeccompProfile } from "./spec/seccomp/docker-profile.js";
export type { PruneFilter } from "./containers/prune-filter.js";
export type { RunOptions, VolumeOption, MountOption, UlimitOption } from "./spec/run-options.js";
export type { CommitOptions } from "./container.js";
export type { ContainerInspect, InspectState } from "./containers/inspect.js";
export type { CopyOptions } from "./containers/copy.js";
export type { ContainerUpdate } from "./containers/ops/update.js";
export type { Change } from "./containers/changes.js";
export type { WaitForLogOptions } from "./containers/wait-for-log.js";
export type { OutputOptions } from "./output-limit.js";
export type { WaitForHealthyOptions } from "./containers/wait-for-health.js";
export type { HealthState } from "./containers/healthcheck.js";
export type { VolumeInfo } from "./containers/volumes.js";
export type { DiskUsage } from "./containers/cleanup.js";
export type { ContainerSpec } from "./spec/container-spec.js";
export type { Backend, BackendCapabilities, ContainerProcess, ExecStartOptions, StartOptions, StdioTarget } from "./backends/backend.js";
export { NativeBackend, type NativeBackendOptions } from "./backends/native/native-backend.js";
export type { ImageSummary } from "./image/store.js";
export type { HistoryRow } from "./image/history.js";
export type { BuildOptions, BuildResult } from "./build/builder.js";
export { BuildError } from "./build/build-error.js";
export type { ContainerState, ContainerStatus } from "./containers/state.js";
export { TsboxError, SpecError, UsageError, ImageError, LayerError, ContainerError, OutputLimitError, isTsboxError, isImageNotFound, type TsboxErrorCode, type ContainerErrorReason } from "./errors.js";
export { validateSpec } from "./spec/validate.js";
