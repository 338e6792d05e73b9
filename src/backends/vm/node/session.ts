/**
 * Getting a running guest: restore a saved state when a valid one exists
 * (vm-images/dist's, then the user's cache), otherwise boot from scratch and
 * save the state for next time. A stale, corrupt or mismatched state is never
 * handed to v86 (it would crash): it is reported and a cold boot follows.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { basename, dirname, join } from "node:path";
import { errorMessage, TsboxError } from "../../../errors.js";
import { viaSocketAddress } from "../../../fs-util.js";
import { thisNodeRunner } from "../../../node-runner.js";
import { packageRoot } from "../../../package-root.js";
import { processStartTime } from "../../../containers/state.js";
import { AgentLink } from "./agent-link.js";
import type { ExportTable } from "./container-run.js";
import { loadVmImages, type VmImages } from "./images.js";
import { DEFAULT_CONFIG, Machine, type MachineConfig, machineFingerprint } from "./machine.js";
import { loadSnapshot, packagedSnapshotPath, removeOtherSnapshots, removeSnapshot, userSnapshotPath, userVmCacheDir, writeSnapshot } from "./snapshot.js";
import { wholeSeconds } from "../../../whole-seconds.js";
import { hostLoopbackAllowed } from "../../../network/host-loopback.js";

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  images?: VmImages;
  config?: MachineConfig;
  /** "auto": restore or boot+save; "cold": always boot, save nothing; "cold-save": boot and save. */
  snapshot?: "auto" | "cold" | "cold-save";
  /** Where the state is saved after a cold boot (default: the user's cache). */
  savePath?: string;
  /** One-line notices (an unusable snapshot); default stderr. */
  notice?: (message: string) => void;
}

export interface LocalMachine {
  machine: Machine;
  /** How it started: "restore" from which path, or "cold". */
  start: { kind: "restore"; path: string } | { kind: "cold"; reason: string };
  exports?: undefined;
}

/** A guest run by `tsbox vm start` (src/backends/vm/node/daemon.ts), reached over its socket. */
export interface RemoteMachine {
  machine: { link: AgentLink; destroy(): Promise<void> };
  start: { kind: "daemon"; socket: string };
  exports: ExportTable;
}

export type OpenedMachine = LocalMachine | RemoteMachine;

/** Where `tsbox vm start` keeps its socket and status: beside the user's snapshot. */
export function daemonPaths(env: NodeJS.ProcessEnv = process.env): { dir: string; socket: string; status: string } {
  const dir = userVmCacheDir(env);
  return { dir, socket: join(dir, "vm.sock"), status: join(dir, "vm.json") };
}

export interface DaemonStatus {
  pid: number;
  socket: string;
  started: string;
  start: string;
  bootMs: number;
  /** Started on demand: it stops after this many seconds with no container and no client. */
  idleSeconds?: number;
  /** Its guest's containers reach this host's loopback at 10.0.2.2 (`$TSBOX_HOST_LOOPBACK` at its start; absent: an older daemon's, which did). */
  hostLoopback?: boolean;
}

/** The daemon's answer to work that comes as its idle stop has begun (VmBackend.launch tries again). */
export const DAEMON_STOPPING = "the vm is stopping: run the command again";
/** A daemon connection closed by the daemon (its stop) before the answer came. */
export const DAEMON_CLOSED = "the vm daemon closed the connection";

/**
 * The running daemon's status (`vm.json`), if its process lives: not a zombie (`kill(pid, 0)` succeeds on one),
 * which a SIGKILLed daemon is until reaped: the next command took it for running, and ran a guest of its own.
 */
export function daemonStatus(env: NodeJS.ProcessEnv = process.env): DaemonStatus | undefined {
  try {
    const s = JSON.parse(readFileSync(daemonPaths(env).status, "utf8")) as DaemonStatus;
    return processStartTime(s.pid) === null ? undefined : s;
  } catch {
    return undefined;
  }
}

/**
 * Refuses to hand work to a running daemon whose guest reaches this host's loopback otherwise than `env` asks: its
 * containers would get the loopback they were not allowed, or miss the one they were.
 */
