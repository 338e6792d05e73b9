/**
 * The hostile process of the security tests (test/helpers/secprobe.c),
 * mounted read-only at /probe (built by static-tool.ts).
 */
import { removeStaticTools, staticToolDir } from "./static-tool.js";

/** A directory (mode 755, readable by every test identity) holding `secprobe` for `arch`. */
export function secprobeDir(arch: "x64" | "ia32" = "x64"): string {
  return staticToolDir("secprobe", arch);
}

export const removeSecprobes = removeStaticTools;
