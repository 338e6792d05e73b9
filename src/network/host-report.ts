/**
 * What `tsbox info` says about networking on this host for this user: the
 * default network, the rootless helper (rootless.ts's choice, or why there
 * is none) and, as root, the firewall tool that makes NAT and published
 * ports (`iptables`, nf_tables or legacy: what it reports).
 */
import { spawnSync } from "node:child_process";
import { errorMessage } from "../errors.js";
import { HOST_LOOPBACK_VARIABLE, hostLoopbackAllowed } from "./host-loopback.js";
import { runningRootlessHelper, runningRootlessLoopback } from "./processes.js";
import { rootlessNetwork } from "./rootless.js";
import { DEFAULT_NETWORK } from "./store.js";

export interface NetworkReport {
  defaultNetwork: string;
  /** Rootless: pasta or slirp4netns, or null with the reason bridges fall back to none. */
  rootlessHelper: string | null;
  rootlessReason: string | null;
  /** Rootless: how long the user's network namespace stays after its last container. */
  rootlessIdleSeconds: number | null;
  /** Rootless: the helper of the namespace running now (processes.ts runningRootlessHelper), or null. */
  rootlessRunning: string | null;
  /** As root: e.g. "iptables v1.8.9 (nf_tables)", or null when there is none (bridges then have no NAT). */
  firewall: string | null;
  /** Rootless (and the vm backend): whether containers reach this host's loopback at 10.0.2.2 (host-loopback.ts); null as root, whose bridges never do. */
  hostLoopback: boolean | null;
  /** Rootless: the setting of the namespace running now (kept until it is idle), or null. */
  rootlessRunningLoopback: boolean | null;
}

/**
 * `rootless`: bridges through the rootless helpers (id-mappings.ts rootlessNetworking); `rootlessDir`: the data
 * dir's rootless-netns/, whose running namespace may use another helper than today's choice.
 */
export function networkReport(rootless: boolean, env: NodeJS.ProcessEnv, rootlessDir?: string): NetworkReport {
  const defaultNetwork = env.TSBOX_NETWORK ?? DEFAULT_NETWORK;
  if (rootless) {
    const found = rootlessNetwork(env);
    const running = rootlessDir ? (runningRootlessHelper(rootlessDir) ?? null) : null;
    const runningLoopback = rootlessDir ? (runningRootlessLoopback(rootlessDir) ?? null) : null;
    return { defaultNetwork, rootlessHelper: found.helper, rootlessReason: found.reason, rootlessIdleSeconds: found.idleSeconds, rootlessRunning: running, firewall: null, hostLoopback: hostLoopbackSetting(env), rootlessRunningLoopback: runningLoopback };
  }
  const v = spawnSync("iptables", ["--version"], { encoding: "utf8", env });
  return { defaultNetwork, rootlessHelper: null, rootlessReason: null, rootlessIdleSeconds: null, rootlessRunning: null, firewall: v.status === 0 ? v.stdout.trim() : null, hostLoopback: null, rootlessRunningLoopback: null };
}

/** `$TSBOX_HOST_LOOPBACK` as a report's field: null when it is not a setting (the network line says why). */
export function hostLoopbackSetting(env: NodeJS.ProcessEnv): boolean | null {
  try {
    return hostLoopbackAllowed(env);
  } catch {
    return null; // the line says why
  }
}

/** What the network line says of this host's loopback for containers of user-mode networks (rootless, the vm guest). */
export function hostLoopbackClause(env: NodeJS.ProcessEnv): string {
  try {
    return hostLoopbackAllowed(env)
      ? `this host's loopback open to containers at 10.0.2.2 (${HOST_LOOPBACK_VARIABLE}=1)`
      : `this host's loopback closed to containers (${HOST_LOOPBACK_VARIABLE}=1 opens it at 10.0.2.2)`;
  } catch (err) {
    return errorMessage(err);
  }
}

/** The `network:` line of `tsbox info`, and a warning when bridges cannot work here. */
export function networkLines(r: NetworkReport, rootless: boolean, env: NodeJS.ProcessEnv): { line: string; warning?: string } {
  if (rootless) {
    if (r.rootlessHelper) {
      const stays = r.rootlessIdleSeconds ? `, kept ${r.rootlessIdleSeconds} s after the last container` : "";
      // An upgrade under running containers (a362096 moved the default from pasta) keeps the old helper until idle.
      const other = r.rootlessRunning && r.rootlessRunning !== r.rootlessHelper
        ? `; the running namespace still uses ${r.rootlessRunning} (started so earlier), until its last container stops`
        : "";
      // Its containers have what the running namespace has, whatever this environment asks (a run asking otherwise is refused).
      const loopback = r.rootlessRunningLoopback !== null && r.rootlessRunningLoopback !== r.hostLoopback
        ? `; the running namespace has it ${r.rootlessRunningLoopback ? "open" : "closed"} (started so), until its last container stops`
        : "";
      return { line: `network:       default ${r.defaultNetwork}; rootless through ${r.rootlessHelper} (${r.rootlessReason}${stays})${other}; ${hostLoopbackClause(env)}${loopback}` };
    }
    return {
      line: `network:       default ${r.defaultNetwork}; rootless bridges unavailable: ${r.rootlessReason}`,
      warning: `rootless bridge networking is unavailable (${r.rootlessReason}): containers run with --network none unless you pick one`,
    };
  }
  if (r.firewall) return { line: `network:       default ${r.defaultNetwork}; NAT and published ports through ${r.firewall}` };
  return { line: `network:       default ${r.defaultNetwork}; no iptables: bridges get no NAT or published ports`, warning: "iptables is not installed: bridge networks cannot NAT or publish ports (Debian/Ubuntu package iptables)" };
}
