import { UsageError } from "../../errors.js";
import { endRecorded, readState } from "../../containers/state.js";
import { DataPaths } from "../../paths.js";
import { startAttached, streamAttachment } from "../attach-io.js";
import { type CliContext, cliWarning } from "../context.js";
import { cliRuntime, eachContainer } from "../each-container.js";
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from "../detach-keys.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { matchFilters, parseFilters, psEntries, restartPolicyName } from "./ps-context.js";

const USAGE = `Usage: tsbox start [-a] [-i] CONTAINER [CONTAINER...]
       tsbox start --all [--filter K=V]...

Start created or stopped containers in the background (under a monitor).

Options:
      --all                Every container not running (an unless-stopped one the user stopped stays stopped)
  -f, --filter K=V         With --all: only those ps --filter K=V lists (e.g. restart-policy=always)
  -a, --attach             Attach to its output and wait for it (exit with its code)
  -i, --interactive        Attach its stdin too (it must have been created with -i)
      --detach-keys KEYS   Keys that leave its terminal, it running (default ${DEFAULT_DETACH_KEYS})
`;

export async function startCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "attach", short: "a" },
    { name: "interactive", short: "i" },
    { name: "detach-keys", value: true },
    { name: "all" },
    { name: "filter", short: "f", value: true, repeat: true },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  const attach = flags.bools.has("attach");
  const interactive = flags.bools.has("interactive");
  const filters = allValues(flags, "filter");
  if (flags.bools.has("all")) {
    if (attach || interactive || flags.positionals.length > 0) throw new UsageError("tsbox start --all takes no containers, nor -a/-i");
    const refs = await stoppedMatching(ctx, filters);
    return refs.length === 0 ? 0 : startEach(ctx, refs);
  }
  if (filters.length > 0) throw new UsageError("tsbox start: --filter goes with --all");
  if (!attach && !interactive) return startEach(ctx, flags.positionals);
  if (flags.positionals.length !== 1) throw new UsageError("tsbox start -a/-i takes exactly one container");
  const detachKeys = parseDetachKeys(lastValue(flags, "detach-keys") ?? DEFAULT_DETACH_KEYS);
  const container = await cliRuntime(ctx).get(flags.positionals[0]!);
  const attachment = await startAttached(container, { stdin: interactive, stdout: true, stderr: true, stdinOnce: interactive }, cliWarning(ctx));
  return streamAttachment(container, attachment, { interactive, sigProxy: true, detachKeys });
}

/** Each container started; those that failed are named after their errors, as docker's `failed to start containers: a, b`. */
async function startEach(ctx: CliContext, refs: string[]): Promise<number> {
  const failed: string[] = [];
  const code = await eachContainer(ctx, "start", refs, async (c, ref) => {
    await c.start({ onWarning: cliWarning(ctx) }).catch((err: unknown) => {
      failed.push(ref);
      throw err;
    });
  });
  if (failed.length > 0) ctx.stderr.write(`tsbox: failed to start containers: ${failed.join(", ")}\n`);
  return code;
}

/**
 * podman's `start --all [--filter]` (what its podman-restart.service runs at boot): the containers not running
 * that `ps -a --filter` lists, oldest first, but not an `unless-stopped` one the user stopped (docker's daemon
 * leaves it at its start; tsbox has no daemon, so the boot recipe in README runs this).
 */
async function stoppedMatching(ctx: CliContext, filters: string[]): Promise<string[]> {
  const runtime = cliRuntime(ctx);
  const paths = new DataPaths(runtime.dataDir);
  const entries = await matchFilters(await psEntries(runtime), parseFilters(filters), runtime);
  return entries
    .map((e) => e.inspect)
    // Running is true when paused or restarting too.
    .filter((c) => !c.State.Running)
    .filter((c) => {
      if (restartPolicyName(c) !== "unless-stopped") return true;
      const raw = readState(paths.container(c.Id));
      return raw !== undefined && !endRecorded(raw);
    })
    .map((c) => c.Name.replace(/^\//, "") || c.Id)
    .reverse();
}
