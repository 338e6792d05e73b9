/**
 * Running one container in a guest, for Node callers: the spec translated
 * to guest paths and its 9p exports registered (guest-spec.ts, shared with
 * the browser Worker), `create` + `start` through the agent, stdio channels
 * as Node streams, `wait` + `delete` (the last two shared with exec'd
 * processes, src/backends/vm/node/exec.ts). A container that outlives its
 * run keeps its writable layer in its bundle between runs.
 */
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { abortError } from "../../../abortable.js";
import { LogWriter } from "../../../containers/log-writer.js";
import { peerNamespacePaths } from "../../../containers/peer.js";
import { readState } from "../../../containers/state.js";
import { TsboxError } from "../../../errors.js";
import { isErrno } from "../../../fs-util.js";
import { bundlePaths } from "../../../paths.js";
import { signalNumber } from "../../../signals.js";
import { ignoreClosedPipe, relayToOwn } from "../../../stream-write.js";
import type { ContainerProcess, ExitStatus, StartOptions } from "../../backend.js";
import type { AgentLink, InputChannel, OutputChannel } from "./agent-link.js";
import { bindPorts, type Published, recordAttachments, removeAttachments } from "./published-ports.js";
import { acquireExports, createAndStart, deleteInGuest, type ExportNaming, type ExportTable, type GuestChannels, inHostTerms, toGuestSpec, waitForExit } from "../core/guest-spec.js";
import { checkBindSource, vmPlanters } from "./bind-source.js";

export type { ExportTable };

export interface RunContext {
  link: AgentLink;
  p9: ExportTable;
  /** Called once the container is gone from the guest (exports released). */
  done: () => void;
  /** Export reference counts, shared by every container of the guest. */
  exportRefs: Map<string, number>;
}

/** Export names on the host, and its bind sources checked as the native set-up checks them. */
export const hostNaming: ExportNaming = {
  // Layers are content-addressed and immutable: one export per layer, shared.
  layerExportName: (dir) => `l-${createHash("sha256").update(dir).digest("hex").slice(0, 24)}`,
  checkSource: (path) => checkBindSource(path, vmPlanters()),
};

/** Creates and starts the container; resolves once its command runs. */
export async function startInGuest(ctx: RunContext, options: StartOptions, cid: string): Promise<ContainerProcess> {
  const keptLayerDir = keptLayer(options.bundleDir);
  const guest = toGuestSpec(peerNamespacePaths(options.spec, options.bundleDir), cid, hostNaming, keptLayerDir);
  const { spec: guestSpec, exports, layer } = guest;
  const releaseExports = await acquireExports(ctx.p9, ctx.exportRefs, exports);
  const release = () => {
    releaseExports();
    ctx.done();
  };

  // Published ports: bound on this host before the container starts (a taken one fails it), closed with it.
  let published: Published | undefined;
  try {
    // Ports recorded with no network (all disconnected) are published by none until one is connected.
    published = options.spec.network?.ports.length && options.spec.network.attach.length ? await bindPorts(options.spec.network.ports) : undefined;
  } catch (err) {
    release();
    throw err;
  }
  const releaseAll = () => {
    published?.close();
    removeAttachments(options.bundleDir);
    release();
  };
  // The last moment a run's abort makes nothing: the exports and ports above may have waited on a busy daemon.
  if (options.signal?.aborted) {
    releaseAll();
    throw abortError(options.signal);
  }
  // The networks whose records the guest's answer may hold (recordAttachments).
  const asked = options.spec.network?.attach.map((a) => a.name) ?? [];
  const terminal = options.spec.process.terminal;
  const io = openGuestStdio(ctx.link, options, terminal);
  let pid: number;
  try {
    pid = await createAndStart(
      ctx.link,
      cid,
      guestSpec,
      io.channels,
      { onWarning: options.onWarning, beforeStart: () => options.signal?.throwIfAborted(), started: (reply) => recordAttachments(options.bundleDir, reply.networks, asked, published?.ports ?? []) },
      layer !== undefined ? { layer } : {},
    );
  } catch (err) {
    closeGuestStdio(io);
    await deleteInGuest(ctx.link, cid);
    releaseAll();
    throw inHostTerms(err, guest);
  }
  published?.serve(ctx.link, cid);
  // The agent saves a kept layer before it answers the delete: as long as writing it to the host takes.
  const deleteTimeoutMs = layer !== undefined ? 600_000 : undefined;
  const log = options.log ? new LogWriter(options.bundleDir, options.log.maxSize, options.log.maxFiles) : undefined;
  return guestProcess(ctx.link, { handle: cid, pid, io, targets: options, terminal, release: releaseAll, deleteTimeoutMs, ...(log ? { log } : {}) });
}

/**
 * The host directory a container's guest layer is kept in between its runs
 * (made here), or undefined for one that goes with its run (`--rm`) or has
 * no record of its own.
 */
export function keptLayer(bundleDir: string): string | undefined {
  const paths = bundlePaths(bundleDir);
  const state = readState(paths);
  if (!state || state.remove) return undefined;
  try {
    // Not recursive: a bundle removed meanwhile must not come back as this dir alone.
    mkdirSync(paths.guestLayer, { mode: 0o700 });
  } catch (err) {
    if (!isErrno(err, "EEXIST")) throw err;
  }
  return paths.guestLayer;
}

