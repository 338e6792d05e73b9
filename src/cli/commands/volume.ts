import { UsageError } from "../../errors.js";
import { unknownCommand } from "../unknown-command.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { VolumeInfo } from "../../containers/volumes.js";
import { confirm } from "../confirm.js";
import { finishThenDie } from "../interrupt.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { setLabel, setOption } from "../key-value.js";
import { strictContext } from "../format-template-exec.js";
import { type FormatDefaults, writeFormatted } from "../format-output.js";
import { humanSize } from "../format.js";
import { danglingValue, labelMatch, regexMatch } from "../list-filters.js";
import { printInspected } from "./inspect.js";
import { groupUsage, isHelp } from "../group-command.js";

const USAGE = `Usage: tsbox volume COMMAND

Manage volumes.

Commands:
  create [--name] NAME [-l K=V]   Create a volume (no name: an anonymous one); -o K=V: the local
                                  driver's type=none,o=bind,device=DIR or type=tmpfs,device=tmpfs,o=…
  ls [-q] [-f K=V] [--format F]   List volumes (filters: dangling, name, driver, label)
  inspect [-f TEMPLATE] NAME...   Show volumes as JSON
  rm [-f] NAME...                 Remove volumes no container uses
  prune [-a] [-f] [--filter K=V]  Remove unused anonymous volumes (-a: all unused volumes)
`;

const VOLUME_FORMAT: FormatDefaults = {
  table: "table {{.Driver}}\t{{.Name}}",
  quiet: "{{.Name}}",
  typeName: "*formatter.volumeContext",
  headers: {
    Name: "VOLUME NAME",
    Driver: "DRIVER",
    Scope: "SCOPE",
    Mountpoint: "MOUNTPOINT",
    Labels: "LABELS",
    Label: (name: unknown) => String(name).toUpperCase(),
    Links: "LINKS",
    Size: "SIZE",
    CreatedAt: "CREATED",
  },
};

export async function volumeCommand(args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub)) return groupUsage(sub, USAGE, ctx);
  const runtime = () => new Runtime({ dataDir: defaultDataDir(ctx.env) });
  switch (sub) {
    case "create":
      return create(rest, ctx, runtime);
    case "ls":
    case "list":
      return list(rest, ctx, runtime);
    case "inspect": {
      const flags = parseFlags(rest, [{ name: "format", short: "f", value: true }]);
      if (flags.help) return ctx.stdout.write("Usage: tsbox volume inspect [-f TEMPLATE] VOLUME...\n"), 0;
      if (flags.positionals.length === 0) throw new UsageError(`"tsbox volume inspect" requires at least 1 argument`);
      const rt = runtime();
      return printInspected(ctx, flags.positionals, lastValue(flags, "format"), async (name) => rt.volumes.inspect(name));
    }
    case "rm":
    case "remove":
      return remove(rest, ctx, runtime);
    case "prune":
      return prune(rest, ctx, runtime);
    default:
      throw unknownCommand(sub, ["create", "ls", "list", "inspect", "rm", "remove", "prune"], "volume");
  }
}

