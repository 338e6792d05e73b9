import { existsSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { setLabel } from "../key-value.js";
import { withInterrupt } from "../interrupt.js";
import { readStdin } from "../read-stdin.js";
import { shortId } from "../format.js";

const USAGE = `Usage: tsbox build [OPTIONS] PATH | -

Build an image from a Dockerfile. PATH is the build context; - reads stdin:
a tar archive (plain, or gzip, bzip2, xz or zstd-compressed) is the context, with its Dockerfile inside
(-f names another path in it); anything else is the Dockerfile, built with
no context.

Options:
      --build-arg LIST    A build-time variable: KEY=VALUE, or KEY to take its value from the environment
  -f, --file STRING       The Dockerfile (default PATH/Dockerfile; relative to the current directory, or
                          to the archive with - as PATH; - reads it from stdin)
      --iidfile STRING    Write the image ID to the file
      --label LIST        Set metadata for the image (KEY=VALUE)
      --network STRING    The network of RUN instructions (default, none, host, or a network's name)
      --no-cache          Run every step again instead of taking earlier builds' results
      --pull              Pull every FROM image, even one the store has
  -q, --quiet             Only the image ID (on stdout); a failed step's output still shows
  -t, --tag LIST          Name (and tag) the image: NAME[:TAG]
      --target STRING     Build this stage (default the last)
      --platform STRING   The image's platform: only this runtime's
      --progress STRING   auto, plain or tty (the output is plain text either way)
      --rm, --force-rm    Accepted: the step containers are always removed

Progress and RUN's output go to stderr.
`;

export async function buildCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "build-arg", value: true, repeat: true },
    { name: "file", short: "f", value: true },
    { name: "iidfile", value: true },
    { name: "label", value: true, repeat: true },
    { name: "network", value: true },
    { name: "no-cache" },
    { name: "pull" },
    { name: "quiet", short: "q" },
    { name: "tag", short: "t", value: true, repeat: true },
    { name: "target", value: true },
    { name: "platform", value: true },
    { name: "progress", value: true },
    { name: "rm" },
    { name: "force-rm" },
  ]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length !== 1) throw new UsageError(`"tsbox build" requires exactly 1 argument: the build context (PATH, or - for stdin)`);
  const [path] = flags.positionals as [string];
  if (/^(https?|git):\/\/|^git@/.test(path)) throw new UsageError(`building from a URL or git repository is not supported: clone or download it, then build the directory`);
  const progress = lastValue(flags, "progress");
  if (progress !== undefined && !["auto", "plain", "tty", "quiet"].includes(progress)) throw new UsageError(`invalid --progress ${progress}: expected auto, plain, tty or quiet`);
  const buildArgs: Record<string, string> = {};
  for (const a of allValues(flags, "build-arg")) {
    const eq = a.indexOf("=");
    if (eq === 0) throw new UsageError(`invalid --build-arg "${a}": expected KEY=VALUE or KEY`);
    if (eq > 0) buildArgs[a.slice(0, eq)] = a.slice(eq + 1);
    else if (ctx.env[a] !== undefined) buildArgs[a] = ctx.env[a]!;
  }
  const labels: Record<string, string> = {};
  for (const l of allValues(flags, "label")) setLabel(labels, l);
  const file = lastValue(flags, "file");
  // docker's rule: stdin is read once, for one of them (`-f -` with `-` read the Dockerfile as the context archive).
  if (path === "-" && file === "-") throw new UsageError("can't use stdin for both build context and dockerfile");
  if ((path === "-" || file === "-") && process.stdin.isTTY) throw new UsageError("nothing on stdin: redirect it (tsbox build - < Dockerfile, or a tar archive of the context)");
  const quiet = flags.bools.has("quiet") || progress === "quiet";
  const network = lastValue(flags, "network");
  const rt = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  const platform = lastValue(flags, "platform");
  if (platform !== undefined) {
    const { formatPlatform, parsePlatform, platformMatches } = await import("../../image/platform.js");
    if (!platformMatches(parsePlatform(platform), rt.imageStore.platform)) throw new UsageError(`tsbox build makes images for ${formatPlatform(rt.imageStore.platform)} (this runtime's platform), not ${platform}`);
  }
  // --iidfile's directory, checked before the build rather than after it (a typo lost the whole build's id).
  const iidDir = lastValue(flags, "iidfile") !== undefined ? dirname(resolve(lastValue(flags, "iidfile")!)) : undefined;
  if (iidDir !== undefined && !existsSync(iidDir)) throw new UsageError(`--iidfile ${lastValue(flags, "iidfile")}: no such directory ${iidDir}`);
  // `-`: stdin is the context as a tar archive, or a Dockerfile and no context (an empty directory stands for it).
  const fromStdin = path === "-" ? await (await import("../../build/stdin-context.js")).stdinBuild(process.stdin, file, rt.dataDir) : undefined;
  const dockerfileFromStdin = !fromStdin && file === "-" ? (await readStdin()).toString("utf8") : undefined;
  // -q: the running step's output is kept, and shown when the build fails (docker's error has the step's log).
  let stepOutput = "";
  const keep = (text: string) => {
    if (/^\[\d+\/\d+\] /.test(text)) stepOutput = "";
    else if (!text.startsWith("[warning]")) stepOutput = (stepOutput + text).slice(-64 * 1024);
  };
  try {
    return await withInterrupt(ctx, "build", async (signal) => {
      const result = await rt.build({
        context: fromStdin?.context ?? path,
        // docker's rule: -f is relative to the current directory, not to the context.
        ...(fromStdin ? { dockerfileText: fromStdin.dockerfileText } : dockerfileFromStdin !== undefined ? { dockerfileText: dockerfileFromStdin } : file !== undefined ? { dockerfile: resolve(file) } : {}),
        tags: allValues(flags, "tag"),
        buildArgs,
        labels,
        ...(lastValue(flags, "target") !== undefined ? { target: lastValue(flags, "target")! } : {}),
        // docker's `--network default` is the runtime's default network: none given.
        ...(network !== undefined && network !== "default" ? { network } : {}),
        noCache: flags.bools.has("no-cache"),
        pull: flags.bools.has("pull"),
        signal,
        onOutput: quiet ? keep : (text: string) => void ctx.stderr.write(text),
      }).catch((err: unknown) => {
        if (quiet && stepOutput !== "") ctx.stderr.write(stepOutput.endsWith("\n") ? stepOutput : `${stepOutput}\n`);
        throw err;
      });
      const iidfile = lastValue(flags, "iidfile");
      if (iidfile !== undefined) writeFileSync(iidfile, result.id);
      if (quiet) ctx.stdout.write(result.id + "\n");
      else ctx.stderr.write(`Successfully built ${shortId(result.id)}\n`);
      return 0;
    });
  } finally {
    fromStdin?.cleanup();
  }
}
