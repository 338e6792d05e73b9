import { abortError } from "../../abortable.js";
import { ImageError, TsboxError } from "../../errors.js";
import { sha256Digest } from "../hash.js";
import { bodyBytes } from "./body.js";
import { configDir, type CredentialLookup, type Credentials, lookupCredentials } from "./credentials.js";
import { type Challenge, MANIFEST_ACCEPT, MAX_MANIFEST_BYTES, MAX_TOKEN_BYTES, parseChallenge, pullScope, registryError, registryHost } from "./endpoint.js";
import { MAX_ATTEMPTS, retryDelay, waitToRetry } from "./retry.js";
import { certsDirs, isInsecureRegistry, tlsFor } from "./tls.js";
import { send, type SendInit, type TlsOptions } from "../../http-fetch.js";

export { MANIFEST_ACCEPT, parseChallenge, pullScope, pushScope, registryError } from "./endpoint.js";

/**
 * A client for one registry speaking the OCI distribution API (`/v2/`).
 *
 * Authentication follows the registry's `WWW-Authenticate` challenge: none,
 * `Basic` (credentials from `tsbox login` or docker's config.json) or
 * `Bearer` (the token flow: the credentials, if any, are shown to the
 * challenge's realm, which returns a token for the requested scopes; tokens
 * are cached per scope set). Once a realm is known, tokens for new scopes are
 * fetched before the request instead of after a 401.
 *
 * Loopback registries (localhost, 127.0.0.0/8, ::1) and hosts listed in
 * $TSBOX_INSECURE_REGISTRIES (comma-separated host[:port]) are insecure, as
 * docker treats them: HTTPS without certificate verification when they
 * answer it, else plain HTTP. All others: HTTPS, verified against the
 * system's CAs and those of `certs.d/HOST:PORT/` (`tls.ts`).
 *
 * Credentials stay with the registry they belong to: the Authorization
 * header (basic credentials or a token) goes only to the registry's own
 * origin, never to another host an upload `Location` or a redirect names
 * (blob downloads redirected to a CDN are fetched without it), and only the
 * registry's own 401 challenges are answered. Basic credentials go to a
 * token realm only over HTTPS, or to a realm that is loopback or listed as
 * insecure, like the registry itself. Redirects are followed here, not by
 * fetch, so that rule holds on every hop.
 */
export interface RegistryClientOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides stored credentials (`tsbox login` checks the new ones this way). */
  credentials?: Credentials;
  signal?: AbortSignal;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A factory: a request may be sent twice (after an auth challenge). */
  body?: () => BodyInit | AsyncIterable<Uint8Array>;
  /** Token scopes, e.g. `repository:library/busybox:pull`. */
  scopes?: string[];
  signal?: AbortSignal;
  /** Told before a 429/503 answer is waited out: the seconds to wait. */
  onRetry?: (seconds: number) => void;
}

/** An insecure registry that does not finish answering HTTPS in this long is spoken to over HTTP (docker's TLS handshake timeout). */
const HTTPS_PROBE_MS = 10_000;

/** Redirects followed per request (fetch's own limit is 20). */
const MAX_REDIRECTS = 10;

/** `pull -a` follows at most this many pages of a tag list (1,000 tags each by our request). */
const MAX_TAG_PAGES = 100;

export class RegistryClient {
  /** scheme://host:port; an insecure registry's scheme is settled by its first request. */
  baseUrl: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly signal: AbortSignal | undefined;
  private credentials: Credentials | undefined | null = null;
  private lookup: CredentialLookup | undefined;
  private challenge: Challenge | undefined;
  private readonly tokens = new Map<string, Promise<string>>();
  /** scheme://host:port of the registry: the only origin that sees its Authorization header. */
  private origin: string;
  /** Settles an insecure registry's scheme (HTTPS when it answers it, else HTTP); undefined until asked. */
  private scheme: Promise<void> | undefined;
  private readonly tls = new Map<string, TlsOptions | undefined>();

