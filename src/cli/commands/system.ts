import { UsageError } from "../../errors.js";
import { unknownCommand } from "../unknown-command.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import { confirm } from "../confirm.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { strictContext } from "../format-template-exec.js";
import { type FormatDefaults, writeFormatted } from "../format-output.js";
import { humanSize, shortId, table, timeAgo, truncate } from "../format.js";
import { groupUsage, isHelp } from "../group-command.js";
import { imagePruneLines, prunedContainerErrors, pruneFilterFlag } from "./prune.js";
import { psEntries, statusText } from "./ps-context.js";
import { volumePruneFilter } from "./volume.js";

const USAGE = `Usage: tsbox system COMMAND

Commands:
  df [-v] [--format F]           Show disk usage of images, containers and volumes
  events [OPTIONS]               Show container events (tsbox events)
  info [OPTIONS]                 Show how tsbox runs here (tsbox info)
  prune [-a] [--volumes] [-f]    Remove stopped containers, unused networks, unused images (-a:
                                 all unused, else unnamed ones), the build cache and with
                                 --volumes unused anonymous volumes
`;

const PRUNE_USAGE = `Usage: tsbox system prune [OPTIONS]

Remove stopped containers, networks no container uses, unnamed images and the build cache
(RUN --mount=type=cache directories), then the blobs and layers nothing needs.

Options:
  -a, --all       Remove every image no container uses, not only unnamed ones
      --volumes   Remove anonymous volumes no container uses too
      --filter F  Only what matches: until=TIME (created before; a time, Unix seconds or a duration
                  such as 24h), label=KEY[=VALUE], label!=KEY[=VALUE]; a filtered prune keeps the build cache
  -f, --force     Do not ask for confirmation
`;

const DF_FORMAT: FormatDefaults = {
  table: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
  typeName: "*formatter.diskUsageImagesContext",
  headers: { Type: "TYPE", TotalCount: "TOTAL", Active: "ACTIVE", Size: "SIZE", Reclaimable: "RECLAIMABLE" },
};

export async function systemCommand(args: string[], ctx: CliContext): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub)) return groupUsage(sub, USAGE, ctx);
  if (sub === "df") return df(rest, ctx);
  if (sub === "prune") return prune(rest, ctx);
  if (sub === "info") return (await import("./info.js")).infoCommand(rest, ctx);
  if (sub === "events") return (await import("./events.js")).eventsCommand(rest, ctx);
  throw unknownCommand(sub, ["df", "prune", "info", "events"], "system");
}

async function df(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "verbose", short: "v" }, { name: "format", value: true }]);
  if (flags.help) return ctx.stdout.write("Usage: tsbox system df [-v] [--format FORMAT]\n"), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox system df" takes no arguments`);
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const usage = await runtime.diskUsage();
  const format = lastValue(flags, "format");
  if (!flags.bools.has("verbose") || format !== undefined) {
    const percent = (part: number, whole: number) => (whole === 0 ? "" : ` (${Math.round((part * 100) / whole)}%)`);
    const items = usage.rows.map((r) =>
      strictContext(DF_FORMAT.typeName, {
        Type: r.Type,
        TotalCount: String(r.TotalCount),
        Active: String(r.Active),
        Size: humanSize(r.Size),
        Reclaimable: `${humanSize(r.Reclaimable)}${r.Type === "Build Cache" ? "" : percent(r.Reclaimable, r.Size)}`,
      }),
    );
    writeFormatted(ctx.stdout, items, format, DF_FORMAT);
    return 0;
  }
  ctx.stdout.write("Images space usage:\n\n");
  // With the platform, as `images` lists them (one store holds several of one name), last: docker's columns keep their places.
  ctx.stdout.write(table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "CONTAINERS", "PLATFORM"], usage.images.map((i) => {
    const [repo, tag] = splitName(i.name);
    return [repo, tag, shortId(i.id), timeAgo(i.created), humanSize(i.size), String(i.containers), i.platform];
  })));
  ctx.stdout.write("\nContainers space usage:\n\n");
  // STATUS as ps shows it ("Up 41 seconds", "Exited (3) 29 seconds ago"), as docker's does.
  const now = Date.now();
  const status = new Map((await psEntries(runtime)).map((e) => [e.inspect.Id, statusText(e.inspect, now, e.unknownExit)]));
  ctx.stdout.write(table(["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"], usage.containers.map((c) => [
    shortId(c.id), c.image, JSON.stringify(truncate(c.command.join(" "), 20)), String(c.volumes), humanSize(c.size), timeAgo(c.created), status.get(c.id) ?? c.status, c.name,
  ])));
  ctx.stdout.write("\nLocal Volumes space usage:\n\n");
  ctx.stdout.write(table(["VOLUME NAME", "LINKS", "SIZE"], usage.volumes.map((v) => [v.name, String(v.links), humanSize(v.size)])));
  ctx.stdout.write(`\nBuild cache usage: ${humanSize(usage.rows.find((r) => r.Type === "Build Cache")?.Size ?? 0)}\n`);
  return 0;
}

