import { UsageError } from "../../errors.js";
import { defaultDataDir } from "../../paths.js";
import { Runtime } from "../../runtime.js";
import type { CliContext } from "../context.js";
import { lastValue, parseFlags, platformFlag } from "../flags.js";
import { humanSize } from "../format.js";
import { withInterrupt } from "../interrupt.js";
import { familiarName, parseReference } from "../../image/reference.js";

const SAVE_USAGE = `Usage: tsbox save [OPTIONS] IMAGE [IMAGE...]

Save images to a tar archive (to stdout unless -o is given).

Options:
  -o, --output FILE        Write to FILE (atomically) instead of stdout
      --format docker|oci  docker (default): an OCI layout plus docker's manifest.json,
                           readable by docker load and skopeo; oci: an OCI layout only
                           (podman's names docker-archive and oci-archive too)
      --platform OS/ARCH   Which platform of each image (default: the backend's,
                           else the one the store has)
`;

const LOAD_USAGE = `Usage: tsbox load [OPTIONS]

Load images from a tar archive (docker save or OCI format; plain, or compressed with
gzip, bzip2, xz or zstd) or a directory: an OCI layout, or an unpacked docker archive.

Options:
  -i, --input PATH       Read from PATH instead of stdin
      --name REPOSITORY  Repository for images the archive names only by tag
  -q, --quiet            Suppress progress output (load shows none: as docker's, the
                         "Loaded image: NAME" lines are printed all the same)
`;

export async function saveCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "output", short: "o", value: true }, { name: "format", value: true }, { name: "platform", value: true }]);
  if (flags.help) return ctx.stdout.write(SAVE_USAGE), 0;
  if (flags.positionals.length === 0) throw new UsageError(`"tsbox save" requires at least one image`);
  const format = saveFormat(lastValue(flags, "format") ?? "docker");
  const output = lastValue(flags, "output");
  if (output === undefined && (ctx.stdout as { isTTY?: boolean }).isTTY) throw new UsageError("refusing to write an archive to a terminal: use -o FILE or redirect stdout");
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  return withInterrupt(ctx, "save", async (signal) => {
    const platform = platformFlag(flags);
    await runtime.save(flags.positionals, output ?? (ctx.stdout as NodeJS.WritableStream), { format, signal, ...(platform ? { platform } : {}) });
    return 0;
  });
}

const SAVE_FORMATS = new Map<string, "docker" | "oci">([["docker", "docker"], ["docker-archive", "docker"], ["oci", "oci"], ["oci-archive", "oci"]]);

/** save's --format: tsbox's names, and podman save's for the same two archives (a podman user's script ran into a usage error). */
function saveFormat(value: string): "docker" | "oci" {
  const format = SAVE_FORMATS.get(value);
  if (format === undefined) throw new UsageError(`invalid --format "${value}": docker or oci (podman's docker-archive, oci-archive)`);
  return format;
}

export async function loadCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "input", short: "i", value: true }, { name: "name", value: true }, { name: "quiet", short: "q" }]);
  if (flags.help) return ctx.stdout.write(LOAD_USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox load" takes no arguments (use -i PATH)`);
  const input = lastValue(flags, "input");
  if (input === undefined && process.stdin.isTTY) throw new UsageError("no archive on stdin: use -i PATH or redirect stdin");
  const repository = lastValue(flags, "name");
  const runtime = new Runtime({ dataDir: defaultDataDir(ctx.env) });
  return withInterrupt(ctx, "load", async (signal) => {
    // The ids names had before: one the archive moves to another image is said, as docker's load says it.
    const idOf = async () => new Map((await runtime.images()).filter((i) => !i.dangling).map((i) => [i.name, i.id]));
    const before = await idOf();
    const names = await runtime.load(input ?? process.stdin, { signal, ...(repository !== undefined ? { repository } : {}) });
    const after = await idOf();
    for (const n of names) {
      const old = before.get(shownName(n));
      if (old !== undefined && after.get(shownName(n)) !== old) ctx.stdout.write(`The image ${shownName(n)} already exists, renaming the old one with ID ${old} to empty string\n`);
    }
    // docker's wording, with -q too (moby's load drops only the progress): an image the archive names none of is told by its id.
    for (const n of names) {
      const id = n.startsWith("sha256:");
      ctx.stdout.write(`Loaded image${id ? " ID" : ""}: ${id ? n : shownName(n)}\n`);
    }
    return 0;
  });
}

export async function pruneCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "force", short: "f" }, { name: "json" }]);
  if (flags.help) {
    return ctx.stdout.write("Usage: tsbox prune [-f] [--json]\n\nDelete image data no image name and no container needs (blobs, unpacked layers, partial downloads).\n"), 0;
  }
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox prune" takes no arguments`);
  const r = await new Runtime({ dataDir: defaultDataDir(ctx.env) }).prune();
  if (flags.bools.has("json")) ctx.stdout.write(JSON.stringify(r) + "\n");
  else ctx.stdout.write(`Deleted ${r.blobs} blobs, ${r.layers} unpacked layers, ${r.partials} partial downloads\nTotal reclaimed space: ${humanSize(r.bytes)}\n`);
  return 0;
}

/** docker's "familiar" form, `myapp:1` for docker.io/library/myapp:1 (an id stays as it is). */
function shownName(name: string): string {
  try {
    return familiarName(parseReference(name));
  } catch {
    return name;
  }
}
