import { createWriteStream } from "node:fs";
import { rename, unlink } from "node:fs/promises";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { randomHex } from "../fs-util.js";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";

/**
 * An archive written to `-o FILE` (temp then rename: a failed write leaves
 * no half file) or to stdout, never to a terminal.
 */
export async function writeArchive(ctx: CliContext, output: string | undefined, write: (out: Writable) => Promise<void>): Promise<void> {
  if (output === undefined) {
    if ((ctx.stdout as { isTTY?: boolean }).isTTY) throw new UsageError("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout");
    await write(ctx.stdout);
    return;
  }
  const tmp = `${output}.${process.pid}.${randomHex(4)}.tmp`;
  const file = createWriteStream(tmp, { flags: "wx", mode: 0o644 });
  let done = false;
  try {
    await write(file);
    file.end();
    await finished(file);
    await rename(tmp, output);
    done = true;
  } finally {
    if (!done) {
      file.destroy();
      await unlink(tmp).catch(() => {});
    }
  }
}
