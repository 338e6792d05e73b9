/**
 * What the registry client (Node) and the browser's pull both need of the OCI
 * distribution API, with no Node module in it: where a registry is, what a
 * manifest request accepts, the scope of a pull, its 401 challenges and its
 * error bodies.
 */
import { ImageError, type TsboxError } from "../../errors.js";
import { bodyPrefix } from "./body.js";
import { MediaType } from "../oci.js";
import { DEFAULT_DOMAIN } from "../reference.js";

export const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.dockerManifestList, MediaType.ociManifest, MediaType.dockerManifest].join(", ");

/** Manifests and indexes are small; anything larger is refused rather than buffered. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** A token server's reply (a JWT and a few fields). */
export const MAX_TOKEN_BYTES = 1024 * 1024;

/** The host a registry domain is reached at (docker.io's API is on registry-1.docker.io). */
export function registryHost(domain: string): string {
  return domain === DEFAULT_DOMAIN ? "registry-1.docker.io" : domain;
}

/** A registry domain's host name: without its port, an IPv6 address without brackets. */
export function registryHostname(domain: string): string {
  return domain.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
}

/**
 * localhost (any case), 127.0.0.0/8 in any form an URL takes (`127.1`) and
 * ::1: registries docker treats as insecure (HTTPS unverified, then HTTP).
 */
export function isLoopbackRegistry(domain: string): boolean {
  let host: string;
  try {
    host = new URL(`http://${domain}`).hostname; // lower case, IPv4 forms made dotted quads
  } catch {
    return false;
  }
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function pullScope(repo: string): string {
  return `repository:${repo}:pull`;
}

export function pushScope(repo: string): string {
  return `repository:${repo}:pull,push`;
}

export interface Challenge {
  scheme: "basic" | "bearer";
  params: Record<string, string>;
}

/** A `WWW-Authenticate` header's Basic or Bearer challenge and its parameters. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== "basic" && scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let p; (p = re.exec(m[2]!)); ) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  return { scheme, params };
}

/** One line from a registry's error response (`{"errors":[{"code","message"}]}`). */
export async function registryError(res: Response, what: string): Promise<TsboxError> {
  let detail = "";
  try {
    // Only the start of it: a hostile registry's error page may never end (read whole, 1.5 GiB took 3 GB).
    const text = new TextDecoder().decode(await bodyPrefix(res, undefined, 4096));
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    detail = (body.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ");
  } catch {
    // not JSON: the status says enough
  }
  if (res.status === 404) return new ImageError(`not found: ${what}${detail ? ` (${detail})` : ""}`);
  return new ImageError(`${what}: registry answered ${res.status} ${res.statusText}${detail ? ` (${detail})` : ""}`);
}
