import { TsboxError, UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { withInterrupt } from "../interrupt.js";

const USAGE = `Usage: tsbox cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-
       tsbox cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH

Copy files between a container (running or not) and the host. "-" is a tar
archive on stdout (copying out) or stdin (copying in, extracted into a directory).

Options:
  -a, --archive       Keep owners (uid/gid) as they are in the source
  -L, --follow-link   Follow SRC_PATH itself when it is a symlink
  -q, --quiet         Print nothing (tsbox prints nothing anyway)
`;

type CopyArg = ReturnType<typeof splitCopyArg>;

/** `CTR:PATH` names a container unless it starts like a local path (docker's rule: `/`, `.`, or no colon). */
export function splitCopyArg(arg: string): { container?: string; path: string } {
  if (arg.startsWith("/") || arg.startsWith(".")) return { path: arg };
  const colon = arg.indexOf(":");
  if (colon <= 0) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

export async function cpCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "archive", short: "a" },
    { name: "follow-link", short: "L" },
    { name: "quiet", short: "q" },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 2) throw new UsageError(`"tsbox cp" requires exactly 2 arguments (tsbox cp CONTAINER:SRC DEST or SRC CONTAINER:DEST)`);
  const [src, dest] = flags.positionals.map(splitCopyArg) as [CopyArg, CopyArg];
  if (src.container !== undefined && dest.container !== undefined) throw new TsboxError("copying between containers is not supported");
  if (src.container === undefined && dest.container === undefined) throw new UsageError("must specify at least one container source");
  const options = { archive: flags.bools.has("archive"), follow: flags.bools.has("follow-link") };
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  // Ctrl-C (which reaches the copy helpers too: one process group) or a SIGTERM of this process alone ends the
  // helpers: the writer removes the file it was writing under its temporary name, so what DEST named stays as it
  // was; the command says so and exits 130 or 143.
  return withInterrupt(ctx, "cp", (signal) => copy(runtime, src, dest, { ...options, signal }, ctx));
}

async function copy(runtime: Runtime, src: CopyArg, dest: CopyArg, options: { archive: boolean; follow: boolean; signal: AbortSignal }, ctx: CliContext): Promise<number> {
  if (src.container !== undefined) {
    if (src.path === "") throw new UsageError("empty source path in the container");
    if (dest.path === "-") {
      if ((ctx.stdout as { isTTY?: boolean }).isTTY) throw new UsageError("refusing to write a tar archive to a terminal: redirect stdout");
      await runtime.copyFrom(src.container, src.path, ctx.stdout, { ...options, end: false });
    } else {
      await runtime.copyFrom(src.container, src.path, dest.path, options);
    }
    return 0;
  }
  if (dest.path === "") throw new UsageError("empty destination path in the container");
  if (src.path === "-") {
    if (process.stdin.isTTY) throw new UsageError("no tar archive on stdin: redirect stdin");
    await runtime.copyTo(dest.container!, process.stdin, dest.path, options);
  } else {
    await runtime.copyTo(dest.container!, src.path, dest.path, options);
  }
  return 0;
}
