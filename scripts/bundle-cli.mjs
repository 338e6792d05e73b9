// Bundles the CLI (src/cli/main.ts and everything it imports) into
// dist/cli.mjs, so `tsbox` starts by loading one module instead of
// resolving dozens. Code reached only through dynamic import() (rare
// commands, terminals, hashing, layer unpacking) is split into
// dist/cli-chunks/, so its Node built-ins (node:crypto, node:tty, node:zlib…)
// are not loaded by a plain `tsbox run`. No dependencies besides built-ins.
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
rmSync(join(root, "dist/cli-chunks"), { recursive: true, force: true });

await build({
  entryPoints: [{ in: join(root, "src/cli/main.ts"), out: "cli" }],
  outdir: join(root, "dist"),
  outExtension: { ".js": ".mjs" },
  chunkNames: "cli-chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // Smaller source parses faster; names are kept so stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
});
