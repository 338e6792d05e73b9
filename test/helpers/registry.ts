/**
 * A real registry for the tests: Debian's `docker-registry` (distribution
 * 2.8) on 127.0.0.1 with a free port and a temp storage dir, optionally
 * behind token auth (a small token server here, signing RS256 JWTs with a
 * key pair made by openssl) or htpasswd basic auth. `stop()` ends both.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { get as httpsGet } from "node:https";
import { createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestRegistry {
  /** `127.0.0.1:PORT` */
  host: string;
  /** The registry's storage root (blobs under docker/registry/v2/blobs). */
  storage: string;
  /** Token requests seen by the token server: the user (or null) and the scopes. */
  tokenRequests: { user: string | null; scopes: string[] }[];
  /** The PEM certificate of a `tls` registry (its own CA). */
  cert?: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  auth?: "none" | "token" | "basic";
  /** user → password; token auth refuses anonymous requests when set. */
  users?: Record<string, string>;
  /** The registry's `http.host`: the base URL it writes into Location headers (e.g. another server's). */
  httpHost?: string;
  /** The address the token server listens on and its realm names (default 127.0.0.1). */
  tokenHost?: string;
  /** Let any origin's pages read it (CORS headers on the registry's and the token server's answers). */
  cors?: boolean;
  /**
   * Serve HTTPS with a self-signed certificate for 127.0.0.1, localhost and
   * these addresses, listening on every address (the certificate is `cert`).
   */
  tls?: { addresses: string[] };
  /** Listen on this port (else a free one): `freeBadPort()`'s, to see requests fetch refuses. */
  port?: number;
}

export const REGISTRY_BINARY = "/usr/bin/docker-registry";

/** What a registry must send for a page of another origin to pull from it. */
const CORS: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Methods": "HEAD, GET, OPTIONS",
  "Access-Control-Allow-Headers": "Authorization, Accept",
  "Access-Control-Expose-Headers": "Docker-Content-Digest, WWW-Authenticate",
};
/** The same as distribution's `http.headers` (it then answers preflights itself, when it authenticates nothing). */
const CORS_YAML = `  headers:\n${Object.entries(CORS)
  .map(([name, value]) => `    ${name}: [${value.split(", ").map((v) => `'${v}'`).join(", ")}]\n`)
  .join("")}`;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * A free port of the fetch spec's bad ports, which Node's fetch refuses ("bad port") and docker does not:
 * a registry or an ADD URL there works with docker.
 */
