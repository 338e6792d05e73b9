import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { ContainerError, TsboxError } from "../../errors.js";
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
 * keeping the lines whose PID is one of the container's processes. Those
 * are found without cgroups or namespace files (which a rootless user may
 * not read for processes of subordinate ids): the init and its descendants,
 * and whatever `tsbox-runtime exec` helpers of this container started.
 */
export async function topContainer(ctx: LifecycleContext, id: string, psArgs: string[]): Promise<TopResult> {
  const state = currentState(ctx, id);
  if (state.status !== "running" && state.status !== "paused") throw new ContainerError(`container ${shown(state)} is not running`);
  if (ctx.backend.name !== "native" || state.pid === null) throw new ContainerError(`top is not supported for ${ctx.backend.name} containers`);
  const pids = new Set(containerPids(state.pid));
  const out = await new Promise<string>((resolve, reject) => {
    execFile("ps", psArgs.length > 0 ? psArgs : ["-ef"], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new TsboxError(`ps ${psArgs.join(" ")} failed: ${(stderr || err.message).trim()}`, { code: "container" }));
      else resolve(stdout);
    });
  });
  const [header = "", ...rows] = out.split("\n").filter((l) => l !== "");
  const titles = header.trim().split(/\s+/);
  const column = titles.indexOf("PID");
  if (column < 0) throw new TsboxError(`ps ${psArgs.join(" ")} printed no PID column`, { code: "usage" });
  return { titles, lines: [header, ...rows.filter((r) => pids.has(Number(r.trim().split(/\s+/)[column])))] };
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

function isExecHelperOf(pid: number, init: number): boolean {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const at = argv.indexOf("--pid");
    return argv[0]!.endsWith("tsbox-runtime") && argv[1] === "exec" && at > 0 && argv[at + 1] === String(init);
  } catch {
    return false;
  }
}
