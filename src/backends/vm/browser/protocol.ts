/**
 * Messages between the page (BrowserVm) and the Worker that runs the
 * guest. Bytes travel as Uint8Array (transferred, not copied, where the
 * sender gives them up).
 */
import type { MachineConfig } from "../guest-machine.js";

/** A file the Worker fetches (a URL, resolved against the page) or is handed. */
export type Source = string | ArrayBuffer;

export interface GuestSources {
  /** v86's wasm (node_modules/v86/build/v86.wasm). */
  wasm: Source;
  /** vm-images/dist/bios.bin, bzImage, initramfs.cpio. */
  bios: Source;
  kernel: Source;
  initrd: Source;
  /**
   * A saved state (vm-images/dist/snapshot.state) with its JSON sidecar and
   * the guest image's manifest.json (its imageId is part of the check):
   * restored only when the sidecar's fingerprint, size and digest match.
   */
  snapshot?: { state: Source; meta: Source; manifest: Source };
}

/** The image whose root the containers get. */
export type ImageSource =
  /** An OCI image layout served over HTTP (its index.json, blobs/sha256/…); `ref` picks a manifest by name. */
  | { layout: string; ref?: string }
  /** Layer tarballs (gzip or plain), lowest first, with their digests when known; `config` is the image config's URL. */
  | { layers: (string | { url: string; digest: string })[]; config?: string };

export interface StartRequest {
  type: "start";
  files: GuestSources;
  image: ImageSource;
  config?: MachineConfig;
}

export interface RunRequest {
  cmd?: string[];
  /** Added to (and overriding) the image's environment. */
  env?: Record<string, string>;
  cwd?: string;
  hostname?: string;
  /** Whether the container reads stdin (sent with `stdin` messages); else it gets /dev/null. */
  stdin?: boolean;
}

/** A process in a running container (the agent's `exec`); defaults come from the container's process. */
export interface ExecRequest {
  cmd: string[];
  /** Added to (and overriding) the container's environment. */
  env?: Record<string, string>;
  /** Absolute; default the container's working directory. */
  cwd?: string;
  /** Numeric `uid[:gid]`; default the container's user. */
  user?: string;
  /** Whether it reads stdin (sent with `stdin` messages); else it gets /dev/null. */
  stdin?: boolean;
}

export type PageMessage =
  | StartRequest
  | { type: "run"; id: number; request: RunRequest }
  /** `container` is the page's id of the running container. */
  | { type: "exec"; id: number; container: number; request: ExecRequest }
  | { type: "stdin"; id: number; data: Uint8Array }
  | { type: "stdin-end"; id: number }
  | { type: "kill"; id: number; signal: number };

export type BootPhase = "loading" | "booting" | "ready";

export interface ProgressEvent {
  phase: BootPhase;
  /** loading: which file, and bytes so far of all files being loaded. */
  file?: string;
  loaded?: number;
  total?: number;
  /** ready: how the guest started, and milliseconds since `start`. */
  start?: "cold" | "restore";
  elapsedMs?: number;
}

export interface WorkerFailure {
  message: string;
  /** A TsboxError's code and exit code, when it was one. */
  code?: string;
  exitCode?: number;
}

export type WorkerMessage =
  | ({ type: "progress" } & ProgressEvent)
  | { type: "notice"; message: string }
  /** `cid`: a container's id in the guest (not given for an exec). */
  | { type: "started"; id: number; pid: number; cid?: string }
  | { type: "stdout" | "stderr"; id: number; data: Uint8Array }
  | { type: "exit"; id: number; exitCode: number; signal: string | null }
  | { type: "run-failed"; id: number; error: WorkerFailure }
  | { type: "start-failed"; error: WorkerFailure };
