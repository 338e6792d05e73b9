import { ImageError, UsageError } from "../../errors.js";
import { systemErrorText } from "../../fs-util.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { withInterrupt } from "../interrupt.js";

const COMMIT_USAGE = `Usage: tsbox commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]

Create a new image from a container's changes.

Options:
  -a, --author STRING    Author (e.g. "Jane Doe <jane@example.com>")
  -c, --change LIST      Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, EXPOSE,
                         LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR
  -m, --message STRING   Commit message
`;

const IMPORT_USAGE = `Usage: tsbox import [OPTIONS] FILE|- [REPOSITORY[:TAG]]

Import a tar archive (plain, or compressed with gzip, bzip2, xz or zstd) as a one-layer image.

Options:
  -c, --change LIST      Apply a Dockerfile instruction (as for commit)
  -m, --message STRING   Commit message for the imported image
      --platform STRING  The image's platform (default: what the backend runs, e.g. linux/386 on vm)
`;

export async function commitCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "author", short: "a", value: true },
    { name: "change", short: "c", value: true, repeat: true },
    { name: "message", short: "m", value: true },
    { name: "pause", short: "p" },
  ]);
  if (flags.help) return ctx.stdout.write(COMMIT_USAGE), 0;
  const [container, name, ...extra] = flags.positionals;
  if (container === undefined || extra.length > 0) throw new UsageError(`"tsbox commit" requires 1 or 2 arguments: CONTAINER [REPOSITORY[:TAG]]`);
  const author = lastValue(flags, "author");
  const message = lastValue(flags, "message");
  // Ctrl-C/SIGTERM: the layer's temp blob goes (before, Node's default action left it until a prune).
  return withInterrupt(ctx, "commit", async (signal) => {
    const id = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).commit(container, {
      changes: allValues(flags, "change"),
      ...(name !== undefined ? { name } : {}),
      ...(author !== undefined ? { author } : {}),
      ...(message !== undefined ? { message } : {}),
      signal,
    });
    ctx.stdout.write(id + "\n");
    return 0;
  });
}

export async function importCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [
    { name: "change", short: "c", value: true, repeat: true },
    { name: "message", short: "m", value: true },
    { name: "platform", value: true },
  ]);
  if (flags.help) return ctx.stdout.write(IMPORT_USAGE), 0;
  const [source, name, ...extra] = flags.positionals;
  if (source === undefined || extra.length > 0) throw new UsageError(`"tsbox import" requires 1 or 2 arguments: FILE|- [REPOSITORY[:TAG]]`);
  if (/^https?:\/\//.test(source)) throw new UsageError("importing from a URL is not supported: download the archive first");
  if (source === "-" && process.stdin.isTTY) throw new UsageError("no archive on stdin: redirect stdin or give a file");
  let input: AsyncIterable<Buffer>;
  if (source === "-") input = process.stdin;
  else {
    const { createReadStream } = await import("node:fs");
    const stream = createReadStream(source);
    await new Promise<void>((resolve, reject) => {
      stream.once("open", () => resolve());
      stream.once("error", (err: NodeJS.ErrnoException) => reject(new ImageError(`cannot read ${source}: ${systemErrorText(err)}`)));
    });
    input = stream;
  }
  const message = lastValue(flags, "message");
  const platform = lastValue(flags, "platform");
  return withInterrupt(ctx, "import", async (signal) => {
    const id = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).import(input, {
      changes: allValues(flags, "change"),
      source,
      ...(platform !== undefined ? { platform } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(message !== undefined ? { message } : {}),
      signal,
    });
    ctx.stdout.write(id + "\n");
    return 0;
  });
}