export function checkDaemonLoopback(env: NodeJS.ProcessEnv): void {
  const status = daemonStatus(env);
  if (!status) return;
  const running = status.hostLoopback ?? true;
  if (running === hostLoopbackAllowed(env)) return;
  throw new TsboxError(
    `the vm daemon (pid ${status.pid}) runs with this host's loopback ${running ? "open to" : "closed to"} its containers, and this command asks for it ${running ? "closed" : "open"} ($TSBOX_HOST_LOOPBACK): stop it with tsbox vm stop (its containers stop with it), or use the same setting`,
    { code: "setup" },
  );
}

/**
 * How long a guest started on demand (by a run, not by `tsbox vm start`)
 * stays with no container and no client: `$TSBOX_VM_IDLE` seconds, so the
 * next command finds it running, as Docker Desktop's VM stays. 0: no shared
 * guest on demand; each process runs a guest of its own (unreachable from
 * other processes' exec, logs, stop) that ends with it.
 */
export const DEFAULT_VM_IDLE_SECONDS = 300;

export function vmIdleSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.TSBOX_VM_IDLE;
  return wholeSeconds(text, `TSBOX_VM_IDLE=${text}`, DEFAULT_VM_IDLE_SECONDS, "a guest of each process's own");
}

/**
 * Starts `tsbox vm serve` detached (log: vm.log beside the socket) unless one
 * runs, and resolves once it serves: `tsbox vm start` (no `idleSeconds`: it
 * stays until `vm stop`), and runs that start it on demand. Under the vm
 * dir's lock, so concurrent callers start one daemon, not one each (the
 * second would take the first's socket).
 */
export async function ensureDaemon(env: NodeJS.ProcessEnv = process.env, options: { idleSeconds?: number } = {}): Promise<DaemonStatus> {
  const before = daemonStatus(env);
  if (before && existsSync(before.socket)) return before;
  const paths = daemonPaths(env);
  const node = await thisNodeRunner(env);
  mkdirSync(paths.dir, { recursive: true });
  const { withDirLock } = await import("../../../containers/lock.js");
  return withDirLock(paths.dir, { missing: `no vm dir ${paths.dir}`, busy: "another tsbox process is starting the vm", waitMs: 150_000 }, async () => {
    const other = daemonStatus(env);
    if (other && existsSync(other.socket)) return other;
    // Seconds of silence otherwise (a cold boot on a first run): said on a terminal, where a person waits.
    if (process.stderr.isTTY) process.stderr.write("tsbox: starting the vm guest (a few seconds; it stays up for the next runs)\n");
    const log = openSync(join(paths.dir, "vm.log"), "a");
    const idle = options.idleSeconds === undefined ? [] : ["--idle-seconds", String(options.idleSeconds)];
    let child;
    try {
      child = spawn(node.command, [join(packageRoot(), "bin", "tsbox.js"), "vm", "serve", ...idle], { detached: true, stdio: ["ignore", log, log], env: node.env });
    } finally {
      closeSync(log); // the daemon has its own copy
    }
    child.unref();
    for (let i = 0; i < 1200; i++) {
      const s = daemonStatus(env);
      if (s && existsSync(s.socket)) return s;
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new TsboxError(`the vm did not start (see ${join(paths.dir, "vm.log")})`, { code: "runtime" });
  });
}

/** The long-lived guest of `tsbox vm start`, when one is running; else undefined. */
export async function connectDaemon(env: NodeJS.ProcessEnv = process.env): Promise<RemoteMachine | undefined> {
  const paths = daemonPaths(env);
  if (!existsSync(paths.status)) return undefined;
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(paths.status, "utf8")) as { pid: number }).pid;
  } catch {
    return undefined;
  }
  if (processStartTime(pid) === null) return undefined;
  const socket = await viaSocketAddress(paths.dir, basename(paths.socket), (address) =>
    new Promise<import("node:net").Socket | undefined>((resolve) => {
      const s = connect(address);
      s.once("connect", () => resolve(s));
      s.once("error", () => resolve(undefined));
    }),
  ).catch(() => undefined);
  if (!socket) return undefined;
  const link = new AgentLink({ send: (bytes) => socket.write(bytes) });
  socket.on("data", (d: Buffer) => link.receive(d));
  socket.on("close", () => link.close(new Error(DAEMON_CLOSED)));
  socket.on("error", () => {});
  return {
    machine: {
      link,
      destroy: async () => {
        link.close(new Error("disconnected from the vm daemon"));
        socket.end();
      },
    },
    start: { kind: "daemon", socket: paths.socket },
    exports: {
      add: async (name, exp) => void (await link.request("export", { name, ...exp }, 30_000)),
      remove: (name) => void link.request("unexport", { name }, 30_000).catch(() => {}),
    },
  };
}

