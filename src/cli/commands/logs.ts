import { once } from "node:events";
import type { Writable } from "node:stream";
import { UsageError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { cliRuntime } from "../each-container.js";
import { lastValue, parseFlags } from "../flags.js";
import { parseTimeArg } from "../time-arg.js";
import { logIncomplete } from "../../containers/logs.js";

const USAGE = `Usage: tsbox logs [OPTIONS] CONTAINER

Show the output a container wrote (every container keeps it, unless it runs with --log-driver none).

Options:
  -f, --follow         Keep printing new output until the container stops
      --tail N         Only the last N lines ("all" for everything)
      --since TIME     Only output from TIME on (2024-01-02T15:04:05Z, Unix seconds, or 10m ago)
      --until TIME     Only output before TIME
  -t, --timestamps     Prefix each line with its time
      --details        Prefix each line with its extra attributes (docker's --log-opt labels/env;
                       tsbox records none, so the prefix is docker's empty one: a space)
`;

export async function logsCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "follow", short: "f" },
    { name: "tail", short: "n", value: true },
    { name: "since", value: true },
    { name: "until", value: true },
    { name: "timestamps", short: "t" },
    { name: "details" },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox logs" requires exactly 1 container`);
  const tailGiven = lastValue(flags, "tail");
  // docker takes a negative count as "all".
  const tailText = tailGiven !== undefined && /^-\d+$/.test(tailGiven) ? "all" : tailGiven;
  if (tailText !== undefined && tailText !== "all" && !/^\d+$/.test(tailText)) throw new UsageError(`invalid value "${tailText}" for --tail: a number or "all"`);
  const since = lastValue(flags, "since");
  const until = lastValue(flags, "until");
  const container = await cliRuntime(ctx).get(flags.positionals[0]!);
  const stamps = flags.bools.has("timestamps");
  // docker's daemon puts the entry's attributes ("k=v,k2=v2", empty here) and a space before a line with --details.
  const details = flags.bools.has("details") ? " " : "";
  // Ctrl-C ends a follow quietly, as docker's does.
  const stop = () => process.exit(0);
  process.once("SIGINT", stop);
  try {
    for await (const entry of container.logs({
      follow: flags.bools.has("follow"),
      ...(tailText !== undefined && tailText !== "all" ? { tail: Number(tailText) } : {}),
      ...(since !== undefined ? { since: parseTimeArg(since, "--since") } : {}),
      ...(until !== undefined ? { until: parseTimeArg(until, "--until") } : {}),
    })) {
      const out: Writable = entry.stream === "stderr" ? ctx.stderr : ctx.stdout;
      if (!out.write(stamps ? `${entry.time} ${details}${entry.data}` : details + entry.data)) await once(out, "drain");
    }
  } finally {
    process.off("SIGINT", stop);
  }
  // What a full disk kept out of the log: the output above is not all the container printed.
  if (logIncomplete(container.lifecycleContext().paths.container(container.id).dir)) {
    ctx.stderr.write("tsbox: warning: this log is incomplete: some of the container's output could not be written to it (the disk was full)\n");
  }
  return 0;
}
