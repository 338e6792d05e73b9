import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/**
 * The tsbox package directory. Modules run from src/ (tsx), dist/ (tsc) or the
 * CLI bundles (dist/cli.cjs, dist/cli-lazy/**), so the depth differs: walk up
 * to package.json (bin/package.json only marks bin/ as CommonJS and is never
 * passed: nothing runs from bin/ but the entry).
 */
export function packageRoot(): string {
  if (cached !== undefined) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return (cached = dir);
    const parent = dirname(dir);
    if (parent === dir) throw new Error("tsbox: cannot locate the package root (no package.json above " + import.meta.url + ")");
    dir = parent;
  }
}
