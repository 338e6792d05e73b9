/**
 * `ps -ef`'s table of processes a backend read from its kernel's /proc
 * (`Backend.processes`: the vm guest's), for `top` where the host's `ps`
 * cannot see them: UID PID PPID C STIME TTY TIME CMD, aligned as ps does.
 */
import type { KernelProcesses } from "../../backends/backend.js";

const TICKS = 100;

/** `names`: user names by uid as the container sees it; `containerUid`: the kernel's uid in the container's terms. */
export function processTable(kp: KernelProcesses, names: ReadonlyMap<number, string>, containerUid: (uid: number) => number, nowMs: number): string[] {
  const rows = kp.processes.map((p) => {
    const uid = containerUid(p.uid);
    const elapsed = Math.max(1, kp.uptimeTicks - p.startTicks);
    const started = new Date(nowMs - (elapsed / TICKS) * 1000);
    return [names.get(uid) ?? String(uid), String(p.pid), String(p.ppid), String(Math.min(99, Math.floor((p.cpuTicks * 100) / elapsed))), startTime(started, nowMs), ttyName(p.tty), cpuTime(p.cpuTicks), p.cmd];
  });
  const header = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"];
  // Numbers right-aligned, words left, as ps -ef.
  const right = new Set([1, 2, 3, 6]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : right.has(i) ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join(" "));
}

/** ps's STIME: the time of day for a process of the last 24 hours, else month and day. */
function startTime(started: Date, nowMs: number): string {
  const two = (n: number) => String(n).padStart(2, "0");
  if (nowMs - started.getTime() < 24 * 3600 * 1000) return `${two(started.getHours())}:${two(started.getMinutes())}`;
  return `${started.toLocaleString("en", { month: "short" })}${two(started.getDate())}`;
}

/** /proc's tty_nr as ps names it: pts/N, ttyN, console, or ? for none. */
export function ttyName(ttyNr: number): string {
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (ttyNr === 0) return "?";
  if (major >= 136 && major <= 143) return `pts/${(major - 136) * 256 + minor}`;
  if (major === 4 && minor < 64) return `tty${minor}`;
  if (major === 5 && minor === 1) return "console";
  return `${major}:${minor}`;
}

/** ps's TIME: cumulative CPU time, [DD-]HH:MM:SS. */
export function cpuTime(ticks: number): string {
  const s = Math.floor(ticks / TICKS);
  const two = (n: number) => String(n).padStart(2, "0");
  const days = Math.floor(s / 86400);
  const hms = `${two(Math.floor(s / 3600) % 24)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
  return days > 0 ? `${days}-${hms}` : hms;
}
