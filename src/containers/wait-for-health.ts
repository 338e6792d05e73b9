/**
 * `Container.waitForHealthy`: testcontainers' `Wait.forHealthCheck` — resolves
 * once the container's health check (the image's HEALTHCHECK or the
 * `healthcheck` option, run by its monitor) says healthy; rejects with a clear
 * error when it turns unhealthy, the container stops, or the time runs out.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ContainerError, UsageError } from "../errors.js";
import { type HealthState, readHealth } from "./healthcheck.js";

export interface WaitForHealthyOptions {
  /** Default 60 000. */
  timeoutMs?: number;
}

/** How often health.json is looked at: the monitor rewrites it after each check. */
const POLL_MS = 100;

export interface HealthWatch {
  bundleDir: string;
  /** The container as users name it, for errors. */
  name: string;
  /** Why the container cannot be healthy any more ("exited (code 1)"), or undefined while it runs. */
  stopped: () => Promise<string | undefined>;
}

/** Whether this container's monitor runs a health check (written at creation, native backend). */
export function hasHealthcheck(bundleDir: string): boolean {
  return existsSync(join(bundleDir, "healthcheck.json"));
}

export async function waitForHealthStatus(watch: HealthWatch, options: WaitForHealthyOptions): Promise<HealthState> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  if (!(timeoutMs >= 0)) throw new UsageError(`waitForHealthy: timeoutMs must be a number of milliseconds, got ${String(options.timeoutMs)}`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Whether it stopped first: the health.json of a container whose monitor died unseen still says what the
    // last check found (a stopped container is "unhealthy", docker's rule): said as its end.
    const stopped = await watch.stopped();
    const health = readHealth(watch.bundleDir);
    if (stopped !== undefined) {
      throw new ContainerError(`container ${watch.name} ${stopped}${health?.Status === "healthy" ? ": a stopped container is unhealthy" : ` before its health check passed${lastOutput(health)}`}`, "not_running");
    }
    if (health?.Status === "healthy") return health;
    if (health?.Status === "unhealthy") {
      // No failed check: its process ended before one passed (a restart policy may be starting it again).
      const why = health.FailingStreak > 0 ? ` after ${health.FailingStreak} failed checks` : ": its process ended before a check passed";
      throw new ContainerError(`container ${watch.name} is unhealthy${why}${lastOutput(health)}`, "unhealthy");
    }
    if (Date.now() >= deadline) throw new ContainerError(`container ${watch.name} was not healthy within ${timeoutMs / 1000} s (health: ${health?.Status ?? "no check has run yet"})${lastOutput(health)}`, "timeout");
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_MS, Math.max(0, deadline - Date.now()))));
  }
}

/** The last check's output, which says why it failed. */
function lastOutput(health: HealthState | undefined): string {
  const last = health?.Log.at(-1);
  if (!last) return "";
  const output = last.Output.trim();
  return `; last check exited ${last.ExitCode}${output ? `: ${output.length > 500 ? `${output.slice(0, 500)}…` : output}` : ""}`;
}
