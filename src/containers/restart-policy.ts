import { UsageError } from "../errors.js";

/** docker's `--restart` (`.HostConfig.RestartPolicy`). */
export interface RestartPolicy {
  name: "no" | "on-failure" | "always" | "unless-stopped";
  /** on-failure only: at most this many restarts; 0 means no limit. */
  maximumRetryCount: number;
}

const USAGE = "use no, always, unless-stopped or on-failure[:max-retries]";

/**
 * `no`, `always`, `unless-stopped`, `on-failure[:N]`. The monitor parses
 * the same text (native-rs/runtime/src/monitor/restart.rs); both are tested
 * on test/fixtures/contract/restart-policy.json.
 */
export function parseRestartPolicy(text: string): RestartPolicy {
  const colon = text.indexOf(":");
  const name = colon < 0 ? text : text.slice(0, colon);
  const count = colon < 0 ? undefined : text.slice(colon + 1);
  if (name !== "no" && name !== "always" && name !== "unless-stopped" && name !== "on-failure") {
    throw new UsageError(`invalid restart policy ${JSON.stringify(text)}: ${USAGE}`);
  }
  if (count === undefined) return { name, maximumRetryCount: 0 };
  if (name !== "on-failure") throw new UsageError(`invalid restart policy ${JSON.stringify(text)}: only on-failure takes a maximum retry count`);
  if (!/^\d+$/.test(count) || Number(count) > 0xffffffff) {
    throw new UsageError(`invalid restart policy ${JSON.stringify(text)}: the maximum retry count must be a whole number from 0`);
  }
  return { name, maximumRetryCount: Number(count) };
}

/** The text form the monitor takes (`--restart`). */
export function formatRestartPolicy(p: RestartPolicy): string {
  return p.name === "on-failure" && p.maximumRetryCount > 0 ? `on-failure:${p.maximumRetryCount}` : p.name;
}

/** Whether a run that ended with `exitCode` is followed by another (a stopped container never is). */
export function restartsAfter(p: RestartPolicy, exitCode: number, restartCount: number, manuallyStopped: boolean): boolean {
  if (manuallyStopped || p.name === "no") return false;
  if (p.name === "on-failure") return exitCode !== 0 && (p.maximumRetryCount === 0 || restartCount < p.maximumRetryCount);
  return true;
}

/** docker's back-off: 100 ms doubling to a minute, reset by a run of 10 s or more. */
export function nextRestartDelay(previousMs: number | null, ranMs: number): number {
  if (previousMs === null || ranMs >= 10_000) return 100;
  return Math.min(previousMs * 2, 60_000);
}
