// Bundles the CLI for a fast start: `tsbox run` loads one file, dist/cli.cjs,
// holding everything its path imports statically. It is CommonJS, loaded by
// bin/tsbox.js (CommonJS too, through bin/package.json): Node's ESM loader
// (URL resolution, async source reads, module linking) costs a cold process
// more than the whole bundle's compile (docs/architecture.md, "CLI start-up").
//
// The rule, with no list to keep: a module of ours that the code reaches
// through a dynamic `await import("./x.js")` becomes a bundle of its own,
// dist/cli-lazy/<its path under src/>.cjs, required only when that line runs
// (rare commands, terminals, hashing, layer unpacking, the vm backend…), so
// its code and the Node built-ins it needs (node:crypto, node:zlib,
// node:tty…) cost a plain `tsbox run` nothing. A static import puts the
// module in the importer's bundle. New CLI commands follow it by being
// loaded with `import("./commands/<name>.js")` in src/cli/main.ts.
// Every bundle is CommonJS and a lazy one is loaded by `require`: an ESM
// lazy bundle (`import()`) started Node's ESM loader, whose resolution and
// translation cost `tsbox logs` or `stats` more than the command's own work.
// (v86, an ES module, stays a real `import("v86")`: esbuild keeps dynamic
// imports of external packages.) esbuild's own code splitting would also
// work, but scatters the run path over several shared chunks, each a module load.
// No dependencies besides esbuild and Node built-ins.
import { build } from "esbuild";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
const lazyRoot = join(dist, "cli-lazy");

/** Where a lazily loaded source module is bundled: its path under src/, in dist/cli-lazy/. */
const lazyOut = (source) => join(lazyRoot, relative(src, source).replace(/\.ts$/, ".cjs"));

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
      // A one-line module in the importer's bundle, run when the import() is: it requires the lazy bundle.
      return { path, namespace: "lazy-bundle" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-bundle" }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: "js" }));
    b.onResolve({ filter: /.*/, namespace: "lazy-bundle" }, (args) => ({ path: args.path, external: true }));
  },
});

/**
 * Node built-ins that `node` itself has not loaded by the time our code runs
 * (child_process, net, stream, os, fs/promises, tty…) are loaded on first
 * use, not when the bundle starts: esbuild hoists every `require("node:x")`
 * to the top of the CommonJS bundle, and loading child_process, net and the
 * stream machinery cost `tsbox --help` more than a third of its time over
 * `node -e 0`. Each becomes a small module whose exports object inherits from
 * a Proxy that requires the real one when a property is first read (esbuild
 * reads imports as properties at the point of use, so `spawn(...)` loads
 * child_process at its first call). Not an object of getters, one per
 * export: making those, and esbuild's copy of each into every importer's
 * namespace (`__toESM`, which copies own properties only), cost a start ~2 ms.
 */
const BOOT_LOADED = new Set(["fs", "path", "url", "events", "buffer", "util", "timers", "querystring", "async_hooks"]);
const lazyBuiltins = {
  name: "lazy-builtins",
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      const name = args.path.slice(5);
      if (args.namespace === "lazy-builtin" || BOOT_LOADED.has(name)) return { path: args.path, external: true };
      return { path: args.path, namespace: "lazy-builtin" };
    });
    b.onLoad({ filter: /.*/, namespace: "lazy-builtin" }, (args) => ({
      contents: `let m;const load=()=>m??=require(${JSON.stringify(args.path)});module.exports=Object.create(new Proxy({},{get:(_,k)=>load()[k]}));`,
      loader: "js",
    }));
  },
};

rmSync(lazyRoot, { recursive: true, force: true });
for (const f of readdirSync(dist, { withFileTypes: true })) {
  // Bundles of earlier layouts (dist/cli.mjs, dist/cli-<name>.mjs) too.
  if (/^cli(-.*)?\.(mjs|cjs)$/.test(f.name)) rmSync(join(dist, f.name), { force: true });
}

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // v86 (1 MB of emulator) stays a package import, loaded only by the vm backend.
  external: ["v86"],
  // Modules find the package by their own location, computed when first asked (pathToFileURL costs a start ~0.5 ms).
  define: { "import.meta.url": "__tsbox_meta.url" },
  banner: { js: 'var __tsbox_meta = { get url() { return (this.u ??= require("node:url").pathToFileURL(__filename).href); } };' },
  // Smaller source parses faster; names are kept so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
};

/**
 * One copy of each module across the bundles. A lazy bundle would otherwise
 * hold its own copy of everything it imports statically — for most commands
 * the whole runtime again (30 bundles of ~260 KB each, and a second code
 * cache to load per command). Instead a module that the main bundle holds is
 * taken from it: dist/cli.cjs exports `__tsboxShared`, each such module's
 * namespace by its path under src/, and a lazy bundle's import of it is a
 * one-line module reading that. (cli.cjs is always loaded first: the lazy
 * bundles are reached only through its `import()`s, which run after it has
 * been evaluated.)
 */
