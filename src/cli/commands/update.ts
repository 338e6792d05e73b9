import { UsageError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { eachContainer } from "../each-container.js";
import { parseFlags } from "../flags.js";
import { RESOURCE_FLAGS, resourceOptions } from "../resource-flags.js";

const LIMIT_FLAGS = RESOURCE_FLAGS.filter((f) => !["oom-score-adj", "cgroups", "cgroup-parent"].includes(f.name));

const USAGE = `Usage: tsbox update [OPTIONS] CONTAINER [CONTAINER...]

Change the cgroup limits of containers: a running one gets them at once, and every later start keeps them.

Options:
  -m, --memory BYTES       Memory limit (e.g. 64m)
      --memory-swap BYTES  Memory + swap limit (-1: unlimited swap)
      --memory-reservation BYTES  Memory soft limit
      --cpus N             Number of CPUs (e.g. 0.5)
  -c, --cpu-shares N       CPU shares (relative weight)
      --cpu-period US      CFS period in microseconds
      --cpu-quota US       CFS quota in microseconds per period
      --cpuset-cpus LIST   CPUs allowed (e.g. 0-1)
      --pids-limit N       Process limit (-1: unlimited)
      --blkio-weight N     Block I/O weight (10 to 1000)
`;

export async function updateCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [...LIMIT_FLAGS, { name: "restart", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.values.has("restart")) throw new UsageError("tsbox update --restart is not supported: recreate the container with the policy");
  const change = resourceOptions(flags).resources;
  if (!change) throw new UsageError("you must provide one or more flags when using this command");
  return eachContainer(ctx, "update", flags.positionals, async (c) => {
    const warning = await c.update(change);
    if (warning) ctx.stderr.write(`tsbox: warning: ${warning}\n`);
  });
}
