/**
 * The run cache through the real CLI, as root and as each test user: a `tsbox run` leaves a plan, the next run of
 * the same command line replays it (a `run-cache: replay` mark on TSBOX_TRACE_FD) and makes the container a full
 * run makes — the same config.json, inspect.json and state.json but for its own id, name, times and pids — with
 * its own command, environment and hostname; an image that changed, a name in use or a run of other flags go the
 * full way; nothing is left behind.
 */
import { after, afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { tsbox } from "./helpers/cli.js";
import { assertNoLeaks, snapshot, type Snapshot } from "./helpers/leaks.js";
import { normalizedBundle } from "./helpers/bundle-files.js";

after(cleanupIdentities);

const TRACE = { TSBOX_TRACE_FD: "2" };
const replayed = (stderr: string) => /run-cache: replay [0-9a-f]{64}/.exec(stderr)?.[0].slice(-64);
const planWritten = (stderr: string) => /run-cache: plan written/.test(stderr);

for (const who of identities()) {
  describe(`the run cache, as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(async () => {
      snap = snapshot();
      // The first use of busybox imports it into the store (the index changes, so that run's plan would be stale).
      assert.equal((await tsbox(who, ["image", "inspect", "busybox"])).code, 0);
    });
    afterEach(async () => {
      await assertNoLeaks(snap, [who]);
    });

    it("replays a run's plan for the next run of its command line, making the container a full run makes", async () => {
      const prefix = ["run", "--network", "none", "-e", "GREETING=hello", "-w", "/tmp", "busybox"];
      const first = await tsbox(who, [...prefix, "sh", "-c", "echo one $GREETING"], { env: TRACE });
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout, "one hello\n");
      assert.ok(planWritten(first.stderr), first.stderr);

      const second = await tsbox(who, [...prefix, "sh", "-c", 'echo two $GREETING $HOSTNAME $(pwd); exit 3'], { env: TRACE });
      const id = replayed(second.stderr);
      assert.ok(id, `replayed: ${second.stderr}`);
      assert.equal(second.code, 3, "the container's exit code");
      assert.equal(second.stdout, `two hello ${id.slice(0, 12)} /tmp\n`, "its own command, hostname and the plan's environment");

      // The same command line with the cache off: a full run, whose container must be the replayed one's twin.
      const full = await tsbox(who, [...prefix, "sh", "-c", 'echo two $GREETING $HOSTNAME $(pwd); exit 3'], { env: { ...TRACE, TSBOX_RUN_CACHE: "0" } });
      assert.equal(full.code, 3, full.stderr);
      assert.equal(replayed(full.stderr), undefined);
      const ps = await tsbox(who, ["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.Command}} {{.Status}}"]);
      const rows = ps.stdout.trim().split("\n");
      assert.equal(rows.length, 3, ps.stdout);
      const fullId = rows.map((r) => r.split(" ")[0]!).find((r) => r !== id && !first.stderr.includes(r))!;
      assert.ok(rows.some((r) => r.startsWith(`${id} `) && r.includes('"sh -c echo two') && r.includes("Exited (3)")), ps.stdout);
      assert.deepEqual(normalizedBundle(who.dataDir, id), normalizedBundle(who.dataDir, fullId));

      const events = await tsbox(who, ["events", "--since", "0", "--until", "0s", "--filter", `container=${id}`, "--format", "{{.Action}}"]);
      assert.deepEqual(events.stdout.trim().split("\n"), ["create", "start", "die"], events.stderr);
      assert.equal((await tsbox(who, ["rm", id, fullId, ...readdirSync(join(who.dataDir, "containers")).filter((e) => /^[0-9a-f]{64}$/.test(e) && e !== id && e !== fullId)])).code, 0);
    });

    it("--rm replays remove their containers; a changed image, a name in use and other flags take the full way", async () => {
      const run = (args: string[], env: Record<string, string> = {}) => tsbox(who, ["run", "--rm", "--network", "none", ...args], { env: { ...TRACE, ...env } });
      assert.ok(planWritten((await run(["busybox", "true"])).stderr));
      for (const word of ["a", "b"]) {
        const r = await run(["busybox", "echo", word]);
        assert.ok(replayed(r.stderr), r.stderr);
        assert.equal(r.stdout, `${word}\n`);
      }
      // A tag rewrites the store's index: the image a name means may have changed, so the next run looks again.
      assert.equal((await tsbox(who, ["tag", "busybox", "run-cache-other"])).code, 0);
      const after = await run(["busybox", "echo", "c"]);
      assert.equal(replayed(after.stderr), undefined, after.stderr);
      assert.ok(planWritten(after.stderr), after.stderr);
      assert.ok(replayed((await run(["busybox", "echo", "d"])).stderr));
      assert.equal((await tsbox(who, ["rmi", "run-cache-other"])).code, 0);

      // A name in use: the replay lets go of everything it made, and the full run says why it cannot run.
      const named = ["run", "--network", "none", "--name", "run-cache-web", "busybox", "true"];
      assert.ok(planWritten((await tsbox(who, named, { env: TRACE })).stderr));
      const clash = await tsbox(who, named, { env: TRACE });
      assert.equal(clash.code, 125);
      assert.match(clash.stderr, /run-cache-web.*already in use/);
      assert.equal(replayed(clash.stderr), undefined);
      const ps = await tsbox(who, ["ps", "-a", "--format", "{{.Names}}"]);
      assert.equal(ps.stdout, "run-cache-web\n", "the replay's container is gone");
      assert.equal((await tsbox(who, ["rm", "run-cache-web"])).code, 0);

      // A bind mount is not in a plan's files: such a run leaves no plan, and every run of it is a full one.
      const bind = ["-v", `${who.scratch}:/host:ro`, "busybox", "true"];
      const plans = readdirSync(join(who.dataDir, "run-cache")).length;
      for (let i = 0; i < 2; i++) assert.equal(replayed((await run(bind)).stderr), undefined);
      assert.equal(readdirSync(join(who.dataDir, "run-cache")).length, plans);
    });
  });
}
