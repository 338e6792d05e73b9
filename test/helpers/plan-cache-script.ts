/**
 * The library's run plans (src/containers/plan-cache.ts) from a Runtime in this process, run as the identity under
 * test: `node --import tsx test/helpers/plan-cache-script.ts` prints one JSON object of what it saw. The plan-cache
 * marks go to a file of ours named by TSBOX_TRACE_FD.
 */
import { openSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Runtime } from "../../src/index.js";
import type { RunOptions } from "../../src/spec/run-options.js";
import { normalizedBundle } from "./bundle-files.js";

const dataDir = process.env.TSBOX_DATA_DIR!;
const traceFile = join(process.env.TMPDIR ?? "/tmp", `plan-cache-trace-${process.pid}`);
process.env.TSBOX_TRACE_FD = String(openSync(traceFile, "w"));
let seen = 0;
/** The plan-cache marks since the last call. */
const marks = (): string[] => {
  const lines = readFileSync(traceFile, "utf8").split("\n").filter((l) => l.includes(" plan-cache: "));
  const fresh = lines.slice(seen).map((l) => l.slice(l.indexOf("plan-cache: ") + "plan-cache: ".length));
  seen = lines.length;
  return fresh;
};
const rt = new Runtime({});
const base: RunOptions = { image: "busybox", network: "none", env: { GREETING: "hello" }, workdir: "/tmp", labels: { planned: "yes" } };
const run = async (options: Partial<RunOptions>) => {
  const c = await rt.run({ ...base, ...options });
  const out = await c.output();
  return { id: c.id, name: c.name, exitCode: out.exitCode, stdout: out.stdout, marks: marks() };
};
const results: Record<string, unknown> = {};

// The first use of busybox may import it (the index changes during that run: no plan).
await run({ cmd: ["true"], remove: true });
marks();
results.first = await run({ cmd: ["sh", "-c", "echo one $GREETING"] });
const second = await run({ cmd: ["sh", "-c", "echo two $GREETING $HOSTNAME $(pwd); exit 3"] });
results.second = second;
process.env.TSBOX_RUN_CACHE = "0";
const full = await run({ cmd: ["sh", "-c", "echo two $GREETING $HOSTNAME $(pwd); exit 3"] });
delete process.env.TSBOX_RUN_CACHE;
results.full = full;
results.twins = JSON.stringify(normalizedBundle(dataDir, second.id)) === JSON.stringify(normalizedBundle(dataDir, full.id));
results.differences = results.twins ? [] : [normalizedBundle(dataDir, second.id), normalizedBundle(dataDir, full.id)];

// A name given to a replay is its own; the same name again is in use: the full run's error.
results.named = await run({ cmd: ["true"], name: "planned-one" });
results.nameInUse = await run({ cmd: ["true"], name: "planned-one" }).then(
  () => "ran",
  (err: Error) => ({ message: err.message, marks: marks() }),
);
results.badName = await run({ cmd: ["true"], name: "bad name" }).then(
  () => "ran",
  (err: Error) => err.message,
);
// --rm replays leave nothing; other options are a plan of their own.
const removed = await run({ cmd: ["true"], remove: true });
results.removed = { ...removed, left: readdirSync(join(dataDir, "containers")).includes(removed.id) };
results.otherEnv = await run({ cmd: ["sh", "-c", "echo $GREETING"], env: { GREETING: "bye" } });
// A tag rewrites the store's index: the plan made before it is stale.
await rt.tag("busybox", "planned:tag");
results.afterTag = await run({ cmd: ["true"] });
results.afterTagAgain = await run({ cmd: ["true"] });
await rt.removeImage("planned:tag");

for (const c of await rt.list({ all: true, labels: { planned: "yes" } })) await c.remove({ force: true });
await rt.close();
console.log(JSON.stringify(results));
