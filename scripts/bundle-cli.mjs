// Bundles the CLI for a fast start: `tsbox run` loads one file, dist/cli.cjs,
// holding everything its path imports statically. It is CommonJS, loaded by
// bin/tsbox.js (CommonJS too, through bin/package.json): Node's ESM loader
// (URL resolution, async source reads, module linking) costs a cold process
// more than the whole bundle's compile (docs/architecture.md, "CLI start-up").
//
// The rule, with no list to keep: a module of ours that the code reaches
// through a dynamic `await import("./x.js")` becomes a bundle of its own,
// dist/cli-lazy/<its path under src/>.mjs (ESM: v86 is an ES module), loaded only when that line runs
// (rare commands, terminals, hashing, layer unpacking, the vm backend…), so
// its code and the Node built-ins it needs (node:crypto, node:zlib,
// node:tty…) cost a plain `tsbox run` nothing. A static import puts the
// module in the importer's bundle. New CLI commands follow it by being
// loaded with `import("./commands/<name>.js")` in src/cli/main.ts.
// (esbuild's own code splitting would also work, but scatters the run path
// over several shared chunks, each a module load.)
// No dependencies besides esbuild and Node built-ins.
import { build } from "esbuild";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
const lazyRoot = join(dist, "cli-lazy");

/** Where a lazily loaded source module is bundled: its path under src/, in dist/cli-lazy/. */
const lazyOut = (source) => join(lazyRoot, relative(src, source).replace(/\.ts$/, ".mjs"));

/** Lazy modules found so far (source paths), in the order found. */
const found = new Set();

/** Turns `import("./x.js")` of a module of ours into an import of its own bundle, relative to `outfile`. */
const lazyImports = (outfile) => ({
  name: "lazy-imports",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      if (args.kind !== "dynamic-import") return undefined;
      const source = resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      if (!source.startsWith(src + "/") || !existsSync(source)) return undefined;
      found.add(source);
      let path = relative(dirname(outfile), lazyOut(source));
      if (!path.startsWith(".")) path = `./${path}`;
      return { path, external: true };
    });
  },
});

rmSync(lazyRoot, { recursive: true, force: true });
for (const f of readdirSync(dist, { withFileTypes: true })) {
  // Bundles of earlier layouts (dist/cli.mjs, dist/cli-<name>.mjs) too.
  if (/^cli(-.*)?\.(mjs|cjs)$/.test(f.name)) rmSync(join(dist, f.name), { force: true });
}

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // v86 (1 MB of emulator) stays a package import, loaded only by the vm backend.
  external: ["v86"],
  // Smaller source parses faster; names are kept so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};

const bundle = (entry, outfile, extra = {}) => build({ ...common, entryPoints: [entry], outfile, plugins: [lazyImports(outfile)], ...extra });

// The entry first, then every lazy module it (transitively) reaches, a round at a time.
await bundle(join(src, "cli", "main.ts"), join(dist, "cli.cjs"), {
  format: "cjs",
  // Modules find the package by their own location.
  define: { "import.meta.url": "__tsbox_module_url" },
  banner: { js: 'var __tsbox_module_url = require("node:url").pathToFileURL(__filename).href;' },
});
const built = new Set();
for (;;) {
  const next = [...found].filter((s) => !built.has(s));
  if (next.length === 0) break;
  for (const s of next) built.add(s);
  await Promise.all(next.map((s) => bundle(s, lazyOut(s))));
}
