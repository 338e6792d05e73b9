import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import type { ContainerSpec, NetworkSpec } from "../spec/container-spec.js";
import { onPath } from "../on-path.js";
import { hostLoopbackAllowed } from "./host-loopback.js";
import { writeFileAtomicSync } from "../fs-util.js";
import { wholeSeconds } from "../whole-seconds.js";

/** How a rootless container's bridge reaches the host (native-rs/container/src/net/rootless.rs). */
export type RootlessHelper = "pasta" | "slirp4netns";

/** Addresses of the user-mode network, the same with both helpers (the host's loopback only where allowed: host-loopback.ts). */
export const ROOTLESS_HOST_ADDRESS = "10.0.2.2";
export const ROOTLESS_DNS = "10.0.2.3";

export interface RootlessNetwork {
  /** The helper to use, or why there is none. */
  helper: RootlessHelper | null;
  reason: string;
  /** Seconds the user's network namespace stays up after its last container (`$TSBOX_ROOTLESS_NETWORK_IDLE`). */
  idleSeconds: number;
}

/**
 * By default the namespace, its helper and its bridges' rules outlive the
 * last container by a minute, so a run soon after skips starting them (as
 * podman's rootless-netns and docker's daemon stay); 0 stops them with it.
 */
export const DEFAULT_IDLE_SECONDS = 60;

/** A data dir's user-mode network: its namespace, helper and keepers' records (one per data dir, podman's rootless-netns). */
export function rootlessNetnsDir(dataDir: string): string {
  return join(dataDir, "rootless-netns");
}

/** What a rootless container's bridge is made with in `dataDir`, or (`inputs: null`) why this host cannot make one. */
export function rootlessBridge(dataDir: string, env: NodeJS.ProcessEnv = process.env): { inputs: NonNullable<NetworkSpec["rootless"]> } | { inputs: null; reason: string } {
  const found = rootlessNetwork(env);
  if (!found.helper) return { inputs: null, reason: found.reason };
  return { inputs: { helper: found.helper, dir: rootlessNetnsDir(dataDir), idleSeconds: found.idleSeconds, hostLoopback: hostLoopbackAllowed(env) } };
}

function idleSeconds(env: NodeJS.ProcessEnv): number {
  const text = env.TSBOX_ROOTLESS_NETWORK_IDLE;
  return wholeSeconds(text, `TSBOX_ROOTLESS_NETWORK_IDLE=${text}`, DEFAULT_IDLE_SECONDS, "stop with the last container");
}

/**
 * `$TSBOX_ROOTLESS_NETWORK` (pasta or slirp4netns) if set, else slirp4netns,
 * else pasta, whichever is installed; both need a usable /dev/net/tun.
 * slirp4netns first: the distributions' pasta (Debian 12's passt
 * 0.0~git20230309 here) loses a TCP connection whose client half-closes
 * first (`printf 'GET / HTTP/1.0\r\n\r\n' | nc`): once it has the client's
 * FIN it takes the client's ACKs without dropping the acknowledged bytes
 * from its socket, so it sends them again as new data and never sees the
 * socket empty to send the server's FIN: the client gets the reply over and
 * over and never its end. No rule in the namespace mends that (pasta's own
 * state); the two helpers are equally fast (docs/architecture.md).
 */
export function rootlessNetwork(env: NodeJS.ProcessEnv = process.env): RootlessNetwork {
  const found = chooseHelper(env);
  return { ...found, idleSeconds: idleSeconds(env) };
}

function chooseHelper(env: NodeJS.ProcessEnv): Omit<RootlessNetwork, "idleSeconds"> {
  // Set but empty is unset (the shell convention).
  const asked = env.TSBOX_ROOTLESS_NETWORK || undefined;
  if (asked !== undefined && asked !== "pasta" && asked !== "slirp4netns") {
    return { helper: null, reason: `TSBOX_ROOTLESS_NETWORK=${asked} is neither pasta nor slirp4netns` };
  }
  const candidates: RootlessHelper[] = asked ? [asked] : ["slirp4netns", "pasta"];
  const helper = candidates.find((c) => onPath(c, env));
  if (!helper) {
    return { helper: null, reason: `${candidates.join(" or ")} is not installed (Debian/Ubuntu packages slirp4netns, passt)` };
  }
  try {
    accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
  } catch {
    return { helper: null, reason: "/dev/net/tun is not readable and writable by this user (distributions make it 0666; an administrator can: chmod 0666 /dev/net/tun)" };
  }
  return { helper, reason: asked ? `TSBOX_ROOTLESS_NETWORK=${asked}` : `${helper} is installed` };
}

/**
 * A stopped container starts with the host loopback setting of whoever starts it, not its creator's: the setting is
 * read where the user-mode network starts (a container made with `TSBOX_HOST_LOOPBACK=1` reopened it at every later
 * start, whoever started it). Its config.json (`spec`, as read) has its rootless section brought up to date before the
 * start; under the container's lock.
 */
export function refreshHostLoopback(configPath: string, spec: ContainerSpec, env: NodeJS.ProcessEnv = process.env): void {
  const rootless = spec.network?.rootless;
  if (!spec.network || !rootless) return;
  const allowed = hostLoopbackAllowed(env);
  if ((rootless.hostLoopback ?? false) === allowed) return;
  writeFileAtomicSync(configPath, JSON.stringify({ ...spec, network: { ...spec.network, rootless: { ...rootless, hostLoopback: allowed } } }));
}
