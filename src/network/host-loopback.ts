/**
 * Whether the containers of the user-mode networks (rootless bridges, the vm
 * guest's way out) reach this host's loopback at 10.0.2.2. Only where the
 * user allows it, `TSBOX_HOST_LOOPBACK=1` (podman's `allow_host_loopback`,
 * rootless docker's `DISABLE_HOST_LOOPBACK=false`): a server bound to
 * 127.0.0.1 — a database, a dev server, an agent's API — is meant for this
 * host's own users, not for an image's code. Without it `host-gateway` is
 * this host's own address (its default route's interface, as podman's
 * host.containers.internal): what listens there or on every address is
 * reachable, what is bound to loopback is not. Root's bridges never led to
 * the loopback (their gateway is the bridge's address), so the setting is
 * theirs already.
 */
import { networkInterfaces } from "node:os";
import { UsageError } from "../errors.js";
import { defaultRouteDevice } from "./routes.js";

export const HOST_LOOPBACK_VARIABLE = "TSBOX_HOST_LOOPBACK";

/** The user's `$TSBOX_HOST_LOOPBACK`: 1 (or true, yes) allows, 0 (false, no), empty or unset does not. */
export function hostLoopbackAllowed(env: NodeJS.ProcessEnv = process.env): boolean {
  const text = (env[HOST_LOOPBACK_VARIABLE] ?? "").trim().toLowerCase();
  if (["", "0", "false", "no"].includes(text)) return false;
  if (["1", "true", "yes"].includes(text)) return true;
  throw new UsageError(`${HOST_LOOPBACK_VARIABLE}=${env[HOST_LOOPBACK_VARIABLE]}: expected 1 (containers of user-mode networks reach this host's loopback at 10.0.2.2) or 0`);
}

/**
 * What `host-gateway` is for a container of a user-mode network: the
 * loopback's 10.0.2.2 where it is allowed, else this host's address, or why
 * there is none.
 */
export function userModeHostGateway(loopback: string, env: NodeJS.ProcessEnv = process.env): { address: string } | { reason: string } {
  if (hostLoopbackAllowed(env)) return { address: loopback };
  const address = hostAddress();
  return address !== undefined
    ? { address }
    : { reason: `this host has no address but its loopback, which containers of user-mode networks reach only with ${HOST_LOOPBACK_VARIABLE}=1` };
}

/** This host's IPv4 address on its default route's interface, else on any interface but loopback. */
export function hostAddress(): string | undefined {
  const interfaces = networkInterfaces();
  const ipv4 = (name: string) => interfaces[name]?.find((a) => a.family === "IPv4" && !a.internal)?.address;
  const onDefaultRoute = defaultRouteDevice();
  const found = onDefaultRoute !== undefined ? ipv4(onDefaultRoute) : undefined;
  return found ?? Object.keys(interfaces).map(ipv4).find((a) => a !== undefined);
}