  constructor(
    readonly domain: string,
    options: RegistryClientOptions = {},
  ) {
    this.env = options.env ?? process.env;
    this.signal = options.signal;
    if (options.credentials) this.credentials = options.credentials;
    this.baseUrl = `https://${registryHost(domain)}`;
    this.origin = new URL(this.baseUrl).origin;
    if (!isInsecureRegistry(domain, this.env)) this.scheme = Promise.resolve();
  }

  /** docker's order for an insecure registry (moby lookupV2Endpoints): HTTPS unverified if it answers, else HTTP. */
  private settleScheme(signal: AbortSignal | undefined): Promise<void> {
    this.scheme ??= (async () => {
      const probe = new AbortController();
      const forward = () => probe.abort(signal?.reason);
      signal?.addEventListener("abort", forward, { once: true });
      const timer = setTimeout(() => probe.abort(), HTTPS_PROBE_MS);
      try {
        const res = await this.send(new URL("/v2/", this.baseUrl), { method: "GET", headers: {}, signal: probe.signal });
        await res.body?.cancel().catch(() => {});
      } catch {
        if (signal?.aborted) throw abortError(signal);
        this.baseUrl = this.baseUrl.replace(/^https:/, "http:");
        this.origin = new URL(this.baseUrl).origin;
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener("abort", forward);
      }
    })();
    // An interrupted probe settles nothing: the next request asks again.
    this.scheme.catch(() => (this.scheme = undefined));
    return this.scheme;
  }

  /** One hop, with the host's TLS where it is not fetch's (unverified, or extra CAs). */
  private send(url: URL, init: SendInit): Promise<Response> {
    if (url.protocol === "https:" && !this.tls.has(url.host)) this.tls.set(url.host, tlsFor(url.host, this.env, configDir(this.env)));
    return send(url, init, url.protocol === "https:" ? this.tls.get(url.host) : undefined);
  }

