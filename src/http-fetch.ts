/**
 * Requests Node's fetch cannot make, in one place: fetch (undici) takes no TLS options without the undici
 * package, and refuses the WHATWG fetch spec's "bad ports" (6000, 10080, 5060, 6665-6669, …: a browser's rule
 * against cross-protocol attacks, "fetch failed: bad port"), where docker's Go net/http has no such list. Those
 * requests go through node:http or node:https instead, answered as a fetch `Response` (redirects not followed).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest, type RequestOptions } from "node:https";
import { Readable } from "node:stream";

export type TlsOptions = Pick<RequestOptions, "ca" | "rejectUnauthorized">;

export interface SendInit {
  method: string;
  headers: Record<string, string>;
  body?: BodyInit | AsyncIterable<Uint8Array>;
  signal?: AbortSignal;
}

/** The fetch spec's bad ports (https://fetch.spec.whatwg.org/#port-blocking), which undici refuses. */
const BAD_PORTS = new Set([
  0, 1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 37, 42, 43, 53, 69, 77, 79, 87, 95, 101, 102, 103, 104, 109, 110, 111, 113, 115, 117, 119,
  123, 135, 137, 139, 143, 161, 179, 389, 427, 465, 512, 513, 514, 515, 526, 530, 531, 532, 540, 548, 554, 556, 563, 587, 601, 636, 989, 990, 993,
  995, 1719, 1720, 1723, 2049, 3659, 4045, 4190, 5060, 5061, 6000, 6566, 6665, 6666, 6667, 6668, 6669, 6679, 6697, 10080,
]);

/** fetch refuses this URL's port (an explicit one: the schemes' defaults are never on the list). */
export function fetchRefusesPort(url: URL): boolean {
  return url.port !== "" && BAD_PORTS.has(Number(url.port));
}

/** One hop (redirects not followed): fetch, or node:http(s) where fetch cannot (`tls` options, a bad port). */
export function send(url: URL, init: SendInit, tls?: TlsOptions): Promise<Response> {
  if (tls !== undefined || fetchRefusesPort(url)) return nodeFetch(url, init, tls);
  return fetch(url, { ...init, redirect: "manual", ...(init.body !== undefined ? { duplex: "half" } : {}) } as RequestInit);
}

/** A GET that follows redirects as fetch's default does (at most 20), each hop through `send`. */
export async function getFollowing(url: string, signal?: AbortSignal): Promise<Response> {
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    const res = await send(target, { method: "GET", headers: {}, ...(signal ? { signal } : {}) });
    const location = res.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(res.status) || !location) return res;
    await res.body?.cancel().catch(() => {});
    if (hop >= 20) throw new TypeError("fetch failed", { cause: new Error("redirect count exceeded") });
    target = new URL(location, target);
  }
}

/** fetch's answer over node:http or node:https (with `tls`); network errors as fetch's (`cause`). */
function nodeFetch(url: URL, init: SendInit, tls: TlsOptions = {}): Promise<Response> {
  const request = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers, ...(init.signal ? { signal: init.signal } : {}), ...(url.protocol === "https:" ? tls : {}) }, (res) => {
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