/** Where a guest process's stdio goes (as StartOptions has it). */
export type StdioTargets = Pick<StartOptions, "stdin" | "stdout" | "stderr">;

/** A process's stdio channels on the link: none for "ignore", no stderr with a terminal. */
export interface GuestStdio {
  stdin: InputChannel | undefined;
  stdout: OutputChannel | undefined;
  stderr: OutputChannel | undefined;
  /** Their numbers, for the agent's `create` or `exec`. */
  channels: GuestChannels;
}

export function openGuestStdio(link: AgentLink, targets: StdioTargets, terminal: boolean): GuestStdio {
  const stdin = targets.stdin === "ignore" ? undefined : link.openInput();
  const stdout = targets.stdout === "ignore" ? undefined : link.openOutput();
  const stderr = terminal || targets.stderr === "ignore" ? undefined : link.openOutput();
  return { stdin, stdout, stderr, channels: { stdin: stdin?.channel ?? null, stdout: stdout?.channel ?? null, stderr: stderr?.channel ?? null } };
}

/** The process never started: its streams end. */
export function closeGuestStdio(io: GuestStdio): void {
  io.stdin?.fail(new TsboxError("the process did not start", { code: "runtime" }));
  io.stdout?.onEof();
  io.stderr?.onEof();
}

export interface GuestProcessInit {
  /** What the agent calls it: a container's cid, an exec'd process's eid. */
  handle: string;
  pid: number;
  io: GuestStdio;
  targets: StdioTargets;
  terminal: boolean;
  /** Once the process is gone from the guest (waited for and deleted). */
  release: () => void;
  /** How long its `delete` may take (deleteInGuest's default otherwise). */
  deleteTimeoutMs?: number | undefined;
  /** Its `wait`, already sent (an exec's goes right behind the `exec` request). */
  exit?: Promise<ExitStatus>;
  /**
   * Report the exit as soon as it is known, with the `delete` sent but not yet
   * answered (an exec's handle: the agent answers in order, so any later
   * request finds it gone); `release` still waits for the answer.
   */
  exitBeforeDelete?: boolean;
  /** Where "inherit" output is kept as well (StartOptions.log); closed once the output ended. */
  log?: LogWriter;
}

/** A started guest process as a ContainerProcess: `wait`, then `delete` of its handle, then `release`. */
export function guestProcess(link: AgentLink, init: GuestProcessInit): ContainerProcess {
  const { handle, io, targets } = init;
  let exitStatus: ExitStatus | undefined;
  // "inherit": our own stdio, as the native backend hands over its fds. A reader gone (`run … | head`) destroys
  // the channel, which hangs it up: the process meets the closed pipe it would have met on the fd itself.
  if (targets.stdout === "inherit" && io.stdout) relayToOwn(io.stdout.readable, process.stdout);
  if (targets.stderr === "inherit" && io.stderr) relayToOwn(io.stderr.readable, process.stderr);
  const log = init.log;
  if (log) {
    if (targets.stdout === "inherit") io.stdout?.readable.on("data", (d: Buffer) => log.write("stdout", d));
    if (targets.stderr === "inherit") io.stderr?.readable.on("data", (d: Buffer) => log.write("stderr", d));
  }
  if (targets.stdin === "inherit" && io.stdin) {
    process.stdin.pipe(io.stdin.writable);
    ignoreClosedPipe(io.stdin.writable);
  }
  const outputDone = (r: Readable | undefined) =>
    r ? new Promise<void>((resolve) => (r.readableEnded || r.destroyed ? resolve() : (r.once("end", resolve), r.once("close", resolve)))) : Promise.resolve();

  const exited: Promise<ExitStatus> = (async () => {
    try {
      exitStatus = await (init.exit ?? waitForExit(link, handle));
      // Inherited output reaches our stdout before the exit is reported.
      if (targets.stdout === "inherit") await outputDone(io.stdout?.readable);
      if (targets.stderr === "inherit") await outputDone(io.stderr?.readable);
      log?.flush("stdout");
      log?.flush("stderr");
      return exitStatus;
    } finally {
      log?.close();
      if (targets.stdin === "inherit" && io.stdin) {
        process.stdin.unpipe(io.stdin.writable);
        process.stdin.pause();
      }
      io.stdin?.writable.destroy();
      const deleted = deleteInGuest(link, handle, init.deleteTimeoutMs).then(() => init.release());
      if (!init.exitBeforeDelete) await deleted;
    }
  })();
  exited.catch(() => {});

  return {
    pid: init.pid,
    monitorPid: process.pid,
    stdin: targets.stdin === "pipe" && io.stdin ? (io.stdin.writable as Writable) : null,
    stdout: targets.stdout === "pipe" && io.stdout ? io.stdout.readable : null,
    stderr: targets.stderr === "pipe" && io.stderr ? io.stderr.readable : null,
    exited,
    kill(signal) {
      if (exitStatus || link.closed) return false;
      const num = signalNumber(signal);
      if (num === undefined) return false;
      link.request("signal", { cid: handle, signal: num }, 30_000).catch(() => {});
      return true;
    },
    resize(cols, rows) {
      if (init.terminal && !exitStatus) link.request("resize", { cid: handle, cols, rows }, 30_000).catch(() => {});
    },
  };
}
