import { UsageError } from "../../errors.js";
import { RegistryClient } from "../../image/registry/client.js";
import { lookupCredentials, removeCredentials, saveCredentials } from "../../image/registry/credentials.js";
import { DEFAULT_DOMAIN } from "../../image/reference.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags } from "../flags.js";
import { readStdin } from "../read-stdin.js";

const USAGE = `Usage: tsbox login [OPTIONS] [REGISTRY]

Log in to a registry (default docker.io). The credentials are checked, then
stored in $XDG_CONFIG_HOME/tsbox/auth.json (mode 0600, docker's format).
Credentials from docker's own ~/.docker/config.json are also used (its
credential helper, credsStore/credHelpers, is asked as docker asks it).

Options:
  -u, --username USER    Username
  -p, --password PASS    Password (visible to other users: prefer --password-stdin)
      --password-stdin   Read the password from stdin
`;

const LOGOUT_USAGE = `Usage: tsbox logout [REGISTRY]

Remove the credentials tsbox login stored for a registry (default docker.io).
Those in docker's own config are docker's (docker logout removes them).
`;

export async function loginCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "username", short: "u", value: true }, { name: "password", short: "p", value: true }, { name: "password-stdin" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 1) throw new UsageError(`"tsbox login" takes at most one registry`);
  const domain = registryDomain(flags.positionals[0]);
  const username = lastValue(flags, "username");
  let password = lastValue(flags, "password");
  if (flags.bools.has("password-stdin")) {
    if (password !== undefined) throw new UsageError("--password and --password-stdin cannot be used together");
    password = (await readStdin()).toString("utf8").replace(/\r?\n$/, "");
  }
  if (!username || password === undefined || password === "") throw new UsageError(`"tsbox login" needs --username and a password (--password-stdin)`);
  const client = new RegistryClient(domain, { env: ctx.env, credentials: { username, password } });
  await client.ping();
  const file = await saveCredentials(domain, { username, password }, ctx.env);
  ctx.stdout.write(`Login Succeeded (credentials stored in ${file})\n`);
  return 0;
}

export async function logoutCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write(LOGOUT_USAGE), 0;
  if (flags.positionals.length > 1) throw new UsageError(`"tsbox logout" takes at most one registry`);
  const domain = registryDomain(flags.positionals[0]);
  const removed = await removeCredentials(domain, ctx.env);
  ctx.stdout.write(removed ? `Removing login credentials for ${domain}\n` : `Not logged in to ${domain}\n`);
  // Said, as it would otherwise go on using them unseen.
  const docker = lookupCredentials(domain, ctx.env);
  if (docker.credentials) {
    const where = docker.helper ? `${docker.from} (through ${docker.helper})` : docker.from;
    ctx.stderr.write(`tsbox: docker's config ${where} still has credentials for ${domain}, which tsbox uses: docker logout ${domain} removes them\n`);
  }
  return 0;
}

function registryDomain(input: string | undefined): string {
  if (input === undefined) return DEFAULT_DOMAIN;
  const host = input.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  if (!/^[a-zA-Z0-9.-]+(:\d+)?$|^\[[0-9a-fA-F:]+\](:\d+)?$/.test(host)) throw new UsageError(`invalid registry "${input}"`);
  return host === "index.docker.io" || host === "registry-1.docker.io" ? DEFAULT_DOMAIN : host;
}
