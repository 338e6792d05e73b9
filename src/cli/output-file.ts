import type { Writable } from "node:stream";
import { writeOutputFile } from "../fs-util.js";
import { UsageError } from "../errors.js";
import type { CliContext } from "./context.js";

/**
 * An archive written to `-o FILE` (fs-util's writeOutputFile: a regular file
 * through a temp one, a device as it is) or to stdout, never to a terminal.
 */
export async function writeArchive(ctx: CliContext, output: string | undefined, write: (out: Writable) => Promise<void>): Promise<void> {
  if (output !== undefined) return writeOutputFile(output, write);
  if ((ctx.stdout as { isTTY?: boolean }).isTTY) throw new UsageError("refusing to write a tar archive to a terminal: use -o FILE or redirect stdout");
  await write(ctx.stdout);
}