export async function freeBadPort(): Promise<number> {
  for (const port of [10080, 6679, 6566, 4190, 6669, 6668, 6000, 5061]) {
    const free = await new Promise<boolean>((resolve) => {
      const srv = createNetServer();
      srv.on("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error("none of the bad ports tried is free");
}

export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const auth = options.auth ?? "none";
  const dir = mkdtempSync(join(tmpdir(), "registry-"));
  chmodSync(dir, 0o755);
  const storage = join(dir, "storage");
  const port = options.port ?? (await freePort());
  const tokenRequests: TestRegistry["tokenRequests"] = [];
  let tokenServer: Server | undefined;
  let authYaml = "";
  if (auth === "token") {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "2", "-subj", "/CN=tsbox-test-token"], { stdio: "ignore" });
    const key = createPrivateKey(readFileSync(join(dir, "key.pem")));
    const kid = libtrustKeyId(createPublicKey(key).export({ type: "spki", format: "der" }));
    tokenServer = createHttpServer((req, res) => {
      const url = new URL(req.url ?? "/", "http://x");
      const scopes = url.searchParams.getAll("scope");
      const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
      const [user, pass] = basic ? Buffer.from(basic[1]!, "base64").toString().split(/:(.*)/s) : [null, null];
      tokenRequests.push({ user: user ?? null, scopes });
      if (options.cors) res.setHeader("access-control-allow-origin", "*");
      if (options.users && (!user || options.users[user] !== pass)) {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ details: "bad credentials" }));
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const access = scopes.map((s) => {
        const parts = s.split(":");
        return { type: parts[0], name: parts.slice(1, -1).join(":"), actions: parts[parts.length - 1]!.split(",") };
      });
      const header = { alg: "RS256", typ: "JWT", kid };
      const claims = { iss: "tsbox-test-issuer", sub: user ?? "", aud: "tsbox-test-registry", exp: now + 600, nbf: now - 10, iat: now, jti: randomBytes(8).toString("hex"), access };
      const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
      const token = `${input}.${b64url(sign("sha256", Buffer.from(input), key))}`;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 600 }));
    });
    const tokenHost = options.tokenHost ?? "127.0.0.1";
    await new Promise<void>((resolve) => tokenServer!.listen(0, tokenHost, resolve));
    const tport = (tokenServer.address() as { port: number }).port;
    authYaml = `auth:
  token:
    realm: http://${tokenHost}:${tport}/token
    service: tsbox-test-registry
    issuer: tsbox-test-issuer
    rootcertbundle: ${join(dir, "cert.pem")}
`;
  } else if (auth === "basic") {
    const lines = Object.entries(options.users ?? {}).map(([u, p]) => `${u}:${bcrypt(p)}`);
    writeFileSync(join(dir, "htpasswd"), lines.join("\n") + "\n");
    authYaml = `auth:
  htpasswd:
    realm: tsbox-test
    path: ${join(dir, "htpasswd")}
`;
  }
  let tlsYaml = "";
  if (options.tls) {
    const san = ["DNS:localhost", "IP:127.0.0.1", ...options.tls.addresses.map((a) => `IP:${a}`)].join(",");
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "tls-key.pem"), "-out", join(dir, "tls-cert.pem"), "-days", "2", "-subj", "/CN=tsbox-test-registry", "-addext", `subjectAltName=${san}`], { stdio: "ignore" });
    tlsYaml = `  tls:\n    certificate: ${join(dir, "tls-cert.pem")}\n    key: ${join(dir, "tls-key.pem")}\n`;
  }
  writeFileSync(
    join(dir, "config.yml"),
    `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${storage}
  delete:
    enabled: true
http:
  addr: ${options.tls ? "0.0.0.0" : "127.0.0.1"}:${port}
${tlsYaml}${options.httpHost ? `  host: ${options.httpHost}\n` : ""}${options.cors ? CORS_YAML : ""}${authYaml}`,
  );
  const child: ChildProcess = spawn(REGISTRY_BINARY, ["serve", join(dir, "config.yml")], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (log = (log + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const stop = async () => {
    child.kill("SIGTERM");
    await exited;
    await new Promise<void>((resolve) => (tokenServer ? tokenServer.close(() => resolve()) : resolve()));
    tokenServer?.closeAllConnections?.();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      if (options.tls) await httpsAnswers(port);
      else await httpAnswers(port);
      break;
    } catch {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`docker-registry did not start: ${log}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (options.cors && auth !== "none") {
    // distribution asks for credentials on a preflight too; a page reaches such a registry through a front that answers them.
    const front = await preflightFront(port);
    return { host: front.host, storage, tokenRequests, stop: async () => (await front.close(), await stop()) };
  }
  return { host: `127.0.0.1:${port}`, storage, tokenRequests, ...(options.tls ? { cert: readFileSync(join(dir, "tls-cert.pem"), "utf8") } : {}), stop };
}

/** Resolves once 127.0.0.1:`port` answers HTTPS (its certificate not checked). */
/** Through node:http, not fetch: that refuses the bad ports a registry may be started on. */
function httpAnswers(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: "127.0.0.1", port, path: "/v2/" }, (res) => (res.resume(), resolve())).on("error", reject).end();
  });
}

function httpsAnswers(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    httpsGet({ host: "127.0.0.1", port, path: "/v2/", rejectUnauthorized: false }, (res) => (res.resume(), resolve())).on("error", reject);
  });
}

/**
 * A front for an authenticating registry at 127.0.0.1:`port`, as a site would
 * put one: it answers CORS preflights itself (no credentials are sent with
 * them) and passes every other request through unchanged, Host included, so
 * the registry's Location headers name the front.
 */
async function preflightFront(port: number): Promise<{ host: string; close(): Promise<void> }> {
  const server = createHttpServer((req, res) => {
    if (req.method === "OPTIONS") return void res.writeHead(204, CORS).end();
    const upstream = httpRequest({ host: "127.0.0.1", port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return { host, close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))) };
}

/** The key id docker's libtrust derives from a public key, which distribution matches with a token's `kid`. */
function libtrustKeyId(spkiDer: Buffer): string {
  const sum = createHash("sha256").update(spkiDer).digest().subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of sum) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out.match(/.{4}/g)!.join(":");
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** bcrypt through libxcrypt (python3's crypt module): the only hash distribution's htpasswd accepts. */
function bcrypt(password: string): string {
  return execFileSync("python3", ["-W", "ignore", "-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))", password], { encoding: "utf8" }).trim();
}

/**
 * A peer tool (skopeo, umoci), run asynchronously: the token server lives in
 * this process and must keep answering while the tool runs.
 */
export function runTool(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(" ")} failed: ${stderr || err.message}`));
      else resolve(stdout);
    });
  });
}

/** `skopeo copy` into or out of a registry (the peer tool that seeds test images). */
export async function skopeoCopy(src: string, dest: string, extra: string[] = []): Promise<void> {
  await runTool("skopeo", ["copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", ...extra, src, dest]);
}
