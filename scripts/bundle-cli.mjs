// Bundles the CLI for a fast start: `tsbox run` loads one file,
// dist/cli.mjs, holding everything the run path needs. Modules the code
// reaches only through dynamic import() (rare commands, terminals, hashing,
// layer unpacking) become their own bundles, dist/cli-<name>.mjs, so their
// Node built-ins (node:crypto, node:tty, node:zlib…) and code are not loaded
// by a plain `tsbox run`. (esbuild's own code splitting would also work but
// scatters the run path over several shared chunks, each a module load.)
// No dependencies besides Node built-ins.
import { build } from "esbuild";
import { readdirSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(root, "dist");

/** Loaded on demand; each gets its own bundle. */
const LAZY = [
  "src/cli/commands/images.ts",
  "src/cli/commands/ps.ts",
  "src/cli/commands/rm.ts",
  "src/cli/commands/info.ts",
  "src/cli/commands/version.ts",
  "src/cli/commands/pull.ts",
  "src/cli/commands/login.ts",
  "src/cli/commands/push.ts",
  "src/cli/commands/tag.ts",
  "src/cli/commands/port.ts",
  "src/cli/commands/network.ts",
  "src/image/registry/push-image.ts",
  "src/cli/commands/save-load.ts",
  "src/image/archive.ts",
  "src/image/gc.ts",
  "src/cli/progress.ts",
  "src/image/registry/pull-image.ts",
  "src/image/compression.ts",
  "src/backends/native/pty.ts",
  "src/image/hash.ts",
  "src/image/tar.ts",
  "src/image/unpack.ts",
  // the vm backend: emulator, 9p server and agent protocol load on its first container
  "src/backends/vm/session.ts",
  "src/backends/vm/container-run.ts",
  "src/backends/vm/daemon.ts",
  "src/cli/commands/vm.ts",
].map((p) => join(root, p));

const outName = (file) => `cli-${basename(file, ".ts")}.mjs`;
const names = LAZY.map(outName);
const clash = names.find((n, i) => names.indexOf(n) !== i);
if (clash) throw new Error(`two lazy modules would both be bundled as dist/${clash}: rename one`);

/** Turns `import("./x.js")` of a lazy module into an import of its bundle (all bundles sit side by side). */
const lazyImports = {
  name: "lazy-imports",
  setup(b) {
    b.onResolve({ filter: /\.js$/ }, (args) => {
      if (args.kind !== "dynamic-import") return undefined;
      const source = join(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      return LAZY.includes(source) ? { path: `./${outName(source)}`, external: true } : undefined;
    });
  },
};

for (const f of readdirSync(dist, { withFileTypes: true })) {
  if (/^cli(-.*)?\.mjs$/.test(f.name) || f.name === "cli-chunks") rmSync(join(dist, f.name), { recursive: true, force: true });
}

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  plugins: [lazyImports],
  // v86 (1 MB of emulator) stays a package import, loaded only by the vm backend.
  external: ["v86"],
  // Smaller source parses faster; names are kept so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};

await Promise.all([
  build({ ...common, entryPoints: [join(root, "src/cli/main.ts")], outfile: join(dist, "cli.mjs") }),
  ...LAZY.map((file) => build({ ...common, entryPoints: [file], outfile: join(dist, outName(file)) })),
]);
