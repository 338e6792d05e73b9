import { createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { outputFile } from "../fs-util.js";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";

/**
 * An archive written to `-o FILE` (fs-util's outputFile: a regular file
 * through a temp one, a device as it is) or to stdout, never to a terminal.
 */
export async function writeArchive(ctx: CliContext, output: string | undefined, write: (out: Writable) => Promise<void>): Promise<void> {
  if (output === undefined) {
    if ((ctx.stdout as { isTTY?: boolean }).isTTY) throw new UsageError("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout");
    await write(ctx.stdout);
    return;
  }
  const target = outputFile(output);
  const file = createWriteStream(target.write, { flags: target.renameTo ? "wx" : "w", mode: 0o644 });
  let done = false;
  try {
    await write(file);
    file.end();
    await finished(file);
    if (target.renameTo) await rename(target.write, target.renameTo);
    done = true;
  } finally {
    if (!done) {
      file.destroy();
      if (target.renameTo) await unlink(target.write).catch(() => {});
    }
  }
}
