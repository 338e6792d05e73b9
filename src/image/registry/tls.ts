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
 * requests go through node:https, answered as a fetch `Response`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { join } from "node:path";
import { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { isLoopbackRegistry, registryHostname } from "./endpoint.js";

export type TlsOptions = Pick<RequestOptions, "ca" | "rejectUnauthorized">;

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

export interface SendInit {
  method: string;
  headers: Record<string, string>;
  body?: BodyInit | AsyncIterable<Uint8Array>;
  signal: AbortSignal;
}

/** fetch's answer (redirects not followed) over node:https with `tls`; network errors as fetch's (`cause`). */
export function httpsFetch(url: URL, init: SendInit, tls: TlsOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers, signal: init.signal, ...tls }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 599) return void (res.destroy(), reject(new TypeError("fetch failed", { cause: new Error(`bad HTTP status ${status}`) })));
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers)) for (const v of [value ?? []].flat()) headers.append(name, v);
      const empty = init.method === "HEAD" || [204, 205, 304].includes(status);
      if (empty) res.resume();
      resolve(new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), { status, statusText: res.statusMessage ?? "", headers }));
    });
    req.on("error", (err) => reject(err.name === "AbortError" ? err : new TypeError("fetch failed", { cause: err })));
    const body = init.body;
    if (body === undefined || body === null) req.end();
    else if (typeof body === "string" || body instanceof Uint8Array) req.end(body);
    else if (Symbol.asyncIterator in (body as object)) Readable.from(body as AsyncIterable<Uint8Array>).on("error", (err) => req.destroy(err)).pipe(req);
    else reject(new TypeError(`unsupported request body for ${url.host}`));
  });
}