async function create(args: string[], ctx: CliContext, runtime: () => Runtime): Promise<number> {
  const flags = parseFlags(args, [
    { name: "name", value: true },
    { name: "label", short: "l", value: true, repeat: true },
    { name: "driver", short: "d", value: true },
    { name: "opt", short: "o", value: true, repeat: true },
  ]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox volume create [--label K=V] [-o type=none -o o=bind -o device=DIR | -o type=tmpfs -o device=tmpfs [-o o=size=64m]] [NAME]\n"), 0;
  if (flags.positionals.length > 1) throw new UsageError(`"tsbox volume create" takes at most 1 argument`);
  const flagName = lastValue(flags, "name");
  const name = flags.positionals[0] ?? flagName;
  if (flagName !== undefined && flags.positionals[0] !== undefined && flagName !== flags.positionals[0]) {
    throw new UsageError(`conflicting options: either specify --name or provide positional arg, not both`);
  }
  const driver = lastValue(flags, "driver");
  if (driver !== undefined && driver !== "local") throw new UsageError(`volume driver "${driver}" is not available: only local volumes exist here`);
  const labels: Record<string, string> = {};
  for (const l of allValues(flags, "label")) setLabel(labels, l);
  // docker's local driver options (volume-options.ts says which apply).
  const options: Record<string, string> = {};
  for (const o of allValues(flags, "opt")) setOption(options, o, () => `invalid option "${o}" for -o: expected KEY=VALUE (e.g. type=tmpfs)`);
  const volume = await runtime().volumes.create(name, labels, options);
  ctx.stdout.write(volume.Name + "\n");
  return 0;
}

async function list(args: string[], ctx: CliContext, runtime: () => Runtime): Promise<number> {
  const flags = parseFlags(args, [
    { name: "quiet", short: "q" },
    { name: "filter", short: "f", value: true, repeat: true },
    { name: "format", value: true },
  ]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox volume ls [-q] [--filter dangling=true|name=N|driver=D|label=K[=V]] [--format FORMAT]\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox volume ls" takes no arguments`);
  const rt = runtime();
  await rt.volumes.settle();
  const keep = volumeFilter(allValues(flags, "filter"), (name) => rt.volumes.users(name).length > 0);
  const items = rt.volumes.list().filter(keep).map((v) => volumeContext(v, rt));
  writeFormatted(ctx.stdout, items, lastValue(flags, "format"), VOLUME_FORMAT, flags.bools.has("quiet"));
  return 0;
}

async function remove(args: string[], ctx: CliContext, runtime: () => Runtime): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox volume rm [-f] VOLUME...\n"), 0;
  if (flags.positionals.length === 0) throw new UsageError(`"tsbox volume rm" requires at least 1 argument`);
  const rt = runtime();
  let code = 0;
  for (const name of flags.positionals) {
    try {
      await finishThenDie(() => rt.volumes.remove(name, { force: flags.bools.has("force") }));
      ctx.stdout.write(name + "\n");
    } catch (err) {
      ctx.stderr.write(`tsbox: ${(err as Error).message}\n`);
      code = 1;
    }
  }
  return code;
}

async function prune(args: string[], ctx: CliContext, runtime: () => Runtime): Promise<number> {
  const flags = parseFlags(args, [
    { name: "all", short: "a" },
    { name: "force", short: "f" },
    { name: "filter", value: true, repeat: true },
  ]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox volume prune [-a] [-f] [--filter label=K[=V]]\n"), 0;
  const all = flags.bools.has("all");
  const warning = all ? "WARNING! This will remove all local volumes not used by at least one container." : "WARNING! This will remove anonymous local volumes not used by at least one container.";
  if (!(await confirm(ctx, warning, flags.bools.has("force")))) return 0;
  const filter = volumePruneFilter(allValues(flags, "filter"));
  const result = await runtime().volumes.prune({ all, filter });
  ctx.stdout.write(pruneReport("Deleted Volumes", result.removed, result.bytes));
  return 0;
}

/** docker's prune report: the deleted names under a heading, then the space reclaimed. */
export function pruneReport(heading: string, names: string[], bytes: number): string {
  return `${names.length > 0 ? `${heading}:\n${names.join("\n")}\n\n` : ""}Total reclaimed space: ${humanSize(bytes)}\n`;
}

/** `volume prune`'s filters (label=, label!=), which `system prune --volumes` applies too. */
export function volumePruneFilter(specs: string[]): (v: VolumeInfo) => boolean {
  return volumeFilter(specs, () => false, ["label", "label!"]);
}

/** `volume ls`/`prune` filters: dangling=true|false, name=REGEXP, driver=D, label=K[=V], label!=K[=V]. */
function volumeFilter(specs: string[], inUse: (name: string) => boolean, allowed = ["dangling", "name", "driver", "label", "label!"]): (v: VolumeInfo) => boolean {
  const tests: ((v: VolumeInfo) => boolean)[] = [];
  const byKey = new Map<string, string[]>();
  for (const spec of specs) {
    const m = /^([a-z]+!?)=(.*)$/.exec(spec);
    if (!m || !allowed.includes(m[1]!)) throw new UsageError(`invalid filter '${spec}'`);
    byKey.set(m[1]!, [...(byKey.get(m[1]!) ?? []), m[2]!]);
  }
  for (const [key, values] of byKey) {
    if (key === "dangling") {
      const dangling = values.map(danglingValue);
      tests.push((v) => dangling.some((d) => d === !inUse(v.Name)));
    } else if (key === "name") tests.push((v) => values.some((x) => regexMatch(x, v.Name)));
    else if (key === "driver") tests.push((v) => values.includes(v.Driver));
    else if (key === "label") tests.push((v) => values.every((x) => labelMatch(v.Labels, x)));
    else tests.push((v) => values.every((x) => !labelMatch(v.Labels, x)));
  }
  return (v) => tests.every((t) => t(v));
}

function volumeContext(v: VolumeInfo, rt: Runtime): object {
  return strictContext(VOLUME_FORMAT.typeName, {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    CreatedAt: v.CreatedAt,
    Labels: Object.keys(v.Labels)
      .sort()
      .map((k) => `${k}=${v.Labels[k]}`)
      .join(","),
    Label: (name: unknown) => v.Labels[String(name)] ?? "",
    Links: String(rt.volumes.users(v.Name).length),
    Size: "N/A",
  });
}
