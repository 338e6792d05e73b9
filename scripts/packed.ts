/**
 * `packages.json` beside the tarballs scripts/pack.ts writes: one record per
 * package. Read by test/package.test.ts and bench/startup.ts.
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
