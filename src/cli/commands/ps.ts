import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { refuseJsonWith, writeFormatted } from "../format-output.js";
import { containerContext, CONTAINER_FORMAT, imageNamesStillMeant, matchFilters, parseFilters, type PsEntry, psEntries } from "./ps-context.js";

const USAGE = `Usage: tsbox ps [OPTIONS]

List containers (running ones unless -a).

Options:
  -a, --all             Show all containers
  -f, --filter K=V      Filter: id, name, label, status, exited, ancestor, before, since, volume, health,
                        network, publish, expose (PORT[-PORT][/PROTO]), restart-policy
      --format FORMAT   table, table TEMPLATE, json, or a Go template (e.g. {{.Names}})
  -n, --last N          Show the N most recently created containers (all states)
  -l, --latest          Show the most recently created container
      --no-trunc        Do not truncate ids and commands
  -q, --quiet           Only ids
  -s, --size            Show the writable layer's size
      --json            The selected containers' state records as JSON (not with -q or --format)
`;

export async function psCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "all", short: "a" },
    { name: "json" },
    { name: "quiet", short: "q" },
    { name: "filter", short: "f", value: true, repeat: true },
    { name: "format", value: true },
    { name: "last", short: "n", value: true },
    { name: "latest", short: "l" },
    { name: "no-trunc" },
    { name: "size", short: "s" },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox ps" takes no arguments`);
  const lastText = lastValue(flags, "last");
  const last = flags.bools.has("latest") ? 1 : lastText === undefined ? -1 : Number(lastText);
  if (!Number.isInteger(last)) throw new UsageError(`invalid value "${lastText}" for flag -n: expected a number`);
  const filters = parseFilters(allValues(flags, "filter"));

  const format = lastValue(flags, "format");
  const json = flags.bools.has("json");
  refuseJsonWith(json, format, flags.bools.has("quiet"));

  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  // One selection (-a, --filter, -n/-l) for every output form; then the form.
  // docker: -n/-l and a status filter look at every container.
  const all = flags.bools.has("all") || last > 0 || filters.has("status") || filters.has("exited");
  let entries: PsEntry[] = await psEntries(runtime);
  if (!all) entries = entries.filter((e) => e.inspect.State.Running);
  entries = await matchFilters(entries, filters, runtime);
  if (last > 0) entries = entries.slice(0, last);
  if (json) return ctx.stdout.write(JSON.stringify(entries.map((e) => e.state), null, 2) + "\n"), 0;
  const trunc = !flags.bools.has("no-trunc");
  // docker-cli computes sizes when the template asks for .Size too, not only with -s.
  const size = flags.bools.has("size") || (format !== undefined && /\.Size\b/.test(format));
  // Looked up only where the output shows the image (the default table does).
  const shown = flags.bools.has("quiet") ? false : format === undefined || /\.Image\b/.test(format);
  const namesMeant = shown ? await imageNamesStillMeant(entries, runtime) : undefined;
  const items = await Promise.all(entries.map((e) => containerContext(e, { trunc, size, ...(namesMeant ? { namesMeant } : {}) })));
  const defaults = flags.bools.has("size") && format === undefined ? { ...CONTAINER_FORMAT, table: CONTAINER_FORMAT.table + "\t{{.Size}}" } : CONTAINER_FORMAT;
  writeFormatted(ctx.stdout, items, format, defaults, flags.bools.has("quiet"));
  return 0;
}
