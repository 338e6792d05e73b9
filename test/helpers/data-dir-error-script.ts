/**
 * `new Runtime()` where its data dir cannot be made, in a separate Node process (run as each test identity):
 * each DATA_DIR argument as `dataDir`, and with `home:DIR` the default data dir under HOME=DIR. Prints one JSON
 * object: per argument, what was thrown.
 *   node --import tsx test/helpers/data-dir-error-script.ts DATA_DIR|home:DIR…
 */
import { isTsboxError, Runtime } from "../../src/index.js";

const results: Record<string, unknown> = {};
for (const arg of process.argv.slice(2)) {
  try {
    if (arg.startsWith("home:")) {
      process.env.HOME = arg.slice("home:".length);
      delete process.env.TSBOX_DATA_DIR;
      delete process.env.XDG_DATA_HOME;
      new Runtime();
    } else {
      new Runtime({ dataDir: arg });
    }
    results[arg] = { made: true };
  } catch (err) {
    const e = err as Error & { code?: unknown; exitCode?: unknown };
    const cause = e.cause as NodeJS.ErrnoException | undefined;
    results[arg] = { tsbox: isTsboxError(err), name: e.name, message: e.message, exitCode: e.exitCode, causeCode: cause?.code, causePath: cause?.path };
  }
}
process.stdout.write(JSON.stringify(results));
