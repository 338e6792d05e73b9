/**
 * TLS towards a registry, as docker sets it up (moby `registry/service_v2.go`,
 * `registry.ReadCertsDirectory`):
 *
 * * An insecure registry (loopback, or listed in $TSBOX_INSECURE_REGISTRIES)
 *   is tried over HTTPS *without* certificate verification first, then over
 *   plain HTTP (`RegistryClient` decides once per client).
 * * Any other registry's certificate is verified against the system's CAs
 *   plus the `*.crt` files of `certs.d/HOST:PORT/` in tsbox's config dir
 *   (~/.config/tsbox) or in docker's `/etc/docker/certs.d`.
 *
 * Node 20's fetch takes no TLS options without the undici package, so those
 * requests go through node:https (src/http-fetch.ts).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import type { TlsOptions } from "../../http-fetch.js";
import { isLoopbackRegistry, registryHostname } from "./endpoint.js";

/** Directories holding `HOST:PORT/*.crt` CA files, tsbox's own first. */
export function certsDirs(configDir: string): string[] {
  return [join(configDir, "certs.d"), "/etc/docker/certs.d"];
}

/** Loopback or listed in $TSBOX_INSECURE_REGISTRIES (host:port or host). */
export function isInsecureRegistry(domain: string, env: NodeJS.ProcessEnv): boolean {
  if (isLoopbackRegistry(domain)) return true;
  const list = (env.TSBOX_INSECURE_REGISTRIES ?? "").split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  return list.includes(domain.toLowerCase()) || list.includes(registryHostname(domain).toLowerCase());
}

/** The TLS options for `host` (an URL's host), or undefined for fetch's own (system CAs, verified). */
export function tlsFor(host: string, env: NodeJS.ProcessEnv, configDir: string): TlsOptions | undefined {
  if (isInsecureRegistry(host, env)) return { rejectUnauthorized: false };
  const cas: string[] = [];
  for (const dir of certsDirs(configDir)) {
    let names: string[];
    try {
      names = readdirSync(join(dir, host));
    } catch {
      continue;
    }
    for (const name of names.filter((n) => n.endsWith(".crt")).sort()) cas.push(readFileSync(join(dir, host, name), "utf8"));
  }
  return cas.length > 0 ? { ca: [...rootCertificates, ...cas] } : undefined;
}
