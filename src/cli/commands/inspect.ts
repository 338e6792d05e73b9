import { errorMessage, UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags, platformFlag } from "../flags.js";
import type { Platform } from "../../image/oci.js";
import { formatTemplate, renderTemplate } from "../format-template-exec.js";
import { parseTemplate } from "../format-template-parse.js";

const USAGE = `Usage: tsbox inspect [OPTIONS] NAME|ID [NAME|ID...]

Show containers, images or volumes in docker's JSON shape.

Options:
  -f, --format TEMPLATE   Render each with a Go template, e.g. '{{.State.Running}}' or '{{json .Config}}'
      --type TYPE         container, image or volume (default: a container, else an image)
      --platform OS/ARCH  Which platform of an image (default: the backend's, else the one the store has)
`;

type Kind = "container" | "image" | "volume";

export async function inspectCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "format", short: "f", value: true },
    { name: "type", value: true },
    { name: "size", short: "s" },
    { name: "platform", value: true },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length === 0) throw new UsageError(`"tsbox inspect" requires at least 1 argument`);
  const type = lastValue(flags, "type");
  if (type !== undefined && !["container", "image", "volume"].includes(type)) throw new UsageError(`"${type}" is not a valid value for --type`);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  return printInspected(ctx, flags.positionals, lastValue(flags, "format"), (ref) => inspectOne(runtime, ref, type as Kind | undefined, platformFlag(flags)));
}

async function inspectOne(runtime: Runtime, ref: string, type: Kind | undefined, platform: Platform | undefined): Promise<unknown> {
  if (type === "volume") return runtime.volumes.inspect(ref);
  if (type !== "image") {
    try {
      return await runtime.inspectContainer(ref);
    } catch (err) {
      if (type === "container") throw err;
    }
  }
  try {
    return await runtime.inspectImage(ref, platform ? { platform } : {});
  } catch (err) {
    // A plain word could have named either: docker's message then.
    if (type === undefined && /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(ref)) throw new UsageError(`no such object: ${ref}`);
    throw err;
  }
}

/**
 * docker's inspect output: a JSON array (4-space indent) of every object
 * found, or each rendered with `--format` on its own line; one error line
 * per name not found, exit status 1 if any was not.
 */
export async function printInspected(ctx: CliContext, refs: string[], format: string | undefined, find: (ref: string) => Promise<unknown>): Promise<number> {
  const template = format === undefined ? undefined : parseTemplate(formatTemplate(format));
  const found: unknown[] = [];
  let code = 0;
  for (const ref of refs) {
    try {
      const value = await find(ref);
      if (template) ctx.stdout.write(renderTemplate(template, value) + "\n");
      else found.push(value);
    } catch (err) {
      if (err instanceof UsageError && err.message.startsWith("template")) throw err;
      ctx.stderr.write(`tsbox: ${errorMessage(err)}\n`);
      code = 1;
    }
  }
  if (!template) ctx.stdout.write(JSON.stringify(found, null, 4) + "\n");
  return code;
}
