/**
 * The library's data API (Container.inspect/copyTo/copyFrom/diff/commit,
 * Runtime.volumes, diskUsage) against real containers, as root and as the
 * unprivileged users (the scenario runs in a child process as that user).
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { runJsonScript } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

const script = fileURLToPath(new URL("./helpers/api-data-script.ts", import.meta.url));

for (const who of identities()) {
  describe(`library data API as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("inspects, copies both ways, diffs and commits through Container; volumes through Runtime", async () => {
      const r = await runJsonScript(who, script, [who.scratch]);
      assert.deepEqual(r.volume, { name: "apidata", labels: { purpose: "test" } });
      assert.deepEqual(r.inspectRunning, { status: "running", running: true, labels: { app: "api" }, init: true, mounts: ["volume:apidata:/data"] });
      assert.deepEqual(r.output, { exitCode: 0, stdout: "from a path\nfrom a tar\nfrom a gzip'd tar\n", stderr: "" });
      assert.deepEqual(r.copiedOut, { tarNames: ["made"], file: "made\n", fileNames: ["made"] });
      const abortError = "AbortError: This operation was aborted";
      assert.deepEqual(r.aborted, { early: abortError, earlyMade: false, midway: abortError, bad: 'UsageError: copyTo options: signal: expected an AbortSignal, got the string "soon"', sourceBroke: "Error: source broke" });
      assert.deepEqual(r.abortLeft, [], "no `held`, and no temp of it (.tsbox-cp.<pid>.tmp)");
      assert.deepEqual(r.diff, [{ Kind: 2, Path: "/bin/ls" }, { Kind: 1, Path: "/made" }]);
      assert.deepEqual(r.commit, { idOk: true, comment: "from the API" });
      assert.deepEqual(r.committedRun, { exitCode: 0, stdout: "made\n", stderr: "" });
      assert.equal(r.stopped, "exited");
      assert.deepEqual(r.usage, ["Images", "Containers", "Local Volumes", "Build Cache"]);
      assert.equal(r.volumesLeft, 0);
    });
  });
}
