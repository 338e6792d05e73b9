import { tsboxVersion } from "../../version.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags } from "../flags.js";

const USAGE = `Usage: tsbox version [-f TEMPLATE | --json]

Show the version. -f renders docker's shape with a Go template, e.g. '{{.Client.Version}}'.
`;

export async function versionCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "format", short: "f", value: true }, { name: "json" }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const format = lastValue(flags, "format");
  if (format === undefined && !flags.bools.has("json")) {
    ctx.stdout.write(`tsbox ${tsboxVersion()} (node ${process.version}, ${process.platform}/${process.arch})\n`);
    return 0;
  }
  // docker's Client and Server; daemonless, both are this tsbox (podman's local mode has the same answer).
  const side = { Version: tsboxVersion(), NodeVersion: process.version, Os: process.platform, Arch: process.arch === "x64" ? "amd64" : process.arch };
  const data = { Client: side, Server: side };
  if (format === undefined) ctx.stdout.write(JSON.stringify(data, null, 2) + "\n");
  else {
    const { formatTemplate, renderTemplate } = await import("../format-template-exec.js");
    ctx.stdout.write(renderTemplate(formatTemplate(format), data) + "\n");
  }
  return 0;
}