  /**
   * Sends a request, answering one auth challenge; the caller checks the
   * status. A GET or HEAD answered 429 (too many requests) or 503 is sent
   * again after its Retry-After (else a backoff), up to MAX_ATTEMPTS in all.
   */
  async request(method: string, pathOrUrl: string, options: RequestOptions = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const res = await this.requestOnce(method, pathOrUrl, options);
      if ((res.status !== 429 && res.status !== 503) || (method !== "GET" && method !== "HEAD") || attempt >= MAX_ATTEMPTS) return res;
      await res.body?.cancel().catch(() => {});
      const seconds = retryDelay(attempt, res.headers.get("retry-after"));
      options.onRetry?.(seconds);
      await waitToRetry(seconds, options.signal ?? this.signal);
    }
  }

  private async requestOnce(method: string, pathOrUrl: string, options: RequestOptions): Promise<Response> {
    // The request's own signal governs all it does, its token included: a download shared by several pulls
    // (download.ts) goes on under its own signal when the pull whose client it uses is aborted.
    const signal = options.signal ?? this.signal;
    await this.settleScheme(signal);
    const url = /^https?:\/\//.test(pathOrUrl) ? pathOrUrl : this.baseUrl + pathOrUrl;
    const scopes = options.scopes ?? [];
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(scopes, signal);
      const res = await followRedirects(
        { url, method, headers: options.headers ?? {}, ...(options.body ? { body: options.body } : {}), signal: signal ?? null },
        (u) => (u.origin === this.origin ? authorization : undefined),
        (target, init) => this.send(target, init),
        (err, target) => this.networkError(err, target, signal),
      );
      // Another host's challenge (an upload Location elsewhere, a redirect) is not ours to answer.
      if (res.status === 401 && new URL(res.url || url).origin !== this.origin) return res;
      if (res.status === 401 && attempt === 0) {
        const challenge = parseChallenge(res.headers.get("www-authenticate"));
        await res.body?.cancel().catch(() => {});
        if (!challenge) throw new ImageError(`${this.domain} refused the request (401) without an authentication challenge`);
        this.challenge = challenge;
        if (challenge.scheme === "bearer") await this.fetchToken(scopes, signal);
        else if (!this.creds()) throw this.loginRequired();
        continue;
      }
      if (res.status === 401) {
        await res.body?.cancel().catch(() => {});
        if (!this.creds()) throw this.loginRequired();
        if (this.challenge?.scheme === "basic") throw new ImageError(`login to ${this.domain} failed: wrong username or password`);
        throw new ImageError(`${this.domain}: access denied (${scopes.join(" ") || "/v2/"})`);
      }
      return res;
    }
  }

  /** GET /v2/: checks that the registry answers and the credentials are accepted. */
  async ping(): Promise<void> {
    const res = await this.request("GET", "/v2/");
    await res.body?.cancel().catch(() => {});
    if (!res.ok) throw await registryError(res, `${this.domain}/v2/`);
  }

  /** The repository's tags (`/tags/list`, following its pages), at most `limit`. */
  async listTags(repo: string, limit = 10_000): Promise<string[]> {
    const tags: string[] = [];
    let path: string | null = `/v2/${repo}/tags/list?n=1000`;
    // A page that adds no tag ends the list: a registry whose empty pages link to themselves kept this going for ever.
    for (let pages = 0, before = -1; path !== null && tags.length < limit && tags.length > before && pages < MAX_TAG_PAGES; pages++) {
      before = tags.length;
      const res: Response = await this.request("GET", path, { scopes: [pullScope(repo)] });
      if (!res.ok) throw await registryError(res, `${this.domain}/${repo}`);
      const data = await bodyBytes(res, this.signal, MAX_MANIFEST_BYTES, () => new ImageError(`the tag list of ${repo} is too large`));
      let page: { tags?: unknown };
      try {
        page = JSON.parse(data.toString("utf8")) as { tags?: unknown };
      } catch (err) {
        throw new ImageError(`the tag list of ${repo} is not valid JSON`, err);
      }
      for (const t of Array.isArray(page.tags) ? page.tags : []) if (typeof t === "string" && /^[\w][\w.-]{0,127}$/.test(t)) tags.push(t);
      // The next page, on the registry's own origin only (RFC 5988 Link: <…>; rel="next").
      const next = /<([^>]+)>\s*;\s*rel="?next"?/.exec(res.headers.get("link") ?? "")?.[1];
      path = next !== undefined && (next.startsWith("/v2/") || new URL(next, this.baseUrl).origin === this.origin) ? new URL(next, this.baseUrl).pathname + new URL(next, this.baseUrl).search : null;
    }
    return tags.slice(0, limit);
  }

  /** A manifest or index, verified against its digest. */
  async getManifest(repo: string, reference: string): Promise<{ mediaType: string; digest: string; data: Buffer }> {
    const res = await this.request("GET", `/v2/${repo}/manifests/${reference}`, {
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [pullScope(repo)],
    });
    if (!res.ok) throw await registryError(res, `${this.domain}/${repo}${reference.includes(":") ? "@" : ":"}${reference}`);
    const declared = Number(res.headers.get("content-length") ?? 0);
    if (declared > MAX_MANIFEST_BYTES) throw new ImageError(`manifest ${repo}:${reference} is too large (${declared} bytes)`);
    const data = await bodyBytes(res, this.signal, MAX_MANIFEST_BYTES, () => new ImageError(`manifest ${repo}:${reference} is too large (over ${MAX_MANIFEST_BYTES} bytes)`));
    const digest = sha256Digest(data);
    const expected = reference.startsWith("sha256:") ? reference : res.headers.get("docker-content-digest");
    if (expected && expected !== digest) throw new ImageError(`manifest ${repo}:${reference} does not match its digest: expected ${expected}, got ${digest}`);
    let mediaType = (res.headers.get("content-type") ?? "").split(";")[0]!.trim();
    try {
      const parsed = JSON.parse(data.toString("utf8")) as { mediaType?: string };
      if (parsed.mediaType) mediaType = parsed.mediaType;
    } catch (err) {
      throw new ImageError(`manifest ${repo}:${reference} is not valid JSON`, err);
    }
    return { mediaType, digest, data };
  }

  private creds(): Credentials | undefined {
    if (this.credentials === null) {
      this.lookup = lookupCredentials(this.domain, this.env);
      this.credentials = this.lookup.credentials;
    }
    return this.credentials;
  }

  private async authorization(scopes: string[], signal: AbortSignal | undefined): Promise<string | undefined> {
    if (!this.challenge) return undefined;
    if (this.challenge.scheme === "basic") {
      const c = this.creds();
      return c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` : undefined;
    }
    return this.tokens.get(scopes.join(" ")) ?? this.fetchToken(scopes, signal);
  }

  /** One token request per scope set, shared by concurrent requests. */
  private fetchToken(scopes: string[], signal: AbortSignal | undefined): Promise<string> {
    const key = scopes.join(" ");
    const pending = this.requestToken(scopes, signal);
    this.tokens.set(key, pending);
    pending.catch(() => this.tokens.delete(key));
    return pending;
  }

  private async requestToken(scopes: string[], signal: AbortSignal | undefined): Promise<string> {
    const params = this.challenge!.params;
    const realm = params.realm;
    if (!realm) throw new ImageError(`${this.domain} sent a Bearer challenge without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new ImageError(`${this.domain} sent an invalid token realm: ${realm}`);
    }
    if (params.service) url.searchParams.set("service", params.service);
    for (const scope of scopes) url.searchParams.append("scope", scope);
    const c = this.creds();
    if (c && url.protocol !== "https:" && !isInsecureRegistry(url.host, this.env)) {
      throw new ImageError(
        `refusing to send the credentials for ${this.domain} to the token server ${url.origin}${url.pathname} over plain HTTP (list ${url.hostname} in TSBOX_INSECURE_REGISTRIES to allow it)`,
      );
    }
    const basic = c ? `Basic ${Buffer.from(`${c.username}:${c.password}`).toString("base64")}` : undefined;
    const realmOrigin = url.origin;
    const res = await followRedirects(
      { url: url.toString(), method: "GET", headers: {}, signal: signal ?? null },
      (u) => (u.origin === realmOrigin ? basic : undefined),
      (target, init) => this.send(target, init),
      (err, target) => this.networkError(err, target, signal),
    );
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {});
      throw c ? new ImageError(`login to ${this.domain} failed: wrong username or password`) : this.loginRequired();
    }
    if (!res.ok) throw await registryError(res, `token from ${url.host}`);
    // A token reply is small (a JWT): one that goes on is refused, not buffered (containers/image caps it at 1 MiB too).
    const reply = await bodyBytes(res, signal, MAX_TOKEN_BYTES, () => new ImageError(`the token server of ${this.domain} sent more than ${MAX_TOKEN_BYTES} bytes`));
    const body = ((): { token?: string; access_token?: string } => {
      try {
        return JSON.parse(reply.toString("utf8")) ?? {};
      } catch {
        return {};
      }
    })();
    const token = body.token ?? body.access_token;
    if (typeof token !== "string" || token === "") throw new ImageError(`the token server of ${this.domain} returned no token`);
    return `Bearer ${token}`;
  }

  private loginRequired(): ImageError {
    const helper = this.lookup?.problem ? ` (docker's config names the credential helper ${this.lookup.helper}, which gave none: ${this.lookup.problem})` : "";
    return new ImageError(`${this.domain} requires authentication: run tsbox login ${this.domain}${helper}`);
  }

  private networkError(err: unknown, target: URL, signal: AbortSignal | undefined): Error {
    if (err instanceof Error && err.name === "AbortError") return err;
    // The caller's abort (AbortSignal.timeout's TimeoutError too) is theirs, not the registry's being unreachable.
    if (signal?.aborted) return abortError(signal);
    // The registry as the user typed it (LOCALHOST:5000, 127.1:5000), another host as the URL has it.
    const host = target.origin === this.origin ? this.domain : target.host;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err as Error).message;
    const plain = target.protocol === "https:" && /^ERR_SSL_(WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST)$/.test(cause?.code ?? "");
    if (plain) return new ImageError(`registry ${host} answered in plain HTTP, not HTTPS (${why}): if you trust the network to it, list it in TSBOX_INSECURE_REGISTRIES`, err);
    if (CERT_ERRORS.has(cause?.code ?? "")) {
      const [own, docker] = certsDirs(configDir(this.env)).map((d) => `${d}/${target.host}/`);
      return new ImageError(
        `the certificate of registry ${host} is not trusted (${why}): put the CA that signed it in ${own}ca.crt (or docker's ${docker}), or list ${host} in TSBOX_INSECURE_REGISTRIES to skip verification`,
        err,
      );
    }
    // It was reached: the connection (to it, or to a proxy in front of it) ended before an answer. undici's code alone
    // ("cannot reach registry H: UND_ERR_SOCKET") told a user neither.
    if (cause?.code === "UND_ERR_SOCKET") return new ImageError(`registry ${host} closed the connection before it answered (${cause.message ?? "other side closed"})`, err);
    return new ImageError(`cannot reach registry ${host}: ${why}`, err);
  }
}

