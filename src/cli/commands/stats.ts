import { totalmem } from "node:os";
import type { ContainerStats } from "../../backends/backend.js";
import type { Container } from "../../container.js";
import { errorMessage, hasReason } from "../../errors.js";
import type { CliContext } from "../context.js";
import { cliRuntime } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";
import { bytesSize, humanSize, shortId } from "../format.js";
import { type FormatDefaults, type PreparedFormat, prepareFormat, renderFormatted } from "../format-output.js";
import { strictContext } from "../format-template-exec.js";

const USAGE = `Usage: tsbox stats [OPTIONS] [CONTAINER...]

Show containers' resource use, refreshed every second (default: all running ones).

Options:
  -a, --all          All containers, not only running ones
      --no-stream    One frame (its CPU % over a second, as every frame's), then exit
      --no-trunc     Full container ids
      --format F     json, or a template of {{.Container}} {{.Name}} {{.ID}} {{.CPUPerc}}
                     {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}} {{.PIDs}} ("table " prefix: with a header)
`;

interface Row {
  Container: string;
  ID: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
}

export async function statsCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "all", short: "a" }, { name: "no-stream" }, { name: "no-trunc" }, { name: "format", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const runtime = cliRuntime(ctx);
  const pick = async (): Promise<Container[]> =>
    flags.positionals.length > 0 ? Promise.all(flags.positionals.map((r) => runtime.get(r))) : runtime.list({ all: flags.bools.has("all") });
  const format = prepareFormat(lastValue(flags, "format"), STATS_FORMAT);
  const noTrunc = flags.bools.has("no-trunc");
  const live = !flags.bools.has("no-stream");
  const clear = live && (ctx.stdout as NodeJS.WriteStream).isTTY === true;
  const previous = new Map<string, { usageUsec: number; at: number }>();
  // docker's CPU % is over the interval between two samples (precpu_stats and cpu_stats, the daemon's 1 s
  // collection), its first frame and --no-stream's one too: a container idle for a minute and busy now shows
  // its use now, not its average since it started.
  if (await firstSamples(await pick(), previous)) await new Promise((resolve) => setTimeout(resolve, SAMPLE_INTERVAL_MS));
  for (;;) {
    const containers = await pick();
    const rows: Row[] = [];
    let failed = 0;
    let uncounted = 0;
    for (const c of containers) {
      try {
        // A container that is not running has no cgroup to read: docker's row of zeros, not an error.
        rows.push(c.running ? await sampleRow(c, previous, noTrunc) : idleRow(c, noTrunc));
      } catch (err) {
        if (flags.positionals.length === 0 && !c.running) continue;
        // Listing all: one without a cgroup (rootless without delegation) is a row of "--", not the end of the table.
        if (flags.positionals.length === 0 && hasReason(err, "no_cgroup")) {
          rows.push(unknownRow(c, noTrunc));
          uncounted++;
          continue;
        }
        ctx.stderr.write(`tsbox: ${errorMessage(err)}\n`);
        failed++;
      }
    }
    if (failed > 0 && rows.length === 0) return 1;
    ctx.stdout.write((clear ? "\x1b[2J\x1b[H" : "") + render(rows, format));
    if (uncounted > 0 && !live) ctx.stderr.write(`tsbox: warning: ${uncounted === 1 ? "1 container runs" : `${uncounted} containers run`} without a cgroup (see tsbox info): "--" for its figures\n`);
    if (!live) return failed > 0 ? 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** docker's collection interval: the CPU % of a frame is over at least this long. */
const SAMPLE_INTERVAL_MS = 1000;

/** Each running container's CPU time now, in `previous`; false when there was none to sample. */
async function firstSamples(containers: Container[], previous: Map<string, { usageUsec: number; at: number }>): Promise<boolean> {
  let any = false;
  for (const c of containers.filter((c) => c.running)) {
    // One that cannot be sampled (no cgroup, gone meanwhile) is reported by the frame that follows.
    const s = await c.stats().catch(() => undefined);
    if (!s) continue;
    previous.set(c.id, { usageUsec: s.cpu.usageUsec, at: Date.now() });
    any = true;
  }
  return any;
}

async function sampleRow(c: Container, previous: Map<string, { usageUsec: number; at: number }>, noTrunc: boolean): Promise<Row> {
  const s: ContainerStats = await c.stats();
  const state = await c.state();
  const now = Date.now();
  const before = previous.get(c.id);
  previous.set(c.id, { usageUsec: s.cpu.usageUsec, at: now });
  // Between two samples; for one that started after the first samples were taken, the average since it started.
  let cpu: number;
  if (before) cpu = ((s.cpu.usageUsec - before.usageUsec) / Math.max(1, (now - before.at) * 1000)) * 100;
  else {
    const started = Date.parse(state.started ?? "");
    cpu = Number.isFinite(started) ? (s.cpu.usageUsec / Math.max(1, (now - started) * 1000)) * 100 : 0;
  }
  const limit = s.memory.limit ?? totalmem();
  // docker's calculateMemUsageUnixNoCache: the inactive page cache (a file written and left) is not the container's use.
  const used = s.memory.inactiveFile !== null && s.memory.inactiveFile < s.memory.usage ? s.memory.usage - s.memory.inactiveFile : s.memory.usage;
  const net = s.network;
  return {
    Container: c.name ?? shortId(c.id),
    ID: noTrunc ? c.id : shortId(c.id),
    Name: c.name ?? "--",
    CPUPerc: `${cpu.toFixed(2)}%`,
    MemUsage: `${bytesSize(used)} / ${bytesSize(limit)}`,
    MemPerc: `${((used / limit) * 100).toFixed(2)}%`,
    NetIO: net ? `${humanSize(net.rxBytes)} / ${humanSize(net.txBytes)}` : "--",
    BlockIO: `${humanSize(s.io.readBytes)} / ${humanSize(s.io.writeBytes)}`,
    PIDs: String(s.pids.current),
  };
}

function idleRow(c: Container, noTrunc: boolean): Row {
  return {
    Container: c.name ?? shortId(c.id),
    ID: noTrunc ? c.id : shortId(c.id),
    Name: c.name ?? "--",
    CPUPerc: "0.00%",
    MemUsage: "0B / 0B",
    MemPerc: "0.00%",
    NetIO: "0B / 0B",
    BlockIO: "0B / 0B",
    PIDs: "0",
  };
}

function unknownRow(c: Container, noTrunc: boolean): Row {
  return { ...idleRow(c, noTrunc), CPUPerc: "--", MemUsage: "-- / --", MemPerc: "--", NetIO: "--", BlockIO: "--", PIDs: "--" };
}

/** docker's stats columns (cli/command/container/formatter_stats.go); one table writer with ps and the other listings. */
const STATS_FORMAT: FormatDefaults = {
  table: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
  typeName: "*container.statsContext",
  headers: {
    Container: "CONTAINER",
    ID: "CONTAINER ID",
    Name: "NAME",
    CPUPerc: "CPU %",
    MemUsage: "MEM USAGE / LIMIT",
    MemPerc: "MEM %",
    NetIO: "NET I/O",
    BlockIO: "BLOCK I/O",
    PIDs: "PIDS",
  },
};

function render(rows: Row[], format: PreparedFormat): string {
  return renderFormatted(rows.map((r) => strictContext(STATS_FORMAT.typeName, { ...r })), format, STATS_FORMAT);
}
