/**
 * The /etc files every container with a network namespace gets (`hosts`,
 * `resolv.conf`, `hostname`): written by the container machinery into the
 * network spec's `dir` (native-rs/container/src/net/files.rs) and bound
 * onto /etc. Pure, so hosts (plan.ts) and the browser Worker make the same
 * mounts and the same spec for a container without networks.
 */
import type { MountSpec, NetworkSpec } from "../spec/container-spec.js";

export const ETC_FILES = ["hosts", "resolv.conf", "hostname"] as const;

/**
 * `readOnly`: a `--read-only` container's, which cannot rewrite them either (docker's NetworkMounts). `idmap`: with
 * --userns=auto its root owns them, as the host's root does (they live in the container's bundle).
 */
export function etcMount(file: string, source: string, readOnly: boolean): MountSpec {
  return { destination: `/etc/${file}`, type: "bind", source, options: ["rbind", readOnly ? "ro" : "rw", "idmap"] };
}

/** The binds of the files kept in `dir`. */
export function etcMounts(dir: string, readOnly: boolean): MountSpec[] {
  return ETC_FILES.map((f) => etcMount(f, `${dir}/${f}`, readOnly));
}

/** `--network none` where there is no host to take DNS settings from (the browser): loopback, the files, nothing else. */
export function isolatedNetwork(dir: string, container: NetworkSpec["container"], hostname: string): NetworkSpec {
  return { dir, container, hostname, hosts: { extra: [] }, dns: { servers: [], search: [], options: [] }, attach: [], ports: [] };
}
