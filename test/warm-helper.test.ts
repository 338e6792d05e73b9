/**
 * The native backend's warm helper (native-rs/runtime/src/serve,
 * src/backends/native/warm-helper.ts): one `tsbox-runtime serve` per Runtime
 * that forks a supervisor per run. Its own behaviour, as root and as the
 * unprivileged users: concurrent runs through one helper, a killed helper
 * restarted by the next run, and nothing left when its owner is SIGKILLed.
 * (The runs themselves are the api/process/isolation/lifecycle suites'.)
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { identityEnv, runJsonScript, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

const script = fileURLToPath(new URL("./helpers/warm-helper-script.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const alive = (pid: number) => {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
};

for (const who of identities()) {
  describe(`warm helper as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("runs containers concurrently through one helper, each under a supervisor of its own", async () => {
      const r = await runJsonScript(who, script, ["concurrent"]);
      assert.equal(r.sameHelper, true, "every supervisor is the one helper's child");
      assert.equal(r.distinctSupervisors, true);
      assert.equal(r.helperAfter, true, "the helper outlives its runs");
      // Nothing of the helper reaches a container: fds 0-2, and ls's own directory.
      assert.deepEqual(
        r.outputs,
        [0, 1, 2, 3].map((i) => ({ exitCode: i, stdout: `run${i}\n0\n1\n2\n3\n`, stderr: "" })),
      );
    });

    it("gives each container a user namespace of its own with the user's maps, written without a setuid helper per run", async () => {
      const r = await runJsonScript(who, script, ["maps"]);
      assert.deepEqual(r.exitCodes, [0, 0]);
      assert.notEqual(r.namespaces[0], r.namespaces[1], "one user namespace per container");
      const uidMappings: { containerID: number; hostID: number; size: number }[] = r.uidMappings;
      const host = uidMappings.map((m) => [m.containerID, m.hostID, m.size]);
      assert.deepEqual(r.hostView, [host, host], "the host sees the user's ids");
      // Rootless with subordinate ids, the helper's nest (native-rs/container/src/nest.rs) is the
      // containers' parent namespace: seen from inside, the same ids are the nest's.
      const inside = uidMappings.length > 1 ? uidMappings.map((m) => [m.containerID, m.containerID, m.size]) : host;
      assert.deepEqual(r.insideView, [inside, inside]);
      assert.equal(r.visibleAfterWait, 0, "gone for everyone once each run's wait() settled");
      assert.deepEqual(r.containersLeft, [], "both removed, a file of a subordinate id included");
    });

    it("runs an exec as a fork of the helper too, its output, exit code and terminal as ever", async () => {
      const r = await runJsonScript(who, script, ["exec"]);
      assert.equal(r.forkOfHelper, true, "the exec's helper is the warm helper's child");
      assert.deepEqual(r.exec, { exitCode: 3, signal: null, stdout: "exec-out\n", stderr: "exec-err\n" });
      // A terminal of the container's own devpts (ttyname finds it there).
      assert.equal(r.tty.exitCode, 0);
      assert.match(r.tty.stdout, /^\/dev\/pts\/\d+\r?\n$/);
      assert.equal(r.killed.exitCode, 137);
    });

    it("restarts a helper that was killed; the run it had ends with it", async () => {
      const r = await runJsonScript(who, script, ["restart"]);
      assert.equal(r.killedRun.exitCode, 137);
      assert.equal(r.firstGone, true);
      assert.deepEqual(r.again, { exitCode: 0, stdout: "again\n", stderr: "" });
      assert.equal(r.newHelper, true);
    });

    it("close() ends no container: runs going through the helper end by themselves, then the helper goes", async () => {
      const r = await runJsonScript(who, script, ["close"]);
      assert.deepEqual(r.output, { exitCode: 7, stdout: "start\ndone\n", stderr: "" });
      assert.deepEqual(r.exec, { exitCode: 0, signal: null, stdout: "exec-done\n", stderr: "" });
      assert.deepEqual(r.other, { exitCode: 0, stdout: "got x\n", stderr: "" });
      assert.deepEqual([r.helperAtClose, r.helperWhileOneRuns, r.helperGone], [true, true, true]);
      assert.deepEqual(r.again, { exitCode: 0, stdout: "again\n", stderr: "" });
      assert.equal(r.newHelper, true);
    });

    it("a Runtime dropped without close() lets its helper go once it is collected (a server's Runtime per request)", async () => {
      const r = await runJsonScript(who, script, ["dropped"]);
      assert.deepEqual(r.outputs, [0, 1, 2].map((i) => ({ exitCode: 0, stdout: `request${i}\n`, stderr: "" })));
      assert.equal(r.helpersWhileHeld, true, "each Runtime had a helper of its own");
      assert.equal(r.helpersGone, true, "no helper left per dropped Runtime");
    });

    it("leaves no child behind, running or a zombie, and warns of nothing, in worker threads that end or are terminated", async () => {
      const r = await runJsonScript(who, script, ["worker"]);
      assert.deepEqual(r.children, []);
      assert.deepEqual(r.containersLeft, []);
      assert.deepEqual(r.warnings, []);
    });

    it("dies with its owner: a SIGKILLed Node process leaves no helper, supervisor or container, and its runs' ends are recorded", async () => {
      const child = spawn(process.execPath, ["--import", "tsx", script, "owner"], { uid: who.uid, gid: who.gid, cwd: repoRoot, env: identityEnv(who), stdio: ["ignore", "pipe", "inherit"] });
      const line = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          if (out.includes("\n")) resolve(out.slice(0, out.indexOf("\n")));
        });
        child.on("exit", (code) => reject(new Error(`the owner exited (${code}) before reporting`)));
      });
      const { pids, removed, kept } = JSON.parse(line) as { pids: Record<string, number>; removed: string; kept: string };
      for (const pid of Object.values(pids)) assert.ok(alive(pid), `${pid} runs before the owner is killed`);
      const exited = new Promise((resolve) => child.on("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      for (let i = 0; i < 250 && Object.values(pids).some(alive); i++) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(Object.entries(pids).filter(([, pid]) => alive(pid)), [], "nothing outlives the owner");
      // Each supervisor killed its container and recorded it, as docker shows a killed one: a supervisor
      // that wrote its exit to the dead owner's socket died of SIGPIPE first (state "running", ps: "unknown").
      const containers = join(who.dataDir, "containers");
      assert.equal(existsSync(join(containers, removed)), false, "the --rm container is deleted by its supervisor");
      const state = JSON.parse(readFileSync(join(containers, kept, "state.json"), "utf8")) as { status: string; exitCode: number; finished: string | null };
      assert.deepEqual([state.status, state.exitCode, typeof state.finished], ["exited", 137, "string"]);
      assert.equal((await tsbox(who, ["rm", kept])).code, 0);
    });
  });
}
