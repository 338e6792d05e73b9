/**
 * Where tsbox finds the parts that are not JavaScript. Installed from npm,
 * they come in packages beside `tsbox` (napi-rs's model, built by
 * scripts/pack.mjs): `@tsbox/<os>-<cpu>-<libc>` holds the native addon and
 * tsbox-runtime (an optionalDependency npm installs only on its platform),
 * `@tsbox/images` the vm guest and the embedded images. In a checkout the
 * same parts are build outputs (native-rs/, vm-images/dist/, images/).
 *
 * Nothing here loads a native module: only paths and existence checks, so
 * importing tsbox works on any OS.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join } from "node:path";
import { packageRoot } from "./package-root.js";

/** The npm scope of tsbox's own part packages. */
export const PARTS_SCOPE = "@tsbox";
/** The platform-independent package: vm guest (kernel, initramfs, BIOS) and embedded images. */
export const IMAGES_PACKAGE = `${PARTS_SCOPE}/images`;

/**
 * Native platforms a package is built for, by `<process.platform>-<process.arch>`:
 * the package suffix (napi-rs's names), the Rust target and npm's `libc`.
 * x64 is the host build (`npm run build:native`), arm64 a cross build
 * (`npm run build:native:cross`, scripts/build-native-cross.sh).
 */
export const NATIVE_TARGETS: Record<string, { suffix: string; rustTarget: string; libc: string }> = {
  "linux-x64": { suffix: "linux-x64-gnu", rustTarget: "x86_64-unknown-linux-gnu", libc: "glibc" },
  "linux-arm64": { suffix: "linux-arm64-gnu", rustTarget: "aarch64-unknown-linux-gnu", libc: "glibc" },
};

/** The native package for this host (`@tsbox/linux-x64-gnu`), or undefined when none is built for it. */
export function nativePackageName(platform: string = process.platform, arch: string = process.arch): string | undefined {
  const target = NATIVE_TARGETS[`${platform}-${arch}`];
  return target && `${PARTS_SCOPE}/${target.suffix}`;
}

const found = new Map<string, string | undefined>();

/**
 * The directory of an installed package, looked up the way Node resolves
 * `require(name)` from tsbox — `node_modules/<name>` in tsbox's directory
 * and each directory above it (nested, hoisted and pnpm's layouts) — by its
 * package.json, so a package's `exports` never hides it. A few stats: it
 * runs on every `tsbox run`.
 */
export function installedPackageDir(name: string): string | undefined {
  if (found.has(name)) return found.get(name);
  let dir: string | undefined;
  for (let at = packageRoot(); dir === undefined; at = dirname(at)) {
    const candidate = join(at, "node_modules", name);
    if (basename(at) !== "node_modules" && existsSync(join(candidate, "package.json"))) dir = candidate;
    if (dirname(at) === at) break;
  }
  found.set(name, (dir ??= resolvedPackageDir(name)));
  return dir;
}

/**
 * Where Node's own resolution puts `name` for tsbox, when no node_modules
 * above tsbox holds it: Yarn's Plug'n'Play has no node_modules, and its
 * resolver (patched into require by .pnp.cjs) gives each package's unplugged
 * directory (Yarn unplugs these: they hold a .node file, executables). By
 * `name/package.json` (our part packages have no `exports` to hide it).
 */
function resolvedPackageDir(name: string): string | undefined {
  try {
    return dirname(createRequire(join(packageRoot(), "package.json")).resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** The installed native package's directory (tsbox-native.node, tsbox-runtime), if any. */
export function nativePackageDir(): string | undefined {
  const name = nativePackageName();
  return name === undefined ? undefined : installedPackageDir(name);
}

/** Whether tsbox runs from its source checkout (build outputs instead of part packages). */
export function isCheckout(): boolean {
  return existsSync(join(packageRoot(), "native-rs"));
}

/** One line on why the native parts are missing, for `tsbox info` and the backend choice. */
export function missingNativeParts(): string {
  const name = nativePackageName();
  if (name === undefined) {
    const built = Object.keys(NATIVE_TARGETS).join(", ");
    return `tsbox has no native build for ${process.platform}-${process.arch} (only ${built})`;
  }
  if (isCheckout()) return "tsbox-runtime or the addon is not built (npm run build:native)";
  const dir = nativePackageDir();
  if (dir !== undefined) return `${name} in ${dir} lacks tsbox-runtime or the addon: ${nativeInstallAdvice(name)}`;
  // Reinstalling tsbox does not bring it back to an install from tarballs (`npm install tsbox-….tgz`): adding it does.
  return `${name} is not installed (npm installs it only on its platform, and not with --omit=optional): ${nativeInstallAdvice(name)}`;
}

/** How to add this host's native package where tsbox is installed: from the registry, or the tarball `npm run pack` made. */
export function nativeInstallAdvice(name: string): string {
  return `install it with npm install ${name} (or its .tgz from npm run pack)`;
}
