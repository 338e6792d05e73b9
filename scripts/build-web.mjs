// `npm run build:web`: the playground as a static folder, dist/web/, that any
// static host serves as it is (no special headers: no SharedArrayBuffer, no
// cross-origin isolation needed):
//   index.html, playground.js, playground.css   the page (web/); xterm.js in terminal.js, imported after the
//                                                guest's Worker started
//   tsbox.js, tsbox-vm-worker.js, v86.wasm, guest/   dist/browser (scripts/bundle-browser.mjs), its
//                                                    snapshot.state replaced by the playground's (web/snapshot.ts)
// The page imports ./tsbox.js as any embedding page would.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "web");

await import("./bundle-browser.mjs");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
cpSync(join(root, "dist", "browser"), out, { recursive: true });
cpSync(join(root, "web", "index.html"), join(out, "index.html"));

/** The page's import of the library becomes the folder's own ./tsbox.js. */
const libraryAsSibling = {
  name: "library-as-sibling",
  setup(b) {
    b.onResolve({ filter: /\/src\/browser\.js$/ }, () => ({ path: "./tsbox.js", external: true }));
  },
};

await build({
  entryPoints: { playground: join(root, "web", "playground.ts"), "playground-style": join(root, "web", "playground.css") },
  outdir: out,
  // terminal.js (xterm.js) is a chunk of its own, named so: playground.js imports it once the guest's Worker runs.
  splitting: true,
  chunkNames: "[name]",
  bundle: true,
  platform: "browser",
  format: "esm",
  target: "es2022",
  plugins: [libraryAsSibling],
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
});
// esbuild names the CSS bundle after its entry.
cpSync(join(out, "playground-style.css"), join(out, "playground.css"));
rmSync(join(out, "playground-style.css"));
rmSync(join(out, "playground-style.css.map"), { force: true });

// The served snapshot with the playground's shell already running (web/snapshot.ts), in place of the idle one.
if (existsSync(join(out, "guest", "snapshot.state.json"))) execFileSync(process.execPath, ["--import", "tsx", join(root, "web", "snapshot.ts"), out], { stdio: "inherit" });
else console.warn("build:web: no served snapshot in dist/web/guest (npm run build:vm): the playground boots its guest cold");
