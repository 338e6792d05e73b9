/**
 * The library's run plans (src/containers/plan-cache.ts), as root and as each test user: a Runtime's foreground
 * `run` leaves a plan, its next run of the same options but the command and name replays it (a `plan-cache: replay`
 * mark on TSBOX_TRACE_FD) and makes the container a full run makes — the same config.json, inspect.json and
 * state.json but for its own id, name, times and pids — with its own command, name and hostname; a name in use,
 * a bad name, other options and a changed image store go the full way; nothing is left behind.
 */
import { after, afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { runJsonScript } from "./helpers/cli.js";
import { assertNoLeaks, snapshot, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

const script = fileURLToPath(new URL("./helpers/plan-cache-script.ts", import.meta.url));
const replay = (id: string) => [`replay ${id}`];

for (const who of identities()) {
  describe(`the library's run plans, as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("replays a run's plan for the next run of the same options, making the container a full run makes", async () => {
      const r = await runJsonScript(who, script);
      assert.deepEqual([r.first.stdout, r.first.marks], ["one hello\n", ["plan made"]]);
      const { second, full } = r;
      assert.deepEqual(second.marks, replay(second.id));
      assert.deepEqual([second.exitCode, second.stdout], [3, `two hello ${second.id.slice(0, 12)} /tmp\n`], "its own command and hostname, the plan's environment and directory");
      assert.deepEqual([full.exitCode, full.stdout, full.marks], [3, `two hello ${full.id.slice(0, 12)} /tmp\n`, []], "TSBOX_RUN_CACHE=0: a full run");
      assert.deepEqual(r.differences, [], "the replayed container's files are a full run's");
      assert.equal(r.twins, true);

      assert.deepEqual([r.named.name, r.named.marks], ["planned-one", replay(r.named.id)], "a name of its own");
      assert.equal(r.nameInUse.message, `the container name "planned-one" is already in use by container ${r.named.id.slice(0, 12)}`);
      assert.match(r.nameInUse.marks.join("\n"), /^no replay: the name planned-one: File exists/);
      assert.equal(r.badName, 'invalid container name "bad name": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed');

      assert.deepEqual([r.removed.exitCode, r.removed.left], [0, false], "a --rm run leaves nothing");
      assert.deepEqual([r.otherEnv.stdout, r.otherEnv.marks], ["bye\n", ["plan made"]], "other options: a plan of their own");
      assert.deepEqual(r.afterTag.marks, ["no replay: image changed", "plan made"], "a tag made the plan stale");
      assert.deepEqual(r.afterTagAgain.marks, replay(r.afterTagAgain.id));
    });
  });
}
