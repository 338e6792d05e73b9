/**
 * `packages.json` beside the tarballs scripts/pack.ts writes: one record per
 * package. Read by test/package.test.ts and bench/startup.ts. And the
 * files a README links to by relative path, which its package must ship.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

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
