import { errorMessage, hasReason, UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags, platformFlag } from "../flags.js";
import { formatTemplate, renderTemplate } from "../format-template-exec.js";
import { parseTemplate } from "../format-template-parse.js";
import { withTypedNils } from "../inspect-typed-nils.js";
import { networkInspector } from "./network.js";
import { containerSizes } from "./ps-context.js";

const USAGE = `Usage: tsbox inspect [OPTIONS] NAME|ID [NAME|ID...]

Show containers, images, networks or volumes in docker's JSON shape.

Options:
  -f, --format TEMPLATE   Render each with a Go template, e.g. '{{.State.Running}}' or '{{json .Config}}'
      --type TYPE         container, image, network or volume (default: the first of them by that name, in this order)
      --platform OS/ARCH  Which platform of an image (default: the backend's, else the one the store has)
  -s, --size              A container's sizes (SizeRw, SizeRootFs)
`;

const KINDS = ["container", "image", "network", "volume"] as const;
type Kind = (typeof KINDS)[number];

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
  if (type !== undefined && !(KINDS as readonly string[]).includes(type)) throw new UsageError(`"${type}" is not a valid value for --type`);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const platform = platformFlag(flags);
  const network = networkInspector(runtime);
  const finders: Record<Kind, (ref: string) => Promise<unknown>> = {
    // -s: docker's SizeRw and SizeRootFs, which only a container has.
    container: async (ref) => {
      const c = await runtime.inspectContainer(ref);
      if (!flags.bools.has("size")) return c;
      const { rw, rootFs } = await containerSizes(c);
      return { ...c, SizeRw: rw, SizeRootFs: rootFs };
    },
    image: (ref) => runtime.inspectImage(ref, platform ? { platform } : {}),
    network,
    volume: async (ref) => runtime.volumes.inspect(ref),
  };
  const format = lastValue(flags, "format");
  // A template sees a container's or image's nil slices and maps as docker's typed structs show them (`[]`, `map[]`).
  const find = async (ref: string) => {
    const { kind, value } = await inspectOne(finders, ref, type as Kind | undefined);
    return format !== undefined && format !== "json" && (kind === "container" || kind === "image") ? withTypedNils(kind, value) : value;
  };
  return printInspected(ctx, flags.positionals, format, find);
}

/** docker-cli's inspect: with --type that kind; without, each kind in turn (container, image, network, volume). */
async function inspectOne(finders: Record<Kind, (ref: string) => Promise<unknown>>, ref: string, type: Kind | undefined): Promise<{ kind: Kind; value: unknown }> {
  if (type !== undefined) return { kind: type, value: await finders[type](ref) };
  let imageError: unknown;
  for (const kind of KINDS) {
    try {
      return { kind, value: await finders[kind](ref) };
    } catch (err) {
      // docker-cli goes on to the next kind only when this one has no such object: an ambiguous id prefix is said.
      if (hasReason(err, "ambiguous")) throw err;
      if (kind === "image") imageError = err;
    }
  }
  // A plain word (or /name) could have named any: docker's message then; else the image's (a bad reference says why).
  if (/^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(ref)) throw new UsageError(`no such object: ${ref}`);
  throw imageError;
}

/**
 * docker's inspect output: a JSON array (4-space indent) of every object
 * found, or each rendered with `--format` on its own line; one error line
 * per name not found, exit status 1 if any was not.
 */
export async function printInspected(ctx: CliContext, refs: string[], format: string | undefined, find: (ref: string) => Promise<unknown>): Promise<number> {
  // `--format json` is docker-cli's JSON inspector (docker 24+): the default array, compact on one line, so
  // `| jq '.[0].State'` reads either; `{{json .}}` stays a template, an object per line.
  const compact = format === "json";
  const template = format === undefined || compact ? undefined : parseTemplate(formatTemplate(format));
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
  if (!template) ctx.stdout.write((compact ? JSON.stringify(found) : JSON.stringify(found, null, 4)) + "\n");
  return code;
}
