import { tsboxVersion } from "../../version.js";
import type { CliContext } from "../context.js";

export async function versionCommand(_args: string[], ctx: CliContext): Promise<number> {
  ctx.stdout.write(`tsbox ${tsboxVersion()} (node ${process.version}, ${process.platform}/${process.arch})\n`);
  return 0;
}
