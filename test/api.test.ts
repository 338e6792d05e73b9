/**
 * The library API (`import { Runtime } from "tsbox"`): streams, stdin, exit
 * codes, kill, tty, disposal and errors, in a real container, as root and as
 * unprivileged users (the scenarios run in a child process as that user).
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { runJsonScript, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

const script = fileURLToPath(new URL("./helpers/api-script.ts", import.meta.url));
const lifetimeScript = fileURLToPath(new URL("./helpers/api-lifetime-script.ts", import.meta.url));
/** A program that does not end by itself is killed after this long (and fails the test: exit 137). */
const inTime = (argv: string[]) => ["timeout", "-s", "KILL", "40", ...argv];

for (const who of identities()) {
  describe(`library API as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("runs containers through Runtime and Container", async () => {
      const r = await runJsonScript(who, script);
      assert.deepEqual(r.output, { exitCode: 3, stdout: "out\n", stderr: "err\n" });
      assert.deepEqual(r.stdin, { exitCode: 0, stdout: "PIPED THROUGH\n", stderr: "" });
      assert.deepEqual(r.outputAgain, { same: true, concurrent: ["out\n", "out\n"] });
      assert.deepEqual(r.outputLimit, {
        // Cut at the limit; "y" lines only; the other stream's output kept.
        error: { name: "OutputLimitError", code: "max_buffer", message: "stdout passed maxBuffer (1048576 bytes)", stream: "stdout", stdoutBytes: 1 << 20, stdoutLines: 1 + 1, stderr: "to-stderr\n" },
        status: { exitCode: 137, signal: "SIGKILL", oomKilled: false },
        badOption: "UsageError: output options: maxBuffer: expected a number of bytes above 0, got -1",
      });
      assert.deepEqual(r.kill, { exitCode: 137, signal: "SIGKILL", oomKilled: false, pidWasNumber: true });
      assert.equal(r.tty.exitCode, 0);
      // The pty is the host's (opened by the addon), bind-mounted as the container's console.
      assert.match(r.tty.stdout, /^\/dev\/(console|pts\/\d+)\r\n30 100\r\n$/);
      assert.deepEqual(r.disposed, { listed: false });
      // (the leak check after this test finds any cgroup the stop left)
      // Before: stop(2) sent SIGKILL after 2 ms where stop({ timeout: 2 }) and docker's stop -t 2 wait 2 s.
      assert.deepEqual(r.stopUnits, { refused: "UsageError: stop(2): a number is milliseconds, the browser's form; for 2 seconds give stop({ timeout: 2 }) or stop(2000)", running: true });
      assert.deepEqual(r.restart, { stopped: 137, running: true, newPid: true, runningAfterStop: false });
      assert.equal(r.notFound.exitCode, 127);
      // Before: notFound false, and the CLI's "(--pull never)" to a library caller.
      assert.deepEqual(r.pullNever, { name: "ImageError", message: 'no such image: no-such-image:1 (pull: "never")', notFound: true, found: true });
      assert.match(r.notFound.message, /executable file not found in \$PATH: no-such-command/);
      // Before: the error had no id nor name, and `await using` never got a handle: each failed attempt left a container.
      assert.deepEqual(r.failedStart, { exitCode: 127, name: "api-failed-start", status: "created", sameId: true, removedNamesNone: true });
      assert.deepEqual(r.usage, ["UsageError", "UsageError", "UsageError", "UsageError", "UsageError"]);
      assert.deepEqual(r.aborted, {
        run: "AbortError: This operation was aborted",
        create: "AbortError: This operation was aborted",
        made: 0,
        pull: "TimeoutError: The operation was aborted due to timeout",
      });
    });

    it("ends a program whose container has a restart policy: its monitor keeps the container, reading it or waiting keeps the program; the object follows its restarts", async () => {
      const r = await runJsonScript(who, lifetimeScript, ["monitored"], inTime);
      assert.equal(r.read, "up\n");
      assert.equal(r.waited, 3);
      assert.deepEqual(r.again, { running: true, exec: "again\n", waited: 3 });
      const running = await tsbox(who, ["inspect", "--format", "{{.State.Running}}", r.id]);
      assert.equal(running.stdout.trim(), "true", "it outlives the program");
      assert.equal((await tsbox(who, ["rm", "-f", r.id, r.quick])).code, 0);
    });

    it("closes the Runtime at the end of a program, and runs again after a close", async () => {
      assert.deepEqual(await runJsonScript(who, lifetimeScript, ["close"], inTime), { first: "a\n", again: "b\n" });
    });

    it("stops a run with a restart policy for good (stop(), kill() with its stop signal)", async () => {
      const r = await runJsonScript(who, lifetimeScript, ["stop-monitored"], inTime);
      assert.deepEqual(r, { stopped: 143, status: "exited", killed: 143, killedStatus: "exited" });
    });
  });
}