/**
 * The daemon's guest to work in: connected and claimed (the daemon counts the
 * connection as a client at work, so its idle stop cannot begin while it is
 * held). A daemon whose idle stop began as we came (answering "stopping", or
 * closing the connection) is waited out, and undefined returned as when none
 * runs: the caller starts another, or a guest of its own.
 */
export async function claimDaemon(env: NodeJS.ProcessEnv = process.env): Promise<RemoteMachine | undefined> {
  const pid = daemonStatus(env)?.pid;
  const remote = await connectDaemon(env);
  if (!remote) return undefined;
  try {
    await remote.machine.link.request("claim", {}, 30_000);
    return remote;
  } catch (err) {
    await remote.machine.destroy();
    if (!isDaemonStopping(err)) throw err;
    if (pid !== undefined) await daemonGone(env, pid);
    return undefined;
  }
}

/** A request the daemon did not take because its stop had begun (nothing of it was done). */
export function isDaemonStopping(err: unknown): boolean {
  const message = errorMessage(err);
  return message === DAEMON_STOPPING || message === DAEMON_CLOSED;
}

/** Resolves once the daemon of `pid` no longer answers for the vm dir (at most 10 s: its stop ends its process). */
export async function daemonGone(env: NodeJS.ProcessEnv, pid: number): Promise<void> {
  for (let waited = 0; waited < 10_000 && daemonStatus(env)?.pid === pid; waited += 50) await new Promise((r) => setTimeout(r, 50));
}

export function defaultNotice(message: string): void {
  process.stderr.write(`tsbox: ${message}\n`);
}

export async function openMachine(options: OpenOptions = {}): Promise<LocalMachine> {
  const env = options.env ?? process.env;
  const images = options.images ?? loadVmImages(env);
  const config = options.config ?? DEFAULT_CONFIG;
  const notice = options.notice ?? defaultNotice;
  // Read where the guest starts: a `tsbox vm` daemon's containers get its setting.
  const outbound = { hostLoopback: hostLoopbackAllowed(env) };
  const fingerprint = machineFingerprint(images, config);
  const mode = options.snapshot ?? "auto";
  const userPath = options.savePath ?? userSnapshotPath(fingerprint, env);
  let reason = "no snapshot yet";

  if (mode === "auto") {
    const problems: string[] = [];
    for (const path of [packagedSnapshotPath(images.dir), userPath]) {
      const found = loadSnapshot(path, fingerprint);
      if (found.kind === "missing") continue;
      if (found.kind === "unusable") {
        problems.push(`vm snapshot ${path} is not usable: ${found.reason}`);
        if (path === userPath) removeSnapshot(path);
        continue;
      }
      try {
        const machine = await Machine.restore(images, found.saved, config, outbound);
        return { machine, start: { kind: "restore", path } };
      } catch (err) {
        problems.push(`vm snapshot ${path} did not restore (${errorMessage(err)})`);
        if (path === userPath) removeSnapshot(path);
      }
    }
    if (problems.length > 0) {
      reason = problems.join("; ");
      notice(`${reason}: booting the vm from scratch`);
    }
  } else {
    reason = "cold boot requested";
  }

  const machine = await Machine.boot(images, config, outbound);
  if (mode !== "cold") {
    try {
      writeSnapshot(userPath, fingerprint, await machine.save());
      if (!options.savePath) removeOtherSnapshots(userPath); // states of other tsbox or v86 versions
    } catch (err) {
      notice(`could not save the vm snapshot to ${userPath}: ${errorMessage(err)}`);
    }
  }
  return { machine, start: { kind: "cold", reason } };
}
