/**
 * Messages between the page (the browser Runtime) and the Worker that runs
 * the guest. Bytes travel as Uint8Array. Containers and exec'd processes
 * are named by a page-chosen `id`; everything else is a `call` answered by
 * a `reply` with the same number.
 */
import type { MachineConfig } from "../core/guest-machine.js";
import type { ContainerStats } from "../../backend.js";

/** A file the Worker fetches (a URL, resolved against the page) or is handed. */
export type Source = string | ArrayBuffer;

export interface GuestSources {
  /** v86's wasm (node_modules/v86/build/v86.wasm). */
  wasm: Source;
  /** vm-images/dist/bios.bin, bzImage, initramfs.cpio: fetched only for a cold boot. */
  bios: Source;
  kernel: Source;
  initrd: Source;
  /** vm-images/dist/manifest.json: its imageId is part of a saved state's fingerprint. */
  manifest: Source;
  /**
   * A saved state (vm-images/dist/snapshot.state) and its JSON sidecar:
   * restored only when the sidecar's fingerprint, size and digest match.
   */
  snapshot?: { state: Source; meta: Source };
}

/** When to run a throwaway container after a restore, so v86's JIT has compiled the container path. */
export const WARM_UPS = ["before-ready", "after-ready", "off"] as const;
export type WarmUp = (typeof WARM_UPS)[number];

export interface StartRequest {
  type: "start";
  files: GuestSources;
  /** The embedded busybox image: an OCI image layout served over HTTP. */
  busybox: string;
  /** IndexedDB database for images and the saved guest state; null: memory only. */
  database: string | null;
  warmUp: WarmUp;
  config?: MachineConfig;
  /** A container to keep started ahead of the `run` that asks for it (standby.ts). */
  standby?: RunRequest;
}

/** `Runtime.run`'s options as they cross to the Worker (checked on the page). */
export interface RunRequest {
  image: string;
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string> | string[];
  workdir?: string;
  user?: string;
  hostname?: string;
  readOnly?: boolean;
  tty?: boolean | { cols: number; rows: number };
  /** Whether the container reads stdin (sent with `stdin` messages); else it gets /dev/null. */
  stdin: boolean;
}

/** A process in a running container (the agent's `exec`); defaults come from the container's process. */
export interface ExecRequest {
  cmd: string[];
  env?: Record<string, string> | string[];
  cwd?: string;
  /** `uid[:gid]` or `name[:group]` of the image's /etc/passwd; default the container's user. */
  user?: string;
  tty?: boolean | { cols: number; rows: number };
  /** docker exec's `--privileged`: every capability (within the container's user namespace). */
  privileged?: boolean;
  stdin: boolean;
}

/** The Worker's answers to `call`s, by method: [arguments, result]. */
export interface Calls {
  images: [[], BrowserImageSummary[]];
  /** An archive (`docker save`, OCI) as bytes; `repository` names images the archive names only by tag. */
  load: [[Blob | ArrayBuffer, { repository?: string }], string[]];
  /** An OCI image layout served over HTTP (index.json, blobs/sha256/…), stored under `name`. */
  loadLayout: [[string, string], string];
  pull: [[string], { name: string; digest: string }];
  removeImage: [[string], void];
  inspectImage: [[string], Record<string, unknown>];
  /** A running container's (or exec's) resource usage, by its page id. */
  stats: [[number], GuestStats];
  /** Freezes (`true`) or thaws a running container's processes: the guest's cgroup freezer. */
  freeze: [[number, boolean], void];
  /** Deletes the stored images and saved guest state. */
  clearStorage: [[], void];
}
export type CallName = keyof Calls;

export interface BrowserImageSummary {
  name: string;
  id: string;
  digest: string;
  size: number;
  created: string | null;
  platform: string;
}

/** The agent's `stats` answer for one container: its cgroup's `ContainerStats`, the guest's memory beside it. */
export interface GuestStats extends ContainerStats {
  guest: { memTotalKiB: number | null; memAvailableKiB: number | null; containers: number };
}

export type PageMessage =
  | StartRequest
  | { type: "run"; id: number; request: RunRequest }
  /** `container` is the page's id of the running container. */
  | { type: "exec"; id: number; container: number; request: ExecRequest }
  | { type: "stdin"; id: number; data: Uint8Array }
  | { type: "stdin-end"; id: number }
  | { type: "kill"; id: number; signal: number }
  | { type: "resize"; id: number; cols: number; rows: number }
  /** The page's reader took `bytes` of the process's output: the agent may send that much more. */
  | { type: "ack"; id: number; stream: "stdout" | "stderr"; bytes: number }
  /** The page's stream was cancelled: the process's pipe is closed, as a reader gone closes it natively. */
  | { type: "hang-up"; id: number; stream: "stdout" | "stderr" }
  | { type: "call"; call: number; method: CallName; args: unknown[] };

/** The start's phases; "standby": after `ready`, the standby container runs (and `saved`: a state with it was stored). */
export type BootPhase = "loading" | "booting" | "warming" | "ready" | "standby";

export interface ProgressEvent {
  phase: BootPhase;
  /** loading: which file, and bytes so far of all files being loaded. */
  file?: string;
  loaded?: number;
  total?: number;
  /** booting, warming, ready: how the guest starts ("stored": the state this browser saved; "snapshot": the served one). */
  start?: "cold" | "stored" | "snapshot";
  /** ready: milliseconds since `start`. */
  elapsedMs?: number;
  /** ready: when each step of the start ended, in ms since `start` (where the start's time goes). */
  steps?: Record<string, number>;
  /** standby: the state saved with it replaced the stored one (the next visit takes it). */
  saved?: boolean;
}

export interface WorkerFailure {
  message: string;
  /** A TsboxError's code, exit code and class name, when it was one. */
  code?: string;
  exitCode?: number;
  name?: string;
  /** A ContainerError's reason. */
  reason?: string;
  /** An ImageError's notFound (docker's "No such image"). */
  notFound?: boolean;
}

export type WorkerMessage =
  | ({ type: "progress" } & ProgressEvent)
  | { type: "notice"; message: string }
  /** `cid`: a container's id in the guest (not given for an exec). */
  | { type: "started"; id: number; pid: number; cid?: string }
  | { type: "stdout" | "stderr"; id: number; data: Uint8Array }
  | { type: "exit"; id: number; exitCode: number; signal: string | null; oomKilled: boolean }
  | { type: "run-failed"; id: number; error: WorkerFailure }
  | { type: "start-failed"; error: WorkerFailure }
  /** The guest cannot go on (the page's Content-Security-Policy blocked the emulator's own Worker): everything fails with it. */
  | { type: "fatal"; error: WorkerFailure }
  /** A call's progress on the way to its reply (a pull's PullEvents). */
  | { type: "call-progress"; call: number; event: unknown }
  | { type: "reply"; call: number; ok: true; value: unknown }
  | { type: "reply"; call: number; ok: false; error: WorkerFailure };
