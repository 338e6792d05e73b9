import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../fs-util.js";
import { withLockFile } from "../../lock-file.js";
import { DEFAULT_DOMAIN } from "../reference.js";
import { userHome, xdgBaseDir } from "../../paths.js";

/**
 * Registry credentials: `tsbox login` writes `auths` entries (docker's
 * config.json format) to $XDG_CONFIG_HOME/tsbox/auth.json (mode 0600);
 * reading also falls back to docker's own config ($DOCKER_CONFIG/config.json,
 * ~/.docker/config.json), so a `docker login` is honoured: its credential
 * helper (`credHelpers[REGISTRY]`, else `credsStore`) is asked as docker asks
 * it (`docker-credential-NAME get`, the server URL on stdin), else its
 * `auths` entry.
 */
export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [key: string]: unknown;
}

/** Where a registry's credentials are, or were looked for. */
export interface CredentialLookup {
  credentials?: Credentials;
  /** "tsbox" (auth.json), or docker's config file's path. */
  from?: string;
  /** The docker credential helper asked (`docker-credential-NAME`), if any. */
  helper?: string;
  /** Why that helper gave none (not installed, failed, an identity token). */
  problem?: string;
}

/** A credential helper that does not answer in this long is given up on. */
const HELPER_TIMEOUT_MS = 60_000;

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(xdgBaseDir(env, "XDG_CONFIG_HOME", [".config"]), "tsbox");
}

export function authFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), "auth.json");
}

function dockerConfigPath(env: NodeJS.ProcessEnv): string {
  return join(env.DOCKER_CONFIG || join(userHome(env), ".docker"), "config.json");
}

/** Keys an `auths` map may use for a registry host (docker.io has a historical URL). */
function authKeys(domain: string): string[] {
  if (domain === DEFAULT_DOMAIN) return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [domain, `https://${domain}`, `http://${domain}`, `https://${domain}/v1/`, `https://${domain}/v2/`];
}

function readAuthFile(path: string): AuthFile {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as AuthFile;
  } catch {
    return {};
  }
}

function decode(entry: NonNullable<AuthFile["auths"]>[string]): Credentials | undefined {
  if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  if (!entry.auth) return undefined;
  const text = Buffer.from(entry.auth, "base64").toString("utf8");
  const colon = text.indexOf(":");
  if (colon <= 0) return undefined;
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

export function findCredentials(domain: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  return lookupCredentials(domain, env).credentials;
}

/** tsbox's own login first, then docker's: its credential helper for the registry, else its `auths` entry. */
export function lookupCredentials(domain: string, env: NodeJS.ProcessEnv = process.env): CredentialLookup {
  const own = fileEntry(readAuthFile(authFilePath(env)), domain);
  if (own) return { credentials: own, from: "tsbox" };
  const path = dockerConfigPath(env);
  const docker = readAuthFile(path);
  // docker-cli's GetCredentialsStore: the registry's own helper, else the default store.
  const helper = docker.credHelpers?.[authKeys(domain)[0]!] ?? docker.credHelpers?.[domain] ?? docker.credsStore;
  if (helper) {
    const asked = askHelper(`docker-credential-${helper}`, authKeys(domain)[0]!, env);
    if (asked.credentials) return { ...asked, from: path };
    const entry = fileEntry(docker, domain);
    return entry ? { credentials: entry, from: path } : { ...asked, from: path };
  }
  const entry = fileEntry(docker, domain);
  return entry ? { credentials: entry, from: path } : {};
}

function fileEntry(file: AuthFile, domain: string): Credentials | undefined {
  for (const key of authKeys(domain)) {
    const entry = file.auths?.[key];
    const creds = entry && decode(entry);
    if (creds) return creds;
  }
  return undefined;
}

/** `HELPER get` with the server URL on stdin, as docker-credential-helpers' protocol has it. */
function askHelper(helper: string, serverUrl: string, env: NodeJS.ProcessEnv): CredentialLookup {
  if (!/^docker-credential-[\w.-]+$/.test(helper)) return { helper, problem: "not a valid helper name" };
  const r = spawnSync(helper, ["get"], { input: serverUrl, env, encoding: "utf8", timeout: HELPER_TIMEOUT_MS, maxBuffer: 1024 * 1024, stdio: ["pipe", "pipe", "pipe"] });
  // EACCES too: execvp's answer when a PATH directory cannot be searched and no helper was found.
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (r.error) return { helper, problem: code === "ENOENT" || code === "EACCES" ? `no executable ${helper} on PATH` : r.error.message };
  // "credentials not found in native keychain": none stored, which is no fault.
  if (r.status !== 0) return /credentials not found/i.test(r.stdout + r.stderr) ? { helper } : { helper, problem: `${helper} failed: ${(r.stderr || r.stdout).trim().split("\n")[0]}` };
  try {
    const reply = JSON.parse(r.stdout) as { Username?: unknown; Secret?: unknown };
    if (typeof reply.Username !== "string" || typeof reply.Secret !== "string" || reply.Secret === "") return { helper };
    // An identity token (OAuth refresh token) is docker's login to Docker Hub or an ACR: tsbox has no OAuth flow for it.
    if (reply.Username === "<token>") return { helper, problem: `${helper} keeps an identity token, which tsbox cannot use` };
    return { helper, credentials: { username: reply.Username, password: reply.Secret } };
  } catch {
    return { helper, problem: `${helper} did not answer JSON` };
  }
}

async function updateAuthFile(env: NodeJS.ProcessEnv, change: (file: AuthFile) => void): Promise<void> {
  const dir = configDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = authFilePath(env);
  await withLockFile(join(dir, ".auth.lock"), { missing: `no config directory ${dir}`, busy: "another tsbox process is writing the registry credentials", code: "image", directory: true }, async () => {
    const file = readAuthFile(path);
    change(file);
    await writeFileAtomic(path, JSON.stringify(file, null, 2) + "\n", { mode: 0o600, durable: true });
  });
}

export async function saveCredentials(domain: string, creds: Credentials, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const key = authKeys(domain)[0]!;
  await updateAuthFile(env, (file) => {
    file.auths = { ...file.auths, [key]: { auth: Buffer.from(`${creds.username}:${creds.password}`).toString("base64") } };
  });
  return authFilePath(env);
}

/** Returns whether an entry was removed. */
export async function removeCredentials(domain: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  let removed = false;
  await updateAuthFile(env, (file) => {
    for (const key of authKeys(domain)) {
      if (file.auths?.[key]) {
        delete file.auths[key];
        removed = true;
      }
    }
  });
  return removed;
}
