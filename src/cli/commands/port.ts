import { ContainerError, UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";

const USAGE = `Usage: tsbox port CONTAINER [PRIVATE_PORT[/PROTO]]

List a running container's published ports (or the host address of one).
`;

export async function portCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, []);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const [ref, wanted, extra] = flags.positionals;
  if (ref === undefined || extra !== undefined) throw new UsageError(`"tsbox port" takes a container and optionally a port (${USAGE.split("\n")[0]})`);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const ports = await (await runtime.get(ref)).ports();
  if (wanted === undefined) {
    for (const p of ports) ctx.stdout.write(`${p.containerPort}/${p.protocol} -> ${p.hostIp}:${p.hostPort}\n`);
    return 0;
  }
  const [port, proto = "tcp"] = wanted.split("/");
  if (!/^\d+$/.test(port ?? "") || (proto !== "tcp" && proto !== "udp")) throw new UsageError(`invalid port ${wanted}: expected PORT[/tcp|udp]`);
  const matches = ports.filter((p) => p.containerPort === Number(port) && p.protocol === proto);
  // A lookup that found nothing, not a usage error: docker-cli's port.go returns a plain error (exit 1).
  if (matches.length === 0) throw new ContainerError(`no public port '${port}/${proto}' published for ${ref}`);
  for (const p of matches) ctx.stdout.write(`${p.hostIp}:${p.hostPort}\n`);
  return 0;
}
