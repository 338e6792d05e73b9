/** Runs the real `tsbox` CLI (bin/tsbox.js) as a given identity. */
import { spawn } from "node:child_process";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import type { Identity } from "./identities.js";
import { cgroupParent } from "./cgroups.js";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const cliPath = fileURLToPath(new URL("../../bin/tsbox.js", import.meta.url));

export interface CliResult {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Its input: given at once, or a stream piped in as it comes. */
  stdin?: string | Buffer | Readable;
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Called once the process is spawned, e.g. to send it a signal later. */
  onSpawn?: (pid: number) => void;
  /** Run this command line instead of the CLI (the args are then ignored), as the same identity. */
  argv?: string[];
  /** Working directory (default: the identity's scratch dir). */
  cwd?: string;
  /** The whole environment, instead of the identity's (identityEnv) plus `env`. */
  bareEnv?: Record<string, string>;
  /** Run it in this network namespace (a /run/netns path; the test's own, see helpers/netns.ts). */
  netns?: string;
  /** Run it in this mount namespace (a /proc/PID/ns/mnt path: a small disk's, see helpers/full-disk.ts). */
  mountns?: string;
}

export function identityEnv(who: Identity): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: who.scratch,
    TSBOX_DATA_DIR: who.dataDir,
    LANG: "C.UTF-8",
    // Containers' cgroups under this test process's own parent (test/helpers/cgroups.ts).
    TSBOX_CGROUP_PARENT: cgroupParent,
    // Containers of the other suites get only lo: as root, a bridge would be made in the machine's own
    // network namespace. test/network.test.ts sets it and runs inside network namespaces of its own.
    TSBOX_NETWORK: process.env.TSBOX_NETWORK ?? "none",
    // A rootless network stops with its last container, so each test's leak check finds nothing; the
    // idle stay is network.test.ts's own case.
    TSBOX_ROOTLESS_NETWORK_IDLE: process.env.TSBOX_ROOTLESS_NETWORK_IDLE ?? "0",
    // Likewise each vm run's guest is its own, gone with it; the shared guest on demand is vm.test.ts's case.
    TSBOX_VM_IDLE: process.env.TSBOX_VM_IDLE ?? "0",
    // And no rootless run leaves a nest holder (its id maps' user namespace) behind: nest-holder.test.ts's case.
    TSBOX_NEST_IDLE: process.env.TSBOX_NEST_IDLE ?? "0",
    // A suite re-run against another backend (test/vm-isolation.test.ts) sets it for every tsbox it starts.
    ...(process.env.TSBOX_BACKEND ? { TSBOX_BACKEND: process.env.TSBOX_BACKEND } : {}),
    // The test lane's own temp dir (scripts/test.sh), where its leak checks look.
    ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
  };
}

export function tsbox(who: Identity, args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // `--`: Node 20 takes a later --env-file as its own option otherwise (bin/tsbox.js refuses it then).
    const argv = opts.argv ?? [process.execPath, "--", cliPath, ...args];
    // nsenter (run as root) enters the namespaces, then becomes the identity.
    const namespaces = [...(opts.netns ? [`--net=${opts.netns}`] : []), ...(opts.mountns ? [`--mount=${opts.mountns}`] : [])];
    const entered = namespaces.length > 0;
    const [cmd, ...cmdArgs] = entered ? ["nsenter", ...namespaces, "-S", String(who.uid), "-G", String(who.gid), "--", ...argv] : argv;
    const child = spawn(cmd!, cmdArgs, {
      ...(entered ? {} : { uid: who.uid, gid: who.gid }),
      cwd: opts.cwd ?? who.scratch,
      env: opts.bareEnv ?? { ...identityEnv(who), ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tsbox ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("spawn", () => opts.onSpawn?.(child.pid!));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
    // A command that exits without reading its stdin must not fail the test with EPIPE.
    child.stdin.on("error", () => {});
    if (opts.stdin instanceof Readable) opts.stdin.pipe(child.stdin);
    else child.stdin.end(opts.stdin ?? "");
  });
}

/**
 * Runs a TypeScript scenario script (`node --import tsx SCRIPT ARGS…`) as
 * `who` and parses the one JSON object it prints. `wrap` rewrites the
 * command line first (to start it inside a delegated cgroup, say).
 */
export function runJsonScript(who: Identity, script: string, args: string[] = [], wrap?: (argv: string[]) => string[]): Promise<Record<string, any>> {
  const argv = [process.execPath, "--import", "tsx", script, ...args];
  const [cmd, ...cmdArgs] = wrap ? wrap(argv) : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, cmdArgs, { uid: who.uid, gid: who.gid, cwd: repoRoot, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited ${code}: ${err}`));
      resolve(JSON.parse(out) as Record<string, any>);
    });
  });
}

/**
 * Signals a process `onSpawn` reported. A pid still 0 (not spawned yet) is an
 * error here: `process.kill(0, …)` would signal the test's whole process group.
 */
export function signalSpawned(pid: number, signal: NodeJS.Signals): void {
  if (!(pid > 0)) throw new Error(`no process to send ${signal} to (pid ${pid}): it was not spawned yet`);
  process.kill(pid, signal);
}
