import { UsageError } from "../../errors.js";
import { type CliContext, cliWarning } from "../context.js";
import { eachContainer } from "../each-container.js";
import { parseFlags } from "../flags.js";
import { RESOURCE_FLAGS, resourceOptions } from "../resource-flags.js";
import { parseRestartPolicy } from "../../containers/restart-policy.js";

const LIMIT_FLAGS = RESOURCE_FLAGS.filter((f) => !["oom-score-adj", "cgroups", "cgroup-parent"].includes(f.name));

const USAGE = `Usage: tsbox update [OPTIONS] CONTAINER [CONTAINER...]

Change the cgroup limits and the restart policy of containers: a running one gets them at once, and every
later start keeps them.

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
      --restart POLICY     Restart policy: no, always, unless-stopped, on-failure[:max-retries]
`;

export async function updateCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [...LIMIT_FLAGS, { name: "restart", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const resources = resourceOptions(flags).resources;
  const restart = flags.values.get("restart")?.at(-1);
  if (!resources && restart === undefined) throw new UsageError("you must provide one or more flags when using this command");
  // An invalid policy is one usage error (125), not a failure per container.
  if (restart !== undefined) parseRestartPolicy(restart);
  return eachContainer(ctx, "update", flags.positionals, async (c) => {
    const warning = await c.update({ ...resources, ...(restart !== undefined ? { restart } : {}) });
    if (warning) cliWarning(ctx)(warning);
  });
}