function splitName(name: string): [string, string] {
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/") ? [name.slice(0, colon), name.slice(colon + 1)] : [name, "<none>"];
}

async function prune(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "all", short: "a" }, { name: "volumes" }, { name: "force", short: "f" }, { name: "filter", value: true, repeat: true }]);
  if (flags.help) return ctx.stdout.write(PRUNE_USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox system prune" takes no arguments`);
  const all = flags.bools.has("all");
  const volumes = flags.bools.has("volumes");
  const warning = [
    "WARNING! This will remove:",
    "  - all stopped containers",
    "  - all networks not used by at least one container",
    ...(volumes ? ["  - all anonymous volumes not used by at least one container"] : []),
    all ? "  - all images without at least one container associated to them" : "  - all dangling images",
    "  - all build cache",
  ].join("\n");
  const filter = pruneFilterFlag(allValues(flags, "filter"));
  // docker's rule: volumes take no `until`, so with one there is no volume prune.
  if (volumes && filter?.until) throw new UsageError(`the until filter is not supported with --volumes`);
  if (!(await confirm(ctx, warning, flags.bools.has("force")))) return 0;
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const containers = await runtime.pruneContainers(filter);
  const networks = await runtime.pruneNetworks(filter);
  // (until is refused above with --volumes, so what is left are volume prune's own label filters.)
  // (Without --volumes, only what killed `volume rm`s left: their volumes are gone already.)
  const vols = volumes ? await runtime.volumes.prune({ filter: volumePruneFilter(allValues(flags, "filter")) }) : { removed: [], bytes: await runtime.volumes.sweepAbandoned() };
  const images = await runtime.pruneImages({ all, ...(filter ? { filter } : {}) });
  // The build cache has no labels or times of its own to filter by: left alone by a filtered prune.
  const cache = filter ? { removed: [], bytes: 0 } : await runtime.pruneBuildCache();
  let out = "";
  if (containers.removed.length > 0) out += `Deleted Containers:\n${containers.removed.join("\n")}\n\n`;
  if (networks.length > 0) out += `Deleted Networks:\n${networks.join("\n")}\n\n`;
  if (vols.removed.length > 0) out += `Deleted Volumes:\n${vols.removed.join("\n")}\n\n`;
  const imageLines = imagePruneLines(images);
  if (imageLines.length > 0) out += `Deleted Images:\n${imageLines.join("\n")}\n\n`;
  if (cache.removed.length > 0) out += `Deleted build cache objects:\n${cache.removed.join("\n")}\n\n`;
  out += `Total reclaimed space: ${humanSize(containers.bytes + vols.bytes + images.bytes + cache.bytes)}\n`;
  ctx.stdout.write(out);
  return prunedContainerErrors(ctx, containers);
}