const mainEntry = join(src, "cli", "main.ts");
const mainOut = join(dist, "cli.cjs");
/** Source paths of the modules in the main bundle (pass 1), and those a lazy bundle took from it. */
let inMain = new Set();
const shared = new Set();
const sharedKey = (source) => relative(src, source);
const sharedExport = (outfile, key) => {
  let path = relative(dirname(outfile), mainOut);
  if (!path.startsWith(".")) path = `./${path}`;
  return `module.exports = require(${JSON.stringify(path)}).__tsboxShared[${JSON.stringify(key)}];`;
};
const sharedModules = (outfile) => ({
  name: "shared-modules",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      if (args.kind === "dynamic-import" || args.namespace !== "file") return undefined;
      const source = resolve(args.resolveDir, args.path).replace(/\.js$/, ".ts");
      if (!inMain.has(source) || source === mainEntry) return undefined;
      shared.add(source);
      return { path: sharedKey(source), namespace: "shared-module" };
    });
    b.onLoad({ filter: /.*/, namespace: "shared-module" }, (args) => ({ contents: sharedExport(outfile, args.path), loader: "js" }));
    b.onResolve({ filter: /.*/, namespace: "shared-module" }, (args) => ({ path: args.path, external: true }));
  },
});
/** The main bundle's entry: main.ts first (its order of evaluation unchanged), then the shared modules' namespaces exported. */
const registryEntry = {
  name: "shared-registry",
  setup(b) {
    b.onResolve({ filter: /^tsbox:cli-entry$/ }, () => ({ path: "cli-entry", namespace: "cli-entry" }));
    b.onLoad({ filter: /.*/, namespace: "cli-entry" }, () => {
      const keys = [...shared].sort();
      return {
        resolveDir: src,
        loader: "js",
        contents: [
          `import ${JSON.stringify(mainEntry)};`,
          ...keys.map((source, i) => `import * as m${i} from ${JSON.stringify(source)};`),
          `export const __tsboxShared = {${keys.map((source, i) => `${JSON.stringify(sharedKey(source))}: m${i}`).join(",")}};`,
        ].join("\n"),
      };
    });
  },
};

const bundle = (entry, outfile) => {
  // A lazily imported module that the main bundle holds anyway: the same instance.
  if (inMain.has(entry)) {
    shared.add(entry);
    mkdirSync(dirname(outfile), { recursive: true });
    writeFileSync(outfile, sharedExport(outfile, sharedKey(entry)) + "\n");
    return undefined;
  }
  return build({ ...common, entryPoints: [entry], outfile, plugins: [lazyImports(outfile), sharedModules(outfile), lazyBuiltins] });
};

// Pass 1: what the main bundle holds (and the lazy modules it reaches).
const first = await build({ ...common, entryPoints: [mainEntry], outfile: mainOut, write: false, metafile: true, absWorkingDir: root, plugins: [lazyImports(mainOut), lazyBuiltins] });
inMain = new Set(Object.keys(first.metafile.inputs).filter((p) => /^src\/.*\.ts$/.test(p)).map((p) => join(root, p)));
// Every lazy module the main bundle (transitively) reaches, a round at a time.
const built = new Set();
for (;;) {
  const next = [...found].filter((s) => !built.has(s));
  if (next.length === 0) break;
  for (const s of next) built.add(s);
  await Promise.all(next.map((s) => bundle(s, lazyOut(s))));
}
// Pass 2: the main bundle, exporting what the lazy ones take from it.
await build({ ...common, entryPoints: ["tsbox:cli-entry"], outfile: mainOut, absWorkingDir: root, plugins: [registryEntry, lazyImports(mainOut), lazyBuiltins] });

// A vm.Script cannot import() (bin/tsbox.js compiles our bundles with V8's code cache through one): a bundle that
// keeps a real import() (v86, or a built-in esbuild leaves as one) starts with this line and is compiled as usual.
// Marked once here, so the loader need not search 300 KB of source on every start.
const DYNAMIC_IMPORT_MARK = "//tsbox:import()\n";
const bundles = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((f) => (f.isDirectory() ? bundles(join(dir, f.name)) : f.name.endsWith(".cjs") ? [join(dir, f.name)] : []));
for (const file of [mainOut, ...bundles(lazyRoot)]) {
  const text = readFileSync(file, "utf8");
  // ASCII only (esbuild escapes strings, not regular expressions): Node reads an ASCII file into a one-byte string;
  // one other character made all 530 KB of cli.cjs a two-byte one, read 0.25 ms slower on every start.
  const wide = text.search(/[^\x00-\x7f]/);
  if (wide >= 0) throw new Error(`${relative(root, file)}: a non-ASCII character (${JSON.stringify(text.slice(Math.max(0, wide - 40), wide + 10))}): escape it in its source`);
  if (/(?<![.\w$])import\(\s*["'`]/.test(text)) writeFileSync(file, DYNAMIC_IMPORT_MARK + text);
}
