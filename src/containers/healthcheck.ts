/**
 * docker's health checks: the image's HEALTHCHECK merged with the run's
 * `--health-*` flags (docker's Config.Healthcheck, durations in ns), the
 * files the container's monitor runs them from, and what it reports.
 *
 * Files in the bundle (contract: test/fixtures/contract/healthcheck.json,
 * read by `cargo test` too; native-rs/runtime/src/monitor/health.rs):
 * - `healthcheck.json`: `{ interval, timeout, startPeriod, startInterval,
 *   retries }` in ns (retries a count), written at create;
 * - `healthcheck-process.json`: the probe's OCI process (the container's
 *   own, with the test's command), run as `tsbox-runtime exec`;
 * - `health.json`: `{ Status, FailingStreak, Log }` as docker's
 *   State.Health, rewritten by the monitor (by rename) after each probe.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import type { ProcessSpec } from "../spec/container-spec.js";
import { execProcessSpec } from "../spec/exec-process.js";

/** docker's HealthConfig (Config.Healthcheck): durations in nanoseconds, 0 = the default. */
export interface HealthConfig {
  Test: string[];
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  StartInterval?: number;
  Retries?: number;
}

/** The library's form of `--health-*`: durations in milliseconds. */
export interface HealthcheckOptions {
  /** docker's Test: `["CMD", arg, …]`, `["CMD-SHELL", "command"]` or `["NONE"]`; a string is a CMD-SHELL command. */
  test?: string[] | string;
  interval?: number;
  timeout?: number;
  startPeriod?: number;
  startInterval?: number;
  retries?: number;
}

/** docker's State.Health. */
export interface HealthState {
  Status: "starting" | "healthy" | "unhealthy";
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

const SECOND = 1_000_000_000;
/** docker's defaults, applied where the config says 0. */
export const HEALTH_DEFAULTS = { interval: 30 * SECOND, timeout: 30 * SECOND, startPeriod: 0, startInterval: 5 * SECOND, retries: 3 };

/** A Go duration (`30s`, `1m30s`, `500ms`, `1.5h`) in nanoseconds. */
export function parseDuration(text: string, what: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  // µ escaped: esbuild leaves a regular expression's characters as they are, and one non-ASCII character makes
  // Node read the whole CLI bundle as a two-byte string (scripts/bundle-cli.mjs checks).
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|\u00b5s|ms|s|m|h)/g)];
  if (text === "0") return 0;
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) throw new UsageError(`invalid duration "${text}" for ${what}: e.g. 30s, 1m30s, 500ms`);
  return Math.round(parts.reduce((ns, p) => ns + Number(p[1]) * units[p[2]!]!, 0));
}

/**
 * The container's health check: the image's, with the run's options over
 * it field by field (docker's merge); undefined when there is none or it
 * is turned off (`NONE`, `--no-healthcheck`).
 */
export function effectiveHealthcheck(image: unknown, options: HealthcheckOptions | false | undefined): HealthConfig | undefined {
  if (options === false) return undefined;
  const base = isHealthConfig(image) ? image : undefined;
  const test = options?.test === undefined ? base?.Test : typeof options.test === "string" ? ["CMD-SHELL", options.test] : options.test;
  if (!test || test.length === 0 || test[0] === "NONE") return undefined;
  if (!Array.isArray(test) || test.some((t) => typeof t !== "string") || !["CMD", "CMD-SHELL"].includes(test[0]!) || test.length < 2) {
    throw new UsageError(`invalid health check test ${JSON.stringify(test)}: expected ["CMD", …], ["CMD-SHELL", "command"] or ["NONE"]`);
  }
  const ns = (ms: number | undefined, name: string, fallback: number | undefined) => {
    if (ms === undefined) return fallback;
    if (!Number.isFinite(ms) || ms < 0) throw new UsageError(`invalid health check ${name}: ${ms}`);
    if (ms > 0 && ms < 1) throw new UsageError(`health check ${name} must be at least 1ms`);
    return Math.round(ms * 1e6);
  };
  const config: HealthConfig = { Test: [...test] };
  const set = (key: "Interval" | "Timeout" | "StartPeriod" | "StartInterval", value: number | undefined) => value !== undefined && value !== 0 && (config[key] = value);
  set("Interval", ns(options?.interval, "interval", base?.Interval));
  set("Timeout", ns(options?.timeout, "timeout", base?.Timeout));
  set("StartPeriod", ns(options?.startPeriod, "start period", base?.StartPeriod));
  set("StartInterval", ns(options?.startInterval, "start interval", base?.StartInterval));
  const retries = options?.retries ?? base?.Retries;
  if (retries !== undefined) {
    if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`invalid health check retries: ${retries}`);
    if (retries > 0) config.Retries = retries;
  }
  return config;
}

function isHealthConfig(v: unknown): v is HealthConfig {
  return typeof v === "object" && v !== null && Array.isArray((v as HealthConfig).Test);
}

/** The probe's command: CMD as written, CMD-SHELL through /bin/sh -c (docker's). */
export function probeCommand(test: string[]): string[] {
  return test[0] === "CMD-SHELL" ? ["/bin/sh", "-c", test.slice(1).join(" ")] : test.slice(1);
}

/** Writes what the monitor needs to run the checks (see the file's comment). */
export function writeHealthcheck(bundleDir: string, config: HealthConfig, containerProcess: ProcessSpec): void {
  const process = execProcessSpec({ ...containerProcess, terminal: false }, probeCommand(config.Test), {});
  writeFileSync(join(bundleDir, "healthcheck-process.json"), JSON.stringify(process));
  writeFileSync(join(bundleDir, "healthcheck.json"), JSON.stringify(healthTiming(config)));
}

/** `healthcheck.json`: the config's timing with docker's defaults for what it leaves 0. */
export function healthTiming(config: HealthConfig): { interval: number; timeout: number; startPeriod: number; startInterval: number; retries: number } {
  return {
    interval: config.Interval || HEALTH_DEFAULTS.interval,
    timeout: config.Timeout || HEALTH_DEFAULTS.timeout,
    startPeriod: config.StartPeriod || HEALTH_DEFAULTS.startPeriod,
    startInterval: config.StartInterval || HEALTH_DEFAULTS.startInterval,
    retries: config.Retries || HEALTH_DEFAULTS.retries,
  };
}

/**
 * The container's health now: what its monitor last reported while it runs (or is paused), and
 * "unhealthy" once it does not — docker's rule, which the monitor writes when a run ends, but a
 * monitor that died unseen (a reboot, the OOM killer, `kill -9`) could not.
 */
export function healthNow(bundleDir: string, running: boolean): HealthState | undefined {
  const health = readHealth(bundleDir);
  return health && !running && health.Status !== "unhealthy" ? { ...health, Status: "unhealthy" } : health;
}

/** What the monitor last reported, if it ran a check (or set "starting"). */
export function readHealth(bundleDir: string): HealthState | undefined {
  try {
    const v = JSON.parse(readFileSync(join(bundleDir, "health.json"), "utf8")) as HealthState;
    return typeof v?.Status === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}