interface HopRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: () => BodyInit | AsyncIterable<Uint8Array>;
  signal: AbortSignal | null;
}

/**
 * fetch with redirects followed here: `authFor` says, per hop, whether that
 * URL gets an Authorization header (only the origin it belongs to). 303, and
 * 301/302 after a POST, continue as GET without a body, as browsers do; 307
 * and 308 resend the body (the factory makes it again).
 */
async function followRedirects(
  req: HopRequest,
  authFor: (url: URL) => string | undefined,
  send: (url: URL, init: SendInit) => Promise<Response>,
  networkError: (err: unknown, target: URL) => Error,
): Promise<Response> {
  let { url, method } = req;
  let withBody = req.body !== undefined;
  for (let hop = 0; ; hop++) {
    const target = new URL(url);
    const headers: Record<string, string> = { ...req.headers };
    const authorization = authFor(target);
    if (authorization) headers.authorization = authorization;
    const body = withBody ? req.body!() : undefined;
    let res: Response;
    // fetch keeps its listener on the signal it is given until the request is garbage (undici): the caller's one
    // signal then gathered one per request (MaxListenersExceededWarning after 10 tag pages). Each hop gets a signal
    // of its own, which the caller's aborts until the answer's headers are in; its body is read racing the
    // caller's signal itself (body.ts).
    const perHop = new AbortController();
    const forward = () => perHop.abort(req.signal?.reason);
    if (req.signal?.aborted) forward();
    req.signal?.addEventListener("abort", forward, { once: true });
    try {
      res = await send(target, { method, headers, signal: perHop.signal, ...(body !== undefined ? { body } : {}) });
    } catch (err) {
      throw networkError(err, target);
    } finally {
      req.signal?.removeEventListener("abort", forward);
    }
    const location = res.headers.get("location");
    if (![301, 302, 303, 307, 308].includes(res.status) || !location) return withUrl(res, url);
    await res.body?.cancel().catch(() => {});
    if (hop >= MAX_REDIRECTS) throw new ImageError(`${target.host}: too many redirects`);
    url = new URL(location, target).toString();
    if (res.status === 303 || ((res.status === 301 || res.status === 302) && method === "POST")) {
      if (method !== "HEAD") method = "GET";
      withBody = false;
    }
  }
}

/** A manual-redirect Response may not say where it came from: callers read `res.url`. */
function withUrl(res: Response, url: string): Response {
  if (!res.url) Object.defineProperty(res, "url", { value: url });
  return res;
}

/** Node's codes for a certificate it could not verify (OpenSSL's X509 errors, and the name check). */
const CERT_ERRORS = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);
