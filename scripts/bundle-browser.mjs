// Bundles tsbox for browsers into dist/browser/ (the package's `tsbox/browser`):
//   tsbox.js            the page module (src/browser.ts: Runtime, Container, ExecProcess, errors)
//   tsbox-vm-worker.js  the Worker: v86, the guest machine, 9p over a MemoryFs, the agent protocol
//   v86.wasm            v86's emulator
//   guest/              the guest's files (vm-images/dist or $TSBOX_VM_IMAGES): bios.bin, bzImage,
//                       initramfs.cpio, manifest.json, snapshot.state(.json), images/busybox/
// so the folder is served as it is (the Runtime's default `assets` is its own folder, TSBOX_OWN_FILES below).
//
// No Node built-in may reach a browser. Our modules' imports of them resolve
// to a module that throws when loaded, and the build fails if any of it is
// left after tree shaking: a pure export of a module that also has Node-only
// functions is fine (src/spec/defaults.ts), a Node call on a browser path is
// not. v86 touches Node modules only in branches it takes under Node
// (`typeof process`, `typeof require`): those get an empty module.
import { build } from "esbuild";
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "browser");
// Real path: esbuild names importers by it (node_modules may be a symlink, as pnpm and worktrees make it).
const v86Dir = realpathSync(join(root, "node_modules", "v86"));

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

/** Node built-ins: empty for v86's Node-only branches, a loud stub for ours (which must be tree-shaken away). */
const nodeBuiltins = {
  name: "node-builtins",
  setup(b) {
    b.onResolve({ filter: /^[a-z:_/]+$/ }, (args) => {
      if (!builtins.has(args.path)) return undefined;
      const fromV86 = args.importer.startsWith(v86Dir);
      return { path: args.path, namespace: fromV86 ? "v86-node-only" : "node-builtin", sideEffects: false };
    });
    b.onLoad({ filter: /.*/, namespace: "v86-node-only" }, () => ({ contents: "module.exports = {};", loader: "js" }));
    b.onLoad({ filter: /.*/, namespace: "node-builtin" }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not available in browsers`)}); module.exports = {};`,
      loader: "js",
    }));
  },
};

/**
 * src/image/tar.ts and chunk-reader.ts use a few Buffer calls; in the
 * browser they get browser/tar-buffer.ts, which has exactly those.
 */
const TAR_MODULES = ["src/image/tar.ts", "src/image/chunk-reader.ts"].map((p) => join(root, p));
const tarBuffer = {
  name: "tar-buffer",
  setup(b) {
    b.onLoad({ filter: /\/src\/image\/(tar|chunk-reader)\.ts$/ }, (args) => {
      if (!TAR_MODULES.includes(args.path)) return undefined;
      const shim = JSON.stringify(join(root, "src/backends/vm/browser/tar-buffer.ts"));
      return { contents: `import { Buffer } from ${shim};\n${readFileSync(args.path, "utf8")}`, loader: "ts", resolveDir: dirname(args.path) };
    });
  },
};

rmSync(out, { recursive: true, force: true });

const result = await build({
  entryPoints: {
    tsbox: join(root, "src/browser.ts"),
    "tsbox-vm-worker": join(root, "src/backends/vm/browser/worker.ts"),
  },
  outdir: out,
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  plugins: [nodeBuiltins, tarBuffer],
  // A saved state is only restored by the v86 build that made it.
  // The page module's default `assets`: its own folder, while it is this file (web-runtime.ts ownAssets).
  define: {
    TSBOX_V86_VERSION: JSON.stringify(JSON.parse(readFileSync(join(v86Dir, "package.json"), "utf8")).version),
    TSBOX_OWN_FILES: JSON.stringify({ module: "tsbox.js", assets: "./" }),
  },
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: "linked",
  legalComments: "none",
  metafile: true,
  logLevel: "warning",
});

const leaks = Object.entries(result.metafile.outputs).flatMap(([file, o]) =>
  Object.entries(o.inputs)
    .filter(([input, i]) => input.startsWith("node-builtin:") && i.bytesInOutput > 0)
    .map(([input]) => `${file} needs ${input.slice("node-builtin:".length)}`),
);
if (leaks.length > 0) {
  const who = Object.entries(result.metafile.inputs)
    .filter(([, i]) => i.imports.some((imp) => leaks.some((l) => l.endsWith(` ${imp.path}`))))
    .map(([input]) => input);
  throw new Error(`the browser bundle must not use Node built-ins: ${leaks.join("; ")} (imported by ${who.join(", ")})`);
}

// The assets the Runtime fetches, beside the bundles.
cpSync(join(v86Dir, "build", "v86.wasm"), join(out, "v86.wasm"));
const guestDir = process.env.TSBOX_VM_IMAGES || join(root, "vm-images", "dist");
const GUEST_FILES = ["bios.bin", "bzImage", "initramfs.cpio", "manifest.json", "snapshot.state", "snapshot.state.json"];
if (existsSync(join(guestDir, "manifest.json"))) {
  mkdirSync(join(out, "guest"), { recursive: true });
  for (const f of GUEST_FILES) if (existsSync(join(guestDir, f))) cpSync(join(guestDir, f), join(out, "guest", f));
  if (existsSync(join(guestDir, "images", "busybox"))) cpSync(join(guestDir, "images", "busybox"), join(out, "guest", "images", "busybox"), { recursive: true });
} else {
  console.warn(`bundle-browser: no guest in ${guestDir} (npm run build:vm): dist/browser has no guest/ folder`);
}
