import { wholeSeconds } from "../../whole-seconds.js";

/**
 * How long the data dir's nest holder (native-rs/runtime/src/nest_holder.rs)
 * stays unused: a user namespace with a rootless user's subordinate id maps
 * that one-shot runs (the CLI's `run`, `run -d`, `start`) join instead of
 * running the setuid newuidmap and newgidmap each (`$TSBOX_NEST_IDLE`
 * seconds, default a minute, as the rootless network's namespace stays; 0:
 * none, each run maps its ids itself). The helper decides whether a run's
 * maps need it (root's and a single-id map never do).
 */
export const DEFAULT_NEST_IDLE_SECONDS = 60;

/** `tsbox-runtime run` and `monitor` arguments for it. */
export function nestIdleArgs(env: NodeJS.ProcessEnv = process.env): string[] {
  const text = env.TSBOX_NEST_IDLE;
  const seconds = wholeSeconds(text, `TSBOX_NEST_IDLE=${text}`, DEFAULT_NEST_IDLE_SECONDS, "no holder, each run maps its ids itself");
  return seconds > 0 ? ["--nest-idle", String(seconds)] : [];
}
