/**
 * `packages.json` beside the tarballs scripts/pack.ts writes: one record per
 * package. Read by test/package.test.ts and bench/startup.ts. And the
 * files a README links to by relative path, which its package must ship.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

export interface Packed {
  /** The package's name, e.g. `@tsbox/linux-x64-gnu`. */
  name: string;
  /** The tarball's file name, beside packages.json. */
  file: string;
  size: number;
  unpackedSize: number;
  entryCount: number;
}

export const PACKED_INDEX = "packages.json";

export function readPacked(dir: string): Packed[] {
  return JSON.parse(readFileSync(join(dir, PACKED_INDEX), "utf8")) as Packed[];
}

/**
 * The files a Markdown text links to by relative path (`[x](docs/a.md#part)` → `docs/a.md`), each once:
 * what npm's page shows as broken links unless the package has them.
 */
export function relativeLinks(markdown: string): string[] {
  const targets = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!.split("#")[0]!);
  return [...new Set(targets.filter((t) => t !== "" && !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith("/")))];
}

/** A script's closing `//# sourceMappingURL=…` comment (tsc's and esbuild's), its map's relative path in group 1. */
const SOURCE_MAP_COMMENT = /\n\/\/# sourceMappingURL=([^\s:]+)\s*$/;

/**
 * The scripts under `dir` whose source-map comment names a map that is not there (pack.ts leaves the maps out:
 * they point at src/), each with its text without that comment: a bundler's dev server (Vite) and DevTools
 * fetch the map, and fail loudly (a stack trace on every `vite` start, index.html for a public/ copy's map).
 */
export function* danglingMapComments(dir: string): Generator<{ path: string; stripped: string }> {
  for (const rel of readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    if (!/\.[cm]?js$/.test(rel)) continue;
    const path = join(dir, rel);
    const text = readFileSync(path, "utf8");
    const map = SOURCE_MAP_COMMENT.exec(text);
    if (map && !existsSync(join(dirname(path), map[1]!))) yield { path, stripped: text.slice(0, map.index + 1) };
  }
}
