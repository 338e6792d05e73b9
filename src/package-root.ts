import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { TsboxError } from "./errors.js";

let cached: string | undefined;

/**
 * The tsbox package directory, where its parts are found (bin/tsbox.js, and
 * through it @tsbox/images and the native package; a checkout's builds).
 * Modules run from src/ (tsx), dist/ (tsc) or the CLI bundles (dist/cli.cjs,
 * dist/cli-lazy/**), so the depth differs: walk up to tsbox's package.json
 * (by its name: bin/package.json only marks bin/ as CommonJS, and an app
 * that bundled tsbox has a package.json of its own). See `findPackageRoot`
 * for an app's bundle.
 */
export function packageRoot(): string {
  return (cached ??= findPackageRoot(moduleFile((import.meta as { url?: string }).url, typeof __filename === "string" ? __filename : undefined)));
}

/**
 * The file this module runs in: `import.meta.url`'s, except in an app's
 * bundle that moved it — esbuild's CommonJS output leaves `import.meta`
 * empty, webpack writes the source's path at build time (gone once the bundle
 * is deployed elsewhere) — where the bundle's own `__filename` is (a single
 * executable's: the executable).
 */
export function moduleFile(url: string | undefined, filename: string | undefined): string | undefined {
  const file = url?.startsWith("file:") ? fileURLToPath(url) : undefined;
  if (file !== undefined && (filename === undefined || existsSync(file))) return file;
  return filename ?? file;
}

/**
 * tsbox's package directory seen from `file`: the nearest directory above it
 * whose package.json is tsbox's; else, when an app bundled tsbox into `file`,
 * the `node_modules/tsbox` Node would resolve from there (installed beside the
 * app, its parts beside it). Else there is nothing to find the parts by, and
 * saying so beats a TypeError from fileURLToPath, or the vm backend chosen for
 * want of a native package that is installed but not found (and then "no
 * linux/386 variant" of busybox).
 */
export function findPackageRoot(file: string | undefined): string {
  if (file !== undefined) {
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      if (isTsboxPackage(dir)) return dir;
      if (dirname(dir) === dir) break;
    }
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      const candidate = join(dir, "node_modules", "tsbox");
      if (basename(dir) !== "node_modules" && isTsboxPackage(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new TsboxError(
    `tsbox cannot find its package: it runs from ${file ?? "a module with no file"}, which is not inside it (an app's bundle?), ` +
      "and no node_modules/tsbox is above that. tsbox loads files of its own at run time (the native addon and tsbox-runtime " +
      "of its @tsbox/<platform> package, the guest and busybox of @tsbox/images, bin/tsbox.js): leave tsbox out of the bundle " +
      "(esbuild --external:tsbox or --packages=external, webpack's externals, rollup's external) and ship node_modules with the app",
    { code: "runtime" },
  );
}

function isTsboxPackage(dir: string): boolean {
  const manifest = join(dir, "package.json");
  if (!existsSync(manifest)) return false;
  try {
    return (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "tsbox";
  } catch {
    return false;
  }
}
