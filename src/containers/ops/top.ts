import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { ContainerError, notRunning, TsboxError, UsageError } from "../../errors.js";
import { parsePasswd, readImageFile } from "../../spec/user.js";
import { readSpec } from "../spec-file.js";
import { processTable } from "./process-table.js";
import { readCgroupPids } from "../../backends/native/cgroup-stats.js";
import type { LifecycleContext } from "../context.js";
import { shown } from "../context.js";
import { processParent, processStartTime } from "../state.js";
import { currentState } from "./current.js";

export interface TopResult {
  /** The header line of `ps`, split into titles. */
  titles: string[];
  /** The lines of `ps` for the container's processes. */
  lines: string[];
}

/**
 * `top [ps OPTIONS]`, as docker does it: the host's `ps` (default `-ef`),
 * keeping the lines whose PID is one of the container's processes: those of
 * its cgroup (docker's), else (rootless without a delegated cgroup) found
 * without namespace files, which a rootless user may not read for processes
 * of subordinate ids: the init and its descendants, and whatever
 * `tsbox-runtime exec` helpers of this container started.
 */
export async function topContainer(ctx: LifecycleContext, id: string, psArgs: string[]): Promise<TopResult> {
  const state = currentState(ctx, id);
  if (state.status !== "running" && state.status !== "paused") throw notRunning(shown(state));
  if (ctx.backend.name !== "native") return kernelTop(ctx, id, psArgs);
  if (state.pid === null) throw notRunning(shown(state));
  const pids = new Set(readCgroupPids(ctx.paths.container(id).dir) ?? containerPids(state.pid));
  const ps = (args: string[]) =>
    new Promise<string>((resolve, reject) => {
      execFile("ps", args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new TsboxError(`ps ${psArgs.join(" ")} failed: ${(stderr || err.message).trim()}`, { code: "container" }));
        else resolve(stdout);
      });
    });
  const args = psArgs.length > 0 ? psArgs : ["-ef"];
  // As moby: the container's pids selected with -q, so options that list only this terminal's processes
  // (`-o pid,user,args` without -e printed just the header) still show them; options -q conflicts with, as they are.
  const out = await ps([...args, "-q", [...pids].join(",")]).catch(() => ps(args));
  const [header = "", ...rows] = out.split("\n").filter((l) => l !== "");
  const titles = header.trim().split(/\s+/);
  const column = titles.indexOf("PID");
  if (column < 0) throw new TsboxError(`ps ${psArgs.join(" ")} printed no PID column`, { code: "usage" });
  return { titles, lines: [header, ...rows.filter((r) => pids.has(Number(r.trim().split(/\s+/)[column])))] };
}

/**
 * A container whose processes the host's `ps` cannot see (the vm guest's):
 * the backend reads them from its kernel, shown in `ps -ef`'s columns with
 * the users the image's /etc/passwd names.
 */
async function kernelTop(ctx: LifecycleContext, id: string, psArgs: string[]): Promise<TopResult> {
  if (!ctx.backend.processes) throw new ContainerError(`top is not supported for ${ctx.backend.name} containers`);
  if (psArgs.length > 0 && psArgs.join(" ") !== "-ef") throw new UsageError(`top of a ${ctx.backend.name} container takes no ps options: it shows ps -ef's columns`);
  const bundle = ctx.paths.container(id);
  const kp = await ctx.backend.processes(bundle.dir);
  const spec = readSpec(bundle.config);
  const passwd = await readImageFile(spec.root.overlay?.lower ?? [spec.root.path], "etc/passwd").catch(() => undefined);
  const names = new Map((passwd ? parsePasswd(passwd) : []).map((e) => [e.uid, e.name] as const));
  const maps = spec.linux.uidMappings;
  const containerUid = (uid: number) => {
    const m = maps.find((m) => uid >= m.hostID && uid < m.hostID + m.size);
    return m ? m.containerID + (uid - m.hostID) : uid;
  };
  const lines = processTable(kp, names, containerUid, Date.now());
  return { titles: lines[0]!.trim().split(/\s+/), lines };
}

/** Host pids of the processes in the container whose init is `init`. */
export function containerPids(init: number): number[] {
  const children = new Map<number, number[]>();
  const helpers: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const parent = processParent(pid);
    if (parent === null) continue;
    children.set(parent, [...(children.get(parent) ?? []), pid]);
    if (isExecHelperOf(pid, init)) helpers.push(pid);
  }
  const found: number[] = [];
  const queue = processStartTime(init) === null ? [] : [init];
  // An exec helper stays outside; what it started is inside.
  for (const h of helpers) queue.push(...(children.get(h) ?? []));
  while (queue.length > 0) {
    const pid = queue.shift()!;
    found.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return found;
}

/**
 * A command line is the process's own memory: a container's process can rewrite its own to read as a helper's
 * (then its children were counted as another container's). A helper runs in our PID namespace, a container's
 * processes deeper: how deep, /proc/PID/status tells anyone (the namespace link needs ptrace access, which a
 * non-dumpable helper refuses its own user).
 */
function isExecHelperOf(pid: number, init: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const at = argv.indexOf("--pid");
    if (!(argv[0]!.endsWith("tsbox-runtime") && argv[1] === "exec" && at > 0 && argv[at + 1] === String(init))) return false;
    return pidNamespaceDepth(String(pid)) === pidNamespaceDepth("self");
  } catch {
    return false;
  }
}

/** How many PID namespaces the process is in, from /proc's own down (its NSpid). */
function pidNamespaceDepth(pid: string): number {
  return (/^NSpid:(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "").trim().split(/\s+/).length;
}
