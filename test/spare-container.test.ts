/**
 * Spare containers of the warm helper (src/containers/spare.ts, native-rs/runtime/src/run.rs `spare`): after a
 * foreground library run, one container of its kind set up ahead, taken by the next run of that kind. As root
 * and as the unprivileged users: the next run is the spare (its id), with its own process, and shows what a
 * run without a spare shows (output, exit code, inspect, events, --rm removal); a run of another kind does not
 * take it; nothing of a spare is seen (ps, lookups) or left (close(), a SIGKILLed owner). No timings here:
 * bench/startup measures what a spare saves.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { runJsonScript, runs, startOwner, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

const script = fileURLToPath(new URL("./helpers/spare-script.ts", import.meta.url));

for (const who of identities()) {
  // "single" (tsbox-single) maps its own uid alone: its containers run as root.
  const user = who.name === "single" ? "0" : "65534";
  describe(`spare containers as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("the next run of a kind is the spare, with its own process, and shows what a run without one shows", async () => {
      const r = await runJsonScript(who, script, ["takes", user]);
      assert.equal(r.firstExit, 0);
      assert.equal(r.spareBeforeSecond, true, "a spare is set up after the first run");
      assert.deepEqual([r.spareListed, r.spareFound], [false, false], "a spare is nobody's container yet");
      assert.equal(r.tookSpare, true, "the second run is the spare");
      assert.deepEqual([r.taken.clonedBefore, r.plain.clonedBefore], [true, false], "its PID 1 was there before the run asked");
      // Its own process, with the protection every container's process gets (bound at its start: filter, no_new_privs, caps).
      assert.deepEqual(r.taken.output, r.plain.output);
      assert.equal(r.taken.output.exitCode, 3);
      assert.match(r.taken.output.stdout, new RegExp(`^foo line\n/work\n${user}\n`));
      assert.match(r.taken.output.stdout, /^Seccomp:\s+2$/m);
      assert.match(r.taken.output.stdout, /^NoNewPrivs:\s+1$/m);
      for (const run of [r.taken, r.plain]) {
        assert.equal(run.listed, true);
        assert.deepEqual([run.gone, run.nameFreed], [true, true], "--rm: the bundle and the name go");
        assert.deepEqual(run.events, ["create", "start", "die", "destroy"]);
      }
      assert.deepEqual(r.taken.info, r.plain.info);
      assert.deepEqual([r.inheritTook, r.inheritExit], [true, 0], "the run's user reopens its inherited stderr");
      assert.equal(r.taken.info.Status, "running");
      assert.deepEqual(r.sparesAfterClose, []);
    });

    it("a run of another kind does not take the spare and works; one spare at a time", async () => {
      const r = await runJsonScript(who, script, ["kinds"]);
      assert.deepEqual(r.other, { exitCode: 0, stdout: "elsewhere\n", stderr: "" });
      assert.equal(r.otherTook, false);
      assert.equal(r.firstGone, true, "the spare of the other kind is dropped, its bundle deleted");
      assert.equal(r.secondIsNew, true, "the new kind gets a spare");
      assert.deepEqual(r.readOnly, { exitCode: 0, stdout: "ro\n", stderr: "" });
      assert.equal(r.readOnlyTook, false);
      assert.deepEqual(r.misfit, { exitCode: 0, stdout: "/tmp\n", stderr: "" });
      assert.deepEqual([r.misfitBundle, r.misfitFresh], [true, true], "a misfit of its kind runs in the spare's bundle, a container of its own");
      assert.equal(r.keptTook, false, "a run without --rm gets no spare");
      assert.equal(r.neverTwo, true);
      assert.match(r.failed ?? "", /no\/such\/command/);
      assert.deepEqual(r.sparesAfterClose, []);
    });

    it("close() drops the spare: its supervisor, container and bundle go", async () => {
      const r = await runJsonScript(who, script, ["close"]);
      assert.equal(r.supervisors, 1, "the spare's supervisor is the warm helper's child");
      assert.equal(r.spareGone, true);
      assert.equal(r.helperChildren, 0, "no spare supervisor left");
    });

    it("a Runtime dropped without close() loses its spare once it is collected", async () => {
      const r = await runJsonScript(who, script, ["dropped"]);
      assert.equal(r.spareGone, true);
    });

    it("a SIGKILLed owner leaves no spare: processes, cgroup and bundle go; ps -a never showed it", async () => {
      const { child, line } = await startOwner(who, script, ["owner"]);
      const { spare, pids } = JSON.parse(line) as { spare: string; pids: number[] };
      assert.equal(pids.length, 3, "helper, the spare's supervisor and its container");
      for (const pid of pids) assert.ok(runs(pid), `${pid} runs before the owner is killed`);
      const ps = await tsbox(who, ["ps", "-a", "--no-trunc", "--format", "{{.ID}}"]);
      assert.equal(ps.code, 0);
      assert.ok(!ps.stdout.includes(spare), "ps -a shows no spare");
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      for (let i = 0; i < 250 && pids.some(runs); i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(pids.filter(runs), [], "nothing outlives the owner");
      const bundle = join(who.dataDir, "containers", spare);
      for (let i = 0; i < 250 && existsSync(bundle); i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(existsSync(bundle), false, "the orphaned spare's supervisor deletes its bundle");
    });

    it("the CLI never keeps one (one container per process)", async () => {
      for (let i = 0; i < 2; i++) assert.equal((await tsbox(who, ["run", "--rm", "--network", "none", "busybox", "true"], { env: { TSBOX_SPARE: "1" } })).code, 0);
      const containers = join(who.dataDir, "containers");
      assert.deepEqual(existsSync(containers) ? readdirSync(containers).filter((e) => !e.startsWith(".")) : [], []);
    });
  });
}
