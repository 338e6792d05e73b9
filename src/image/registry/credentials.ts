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
 * ~/.docker/config.json), so a `docker login` is honoured. Credential helpers
 * (`credsStore`) are not run.
 */
export interface Credentials {
  username: string;
  password: string;
}

interface AuthFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [key: string]: unknown;
}

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
  for (const path of [authFilePath(env), dockerConfigPath(env)]) {
    const auths = readAuthFile(path).auths ?? {};
    for (const key of authKeys(domain)) {
      const entry = auths[key];
      const creds = entry && decode(entry);
      if (creds) return creds;
    }
  }
  return undefined;
}

async function updateAuthFile(env: NodeJS.ProcessEnv, change: (file: AuthFile) => void): Promise<void> {
  const dir = configDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = authFilePath(env);
  await withLockFile(join(dir, ".auth.lock"), { missing: `no config directory ${dir}`, busy: "another tsbox process is writing the registry credentials", code: "image" }, async () => {
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
