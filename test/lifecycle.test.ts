/**
 * Containers that outlive the CLI: `run -d` under a monitor, logs, exec,
 * stop's escalation, restart policies, create/start/attach/rename/kill/wait,
 * truthful state after a SIGKILLed monitor or CLI, races between CLIs, the
 * library's verbs across processes, and 200 containers started and removed.
 * As root and as the unprivileged test users; nothing may leak (monitors,
 * log files, state dirs and names included).
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { constants as osConstants, release } from "node:os";
import { fileURLToPath } from "node:url";
import { identities, cleanupIdentities, notAsSingle, type Identity } from "./helpers/identities.js";
import { tsbox, cliPath, identityEnv, repoRoot, signalSpawned } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, removersDone, strayProcesses, type Snapshot } from "./helpers/leaks.js";
import { until } from "./helpers/until.js";
import { holdLock } from "./helpers/hold-lock.js";
import { FullDisk } from "./helpers/full-disk.js";
import { Runtime } from "../src/index.js";

after(cleanupIdentities);

/** state.json of a container, by name or id (the documented contract: src/containers/state.ts). */
function state(who: Identity, ref: string): Record<string, any> {
  let id = ref;
  try {
    id = readlinkSync(join(who.dataDir, "names", ref));
  } catch {
    // an id
  }
  return JSON.parse(readFileSync(join(who.dataDir, "containers", id, "state.json"), "utf8"));
}

/** Whether a container holds `name` (its names/ symlink points at a bare id: existsSync would always say no). */
function nameTaken(who: Identity, name: string): boolean {
  return readdirSync(join(who.dataDir, "names")).includes(name);
}

function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

async function ok(who: Identity, args: string[], opts: Parameters<typeof tsbox>[2] = {}) {
  const r = await tsbox(who, args, opts);
  assert.equal(r.code, 0, `tsbox ${args.join(" ")}: ${r.stderr}`);
  return r;
}

/**
 * Sends `signal` once it can count as one more: a standard signal still pending (not yet taken by the
 * process's handler) absorbs the next of its kind.
 */
async function signalOneByOne(pid: number, signal: NodeJS.Signals): Promise<void> {
  const bit = 1n << BigInt(osConstants.signals[signal] - 1);
  const pending = () => {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, "utf8");
    } catch {
      return false; // it ended
    }
    return ["SigPnd", "ShdPnd"].some((k) => (BigInt(`0x${new RegExp(`^${k}:\\s*(\\w+)`, "m").exec(status)![1]}`) & bit) !== 0n);
  };
  await until(`${signal} taken`, () => !pending());
  signalSpawned(pid, signal);
  await until(`${signal} taken`, () => !pending());
}

const script = fileURLToPath(new URL("./helpers/lifecycle-script.ts", import.meta.url));
const hangupScript = fileURLToPath(new URL("./helpers/hangup.py", import.meta.url));

/** A library scenario of test/helpers/lifecycle-script.ts in a Node process of its own, as `who`. */
function scenario(who: Identity, name: string, arg = ""): Promise<Record<string, any>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, name, arg], {
      uid: who.uid, gid: who.gid, cwd: repoRoot, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`scenario ${name} exited ${code}: ${err}`))));
  });
}

for (const who of identities()) {
  describe(`lifecycle as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("run -d prints the id and returns; ps shows it up; logs -f follows it to its end", async () => {
      // It waits for /tmp/go (made by exec below), so it is surely still running meanwhile.
      const script = "echo line 1; while [ ! -f /tmp/go ]; do sleep 0.05; done; echo line 2; sleep 0.2; echo line 3; echo oops >&2";
      const r = await ok(who, ["run", "-d", "--name", "ticker", "busybox", "sh", "-c", script]);
      assert.match(r.stdout, /^[0-9a-f]{64}\n$/);
      const id = r.stdout.trim();
      const ps = await ok(who, ["ps"]);
      assert.match(ps.stdout, new RegExp(`${id.slice(0, 12)} .* Up .* ticker`));
      const following = ok(who, ["logs", "-f", "ticker"]);
      await ok(who, ["exec", "ticker", "touch", "/tmp/go"]);
      const follow = await following;
      assert.equal(follow.stdout, "line 1\nline 2\nline 3\n");
      assert.equal(follow.stderr, "oops\n");
      const tail = await ok(who, ["logs", "--tail", "2", "-t", id.slice(0, 8)]);
      assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z line 3\n$/);
      assert.match(tail.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z oops\n$/);
      assert.equal((await ok(who, ["logs", "--since", "1h", "--until", "2000-01-01T00:00:00Z", "ticker"])).stdout, "");
      assert.equal((await ok(who, ["logs", "--tail", "-1", "ticker"])).stdout, "line 1\nline 2\nline 3\n", "a negative --tail is all (docker's)");
      // docker's --details: the entry's attributes (none recorded) and a space before each line, after the time.
      assert.equal((await ok(who, ["logs", "--details", "ticker"])).stdout, " line 1\n line 2\n line 3\n");
      assert.match((await ok(who, ["logs", "--details", "-t", "--tail", "2", "ticker"])).stdout, /^\S+Z  line 3\n$/);
      const s = state(who, "ticker");
      assert.equal(s.status, "exited");
      assert.equal(s.exitCode, 0);
      assert.equal(s.supervisor, "monitor");
      assert.match((await ok(who, ["ps", "-a"])).stdout, /Exited \(0\) .* ticker/);
      await ok(who, ["rm", "ticker"]);
    });

    it("logs joins a line written in parts (docker's json-file): one time per line with -t, --tail counts lines, a last part without its newline is shown", notAsSingle(who), async () => {
      // Before, each write was an entry of its own: `printf a; echo b` (Python's unbuffered print too) gave
      // "<time> a<time> b" with -t, and --tail 1 only "b".
      const script = "printf a; sleep 0.3; echo b; printf c >&2; sleep 0.3; echo d >&2; sleep 0.3; printf prompt";
      const id = (await ok(who, ["run", "-d", "busybox", "sh", "-c", script])).stdout.trim();
      try {
        assert.equal((await ok(who, ["wait", id])).stdout, "0\n");
        const stamped = await ok(who, ["logs", "-t", id]);
        assert.match(stamped.stdout, /^\S+Z ab\n\S+Z prompt$/);
        assert.match(stamped.stderr, /^\S+Z cd\n$/);
        const tail = await ok(who, ["logs", "--tail", "2", id]);
        assert.deepEqual([tail.stdout, tail.stderr], ["prompt", "cd\n"]);
        const all = await ok(who, ["logs", id]);
        assert.deepEqual([all.stdout, all.stderr], ["ab\nprompt", "cd\n"]);
      } finally {
        await ok(who, ["rm", id]);
      }
    });

    it("logs without -f is what the log holds when asked, however fast the container writes (docker's snapshot)", notAsSingle(who), async () => {
      await ok(who, ["run", "-d", "--name", "firehose", "--log-opt", "max-size=256k", "--log-opt", "max-file=2", "busybox", "yes"]);
      try {
        while ((await ok(who, ["logs", "--tail", "1", "firehose"])).stdout === "") await new Promise((r) => setTimeout(r, 50));
        // Before: the backlog was read "to its end", which a writer faster than the reader never lets come.
        assert.equal((await ok(who, ["logs", "--tail", "3", "firehose"])).stdout, "y\ny\ny\n");
        const all = (await ok(who, ["logs", "firehose"])).stdout;
        const lines = all.split("\n").length - 1;
        // No more than the two files of 256 KiB could hold (an entry's JSON line is over 50 bytes), with a write's slack.
        assert.ok(lines > 0 && lines <= (3 * 256 * 1024) / 50, `${lines} lines`);
        assert.match(all, /^(y\n)+$/);
      } finally {
        await ok(who, ["rm", "-f", "firehose"]);
      }
    });

    it("run -d --rm: the monitor deletes the container, its writable layer and its name once it exits", async () => {
      // As uid 1000 where there is one: rootless, its files belong to a subordinate id the user cannot delete alone.
      const user = who.name === "single" ? [] : ["-u", "1000"];
      await ok(who, ["run", "-d", "--rm", "--name", "fleeting", ...user, "busybox", "sh", "-c", "mkdir -p /tmp/d && touch /tmp/d/f; sleep 0.3"]);
      await until("its removal", () => !nameTaken(who, "fleeting") && readdirSync(join(who.dataDir, "containers")).length === 0);
      assert.equal((await ok(who, ["ps", "-a", "-q"])).stdout, "");
    });

    it("a foreground run keeps its output for logs, as docker does (stdout and stderr apart); --rm keeps none", notAsSingle(who), async () => {
      const r = await tsbox(who, ["run", "--name", "fg-logged", "busybox", "sh", "-c", "echo out; echo err >&2; printf partial; exit 3"]);
      assert.equal(r.code, 3);
      assert.equal(r.stdout, "out\npartial", "the output still reaches the caller as it was");
      assert.equal(r.stderr, "err\n");
      const logs = await ok(who, ["logs", "fg-logged"]);
      assert.equal(logs.stdout, "out\npartial");
      assert.equal(logs.stderr, "err\n");
      await ok(who, ["rm", "fg-logged"]);
      // With a terminal too (before stop 40 it kept none): the pty's output, as one stream.
      const inner = `${process.execPath} ${cliPath} run -t --name fg-tty busybox sh -c 'echo out; echo err >&2'`;
      const tty = await tsbox(who, [], { argv: ["script", "-qec", inner, "/dev/null"] });
      assert.equal(tty.code, 0, tty.stdout + tty.stderr);
      const ttyLogs = await ok(who, ["logs", "fg-tty"]);
      assert.deepEqual([ttyLogs.stdout, ttyLogs.stderr], ["out\r\nerr\r\n", ""]);
      await ok(who, ["rm", "fg-tty"]);
      await ok(who, ["run", "--rm", "--name", "fg-gone", "busybox", "echo", "hi"]);
      // Gone for tsbox when the run returns (its name free at once: the next run takes it), its tree deleted by the remover it forked.
      await ok(who, ["run", "--rm", "--name", "fg-gone", "busybox", "true"]);
      await removersDone(who);
      assert.deepEqual(readdirSync(join(who.dataDir, "containers")), [], "a --rm run leaves no log behind");
    });

    it("--log-opt: one burst of short lines still rotates by the line, so no file passes max-size; inspect shows the options", notAsSingle(who), async () => {
      const id = (await ok(who, ["run", "-d", "--name", "chatty", "--log-opt", "max-size=10k", "--log-opt", "max-file=2", "busybox", "sh", "-c", "yes a | head -c 60000"])).stdout.trim();
      assert.equal((await ok(who, ["wait", "chatty"])).stdout, "0\n");
      const dir = join(who.dataDir, "containers", id);
      const logs = readdirSync(dir).filter((n) => /^container\.log(\.\d+)?$/.test(n)).sort();
      assert.deepEqual(logs, ["container.log", "container.log.1"]);
      for (const n of logs) assert.ok(statSync(join(dir, n)).size <= 10 * 1024, `${n}: ${statSync(join(dir, n)).size} bytes`);
      const kept = (await ok(who, ["logs", "chatty"])).stdout;
      assert.match(kept, /^(a\n)+$/);
      assert.ok(kept.length < 2 * 10 * 1024, "what the two files keep, not all 30000 lines");
      assert.equal((await ok(who, ["inspect", "-f", "{{json .HostConfig.LogConfig}}", "chatty"])).stdout, '{"Type":"json-file","Config":{"max-file":"2","max-size":"10k"}}\n');
      await ok(who, ["rm", "chatty"]);
    });

    it("--log-driver none keeps no log (docker's none driver): attach still sees the output, logs says the driver cannot be read", notAsSingle(who), async () => {
      const noLogFiles = (id: string) => readdirSync(join(who.dataDir, "containers", id)).filter((n) => n.startsWith("container.log"));
      // Under a monitor: an attached client gets the output live; nothing is written.
      const id = (await ok(who, ["run", "-d", "--name", "quiet", "--log-driver", "none", "--log-opt", "max-size=1m", "--log-opt", "tag=web", "busybox", "sh", "-c", "sleep 1; echo out; echo err >&2; sleep 1"])).stdout.trim();
      const attached = await tsbox(who, ["attach", "quiet"]);
      assert.equal(attached.stdout, "out\n");
      assert.equal(attached.stderr, "err\n");
      assert.equal((await ok(who, ["wait", "quiet"])).stdout, "0\n");
      assert.deepEqual(noLogFiles(id), []);
      const logs = await tsbox(who, ["logs", "quiet"]);
      assert.equal(logs.code, 1);
      assert.equal(logs.stderr, "tsbox: configured logging driver does not support reading: container quiet has the none log driver, which keeps no log\n");
      // docker checks none of the none driver's options (tag=web is taken); max-size and max-file show, no log path.
      assert.equal((await ok(who, ["inspect", "-f", "{{json .HostConfig.LogConfig}}|{{.LogPath}}", "quiet"])).stdout, '{"Type":"none","Config":{"max-size":"1m"}}|\n');
      // A restart (a new monitor, from state.json) keeps none either.
      await ok(who, ["start", "-a", "quiet"]);
      assert.deepEqual(noLogFiles(id), []);
      // A foreground run (the CLI hands itself over to the runtime) prints its output and keeps none.
      const fg = await ok(who, ["run", "--name", "quiet-fg", "--log-driver", "none", "busybox", "echo", "hi"]);
      assert.equal(fg.stdout, "hi\n");
      assert.deepEqual(noLogFiles((await ok(who, ["inspect", "-f", "{{.Id}}", "quiet-fg"])).stdout.trim()), []);
      assert.equal((await tsbox(who, ["logs", "quiet-fg"])).code, 1);
      await ok(who, ["rm", "quiet", "quiet-fg"]);
    });

    it("--rm containers: stop succeeds though the record goes, restart keeps a detached one and runs it again", notAsSingle(who), async () => {
      await ok(who, ["run", "-d", "--rm", "--name", "brief", "busybox", "sh", "-c", "echo started; exec sleep 100"]);
      assert.equal((await ok(who, ["restart", "-t", "1", "brief"])).stdout, "brief\n");
      await until("the second run's output", async () => (await ok(who, ["logs", "brief"])).stdout === "started\nstarted\n");
      assert.match((await ok(who, ["inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "brief"])).stdout, /^running 0\n$/);
      // Its upper dir goes with it: mounted volatile (no sync of the data dir's file system when it ends), again
      // after the restart (whose mount would be refused while the first one's mark was left in the work dir).
      const rootMount = async (args: string[]) => (await ok(who, [...args, "grep", " / / ", "/proc/self/mountinfo"])).stdout;
      // (overlayfs has `volatile` since Linux 5.10; before, the helper mounts without it)
      const [major = 0, minor = 0] = release().split(".").map(Number);
      if (major > 5 || (major === 5 && minor >= 10)) assert.match(await rootMount(["exec", "brief"]), /[,\s](fsync=)?volatile\b/);
      assert.doesNotMatch(await rootMount(["run", "--name", "brief-kept", "busybox"]), /volatile/, "a container that stays keeps its writes synced");
      await ok(who, ["rm", "brief-kept"]);
      assert.equal((await ok(who, ["stop", "-t", "1", "brief"])).stdout, "brief\n");
      // A foreground run --rm, stopped from another CLI.
      const fg = tsbox(who, ["run", "--rm", "--name", "brief-fg", "busybox", "sleep", "100"]);
      await until("the foreground container", async () => (await ok(who, ["ps", "-q", "--filter", "name=^brief-fg$"])).stdout !== "");
      assert.equal((await ok(who, ["stop", "-t", "1", "brief-fg"])).stdout, "brief-fg\n");
      assert.notEqual((await fg).code, 0);
      await until("both removed", async () => (await ok(who, ["ps", "-a", "-q"])).stdout === "");
    });

    it("run and run -d hand the CLI's process over: exit codes, stdin only with -i, a failed start recorded or removed", async () => {
      assert.equal((await tsbox(who, ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"])).code, 3);
      const both = await tsbox(who, ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2"]);
      assert.deepEqual([both.stdout, both.stderr], ["out\n", "err\n"]);
      // docker: without -i the container's stdin is closed, with -i it is ours.
      assert.equal((await ok(who, ["run", "--rm", "--network", "none", "busybox", "cat"], { stdin: "typed\n" })).stdout, "");
      assert.equal((await ok(who, ["run", "--rm", "-i", "--network", "none", "busybox", "cat"], { stdin: "typed\n" })).stdout, "typed\n");
      const missing = await tsbox(who, ["run", "--name", "never", "--network", "none", "busybox", "no-such-command"]);
      assert.equal(missing.code, 127);
      assert.equal(missing.stderr, "tsbox: executable file not found in $PATH: no-such-command\n");
      const never = state(who, "never");
      assert.deepEqual([never.status, never.exitCode, never.error, never.creatorPid], ["created", 127, "executable file not found in $PATH: no-such-command", null]);
      // docker's record of a start that failed: still Created, with the code and the reason, never started.
      const stateFormat = "{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt}} {{.State.FinishedAt}} {{.State.Error}}";
      const failedState = "created 127 0001-01-01T00:00:00Z 0001-01-01T00:00:00Z executable file not found in $PATH: no-such-command\n";
      assert.equal((await ok(who, ["inspect", "-f", stateFormat, "never"])).stdout, failedState);
      assert.equal((await ok(who, ["ps", "-a", "--filter", "name=never", "--format", "{{.Status}}"])).stdout, "Created\n");
      // It can be tried again (start, and start -a): the same failure, the same record (docker's start exits 1).
      for (const start of [["start"], ["start", "-a"]]) {
        const again = await tsbox(who, [...start, "never"]);
        // docker's start names the containers that failed after their errors.
        const named = start.length === 1 ? "tsbox: failed to start containers: never\n" : "";
        assert.deepEqual([again.code, again.stderr], [1, `tsbox: executable file not found in $PATH: no-such-command\n${named}`], start.join(" "));
        assert.equal((await ok(who, ["inspect", "-f", stateFormat, "never"])).stdout, failedState, start.join(" "));
      }
      await ok(who, ["rm", "never"]);
      // create, then start: the same.
      await ok(who, ["create", "--name", "never-c", "--network", "none", "busybox", "/nonexistent"]);
      assert.equal((await tsbox(who, ["start", "never-c"])).code, 1);
      assert.equal((await ok(who, ["inspect", "-f", stateFormat, "never-c"])).stdout, "created 127 0001-01-01T00:00:00Z 0001-01-01T00:00:00Z no such file or directory: /nonexistent\n");
      await ok(who, ["rm", "never-c"]);
      const gone = await tsbox(who, ["run", "--rm", "--name", "gone", "--network", "none", "busybox", "no-such-command"]);
      assert.equal(gone.code, 127);
      assert.equal((await ok(who, ["ps", "-a", "-q"])).stdout, "");
      assert.equal(nameTaken(who, "gone"), false);
      // run -d hands over too (to the monitor's starter): the same report, record and removal.
      const detached = await tsbox(who, ["run", "-d", "--name", "never-d", "--network", "none", "busybox", "no-such-command"]);
      assert.deepEqual([detached.code, detached.stdout, detached.stderr], [127, "", "tsbox: executable file not found in $PATH: no-such-command\n"]);
      assert.equal((await ok(who, ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.State.StartedAt}}", "never-d"])).stdout, "created 127 0001-01-01T00:00:00Z\n");
      await ok(who, ["rm", "never-d"]);
      assert.equal((await tsbox(who, ["run", "-d", "--rm", "--network", "none", "busybox", "no-such-command"])).code, 127);
      assert.equal((await ok(who, ["ps", "-a", "-q"])).stdout, "");
      // The hand-off's holder of Node's old memory (the addon's old_image.rs) is reaped once the container runs:
      // before, the helper kept it as a zombie child for as long as a foreground container ran.
      const fg = tsbox(who, ["run", "--rm", "--name", "fg-reaped", "--network", "none", "busybox", "sleep", "2"]);
      await until("the foreground run", () => {
        try {
          return state(who, "fg-reaped").status === "running";
        } catch {
          return false;
        }
      });
      const helper = state(who, "fg-reaped").monitorPid as number;
      await new Promise((r) => setTimeout(r, 300));
      const children = readFileSync(`/proc/${helper}/task/${helper}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
      const zombies = children.filter((pid) => /\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")));
      assert.deepEqual(zombies, [], `the helper's children: ${children.join(" ")}`);
      assert.equal((await fg).code, 0);
    });

    it("exec runs in the container: its PID 1, files, env, cwd, user, stdin, exit codes, -d", async () => {
      await ok(who, ["run", "-d", "--name", "box", "-e", "FROM_RUN=yes", "busybox", "sh", "-c", "echo made > /tmp/file; exec sleep 600"]);
      await until("the container's file", async () => (await tsbox(who, ["exec", "box", "cat", "/tmp/file"])).stdout === "made\n");
      const seen = await ok(who, ["exec", "box", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $FROM_RUN $EXTRA; pwd"]);
      assert.equal(seen.stdout, "sleep 600 \nyes\n/\n");
      const withFlags = await ok(who, ["exec", "-e", "EXTRA=added", "-w", "/tmp", "box", "sh", "-c", "echo $FROM_RUN $EXTRA; pwd"]);
      assert.equal(withFlags.stdout, "yes added\n/tmp\n");
      if (who.name !== "single") {
        assert.equal((await ok(who, ["exec", "-u", "1000:1000", "box", "id", "-u"])).stdout, "1000\n");
      }
      assert.equal((await ok(who, ["exec", "-i", "box", "tr", "a-z", "A-Z"], { stdin: "piped\n" })).stdout, "PIPED\n");
      // --privileged: every capability (here CAP_SYS_PTRACE, bit 19, not the container's) for that process only.
      const capEff = async (args: string[]) => BigInt(`0x${(await ok(who, ["exec", ...args, "box", "sh", "-c", "grep CapEff /proc/self/status"])).stdout.trim().split(/\s+/)[1]}`) & (1n << 19n);
      assert.deepEqual([await capEff(["--privileged"]), await capEff([])], [1n << 19n, 0n]);
      assert.equal((await tsbox(who, ["exec", "box", "sh", "-c", "exit 3"])).code, 3);
      const missing = await tsbox(who, ["exec", "box", "no-such-command"]);
      assert.equal(missing.code, 127);
      assert.equal(missing.stderr, "tsbox: executable file not found in $PATH: no-such-command\n");
      const detached = await ok(who, ["exec", "-d", "box", "sh", "-c", "sleep 0.2; echo from-detached > /tmp/bg"]);
      assert.equal(detached.stdout, "");
      await until("the detached exec's file", async () => (await tsbox(who, ["exec", "box", "cat", "/tmp/bg"])).stdout === "from-detached\n");
      await ok(who, ["rm", "-f", "box"]);
      const gone = await tsbox(who, ["exec", "box", "true"]);
      assert.equal(gone.code, 1);
      assert.equal(gone.stderr, "tsbox: no such container: box\n");
    });

    it("stop sends the stop signal, then SIGKILL after -t; --stop-signal and --stop-timeout are the container's own", notAsSingle(who), async () => {
      await ok(who, ["run", "-d", "--name", "stubborn", "busybox", "sh", "-c", 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done']);
      await until("ready", async () => (await tsbox(who, ["logs", "stubborn"])).stdout.includes("ready"));
      const t0 = Date.now();
      assert.equal((await ok(who, ["stop", "-t", "1", "stubborn"])).stdout, "stubborn\n");
      assert.ok(Date.now() - t0 >= 1000, "SIGKILL only after the timeout");
      assert.equal((await ok(who, ["logs", "stubborn"])).stdout, "ready\ngot-term\n");
      assert.equal((await ok(who, ["wait", "stubborn"])).stdout, "137\n");
      assert.equal(state(who, "stubborn").signal, "SIGKILL");
      // Stopping a stopped container is fine.
      await ok(who, ["stop", "stubborn"]);

      await ok(who, ["run", "-d", "--name", "polite", "--stop-signal", "USR1", "--stop-timeout", "30", "busybox", "sh", "-c", 'trap "echo bye; exit 7" USR1; echo ready; while :; do sleep 0.1; done']);
      await until("ready", async () => (await tsbox(who, ["logs", "polite"])).stdout.includes("ready"));
      await ok(who, ["stop", "polite"]);
      assert.equal((await ok(who, ["wait", "polite"])).stdout, "7\n");
      assert.equal((await ok(who, ["logs", "polite"])).stdout, "ready\nbye\n");
      assert.equal((await ok(who, ["inspect", "-f", "{{.Config.StopSignal}} {{.Config.StopTimeout}}", "polite"])).stdout, "USR1 30\n");
      await ok(who, ["rm", "stubborn", "polite"]);
    });

    it("stop and kill of a container whose monitor never answers (stopped) end it by the monitor's end, not wait for ever", notAsSingle(who), async () => {
      await ok(who, ["run", "-d", "--name", "wedged", "busybox", "sleep", "1000"]);
      await ok(who, ["run", "-d", "--name", "wedged-kill", "busybox", "sleep", "1000"]);
      const monitors = ["wedged", "wedged-kill"].map((n) => state(who, n).monitorPid as number);
      for (const m of monitors) process.kill(m, "SIGSTOP");
      try {
        // Before: stop -t 0 waited for the monitor's reply with no limit (over 10 minutes in a sweep). (At once: each
        // waits out its 10 s.)
        const [stopped, killed] = await Promise.all([tsbox(who, ["stop", "-t", "0", "wedged"], { timeoutMs: 60_000 }), tsbox(who, ["kill", "wedged-kill"], { timeoutMs: 60_000 })]);
        assert.deepEqual([stopped.code, stopped.stdout], [0, "wedged\n"], stopped.stderr);
        assert.deepEqual([killed.code, killed.stdout], [0, "wedged-kill\n"], killed.stderr);
        for (const n of ["wedged", "wedged-kill"]) assert.equal((await ok(who, ["inspect", "-f", "{{.State.Running}}", n])).stdout, "false\n", n);
      } finally {
        for (const m of monitors) {
          try {
            process.kill(m, "SIGCONT");
          } catch {
            // killed, as it should be
          }
        }
      }
      await ok(who, ["rm", "-f", "wedged", "wedged-kill"]);
    });

    it("stop of ten containers ignoring SIGTERM signals them all at once (docker's parallelOperation), not eight and then the rest", notAsSingle(who), async () => {
      const names = Array.from({ length: 10 }, (_, i) => `many-stop-${i}`);
      for (const name of names) await ok(who, ["run", "-d", "--name", name, "busybox", "sh", "-c", 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done']);
      await until("all ready", async () => (await Promise.all(names.map(async (n) => (await tsbox(who, ["logs", n])).stdout))).every((l) => l.includes("ready")), 60_000);
      // A timeout nobody waits for: with eight at a time the last two got nothing until the first eight's SIGKILLs.
      const stopping = tsbox(who, ["stop", "-t", "600", ...names], { timeoutMs: 120_000 });
      await until("every stop signal", async () => (await Promise.all(names.map(async (n) => (await tsbox(who, ["logs", n])).stdout))).every((l) => l.includes("got-term")), 60_000);
      await ok(who, ["kill", ...names]);
      const r = await stopping;
      assert.deepEqual([r.code, r.stdout], [0, names.map((n) => `${n}\n`).join("")], r.stderr);
      await ok(who, ["rm", ...names]);
    });

    it("Ctrl-C or SIGTERM of stop finishes the stop first (a foreground container still gets its SIGKILL); the third leaves", notAsSingle(who), async () => {
      try {
        // A foreground container's escalation is the stop CLI's own: before, Ctrl-C cancelled it between the stop
        // signal and the SIGKILL, and the container ran on for good.
        const fg = tsbox(who, ["run", "--name", "fg-stop", "busybox", "sh", "-c", 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done'], { timeoutMs: 60_000 });
        await until("ready", async () => (await tsbox(who, ["logs", "fg-stop"])).stdout.includes("ready"));
        for (const [round, signal] of (["SIGINT", "SIGTERM"] as const).entries()) {
          let pid = 0;
          const stopping = tsbox(who, ["stop", "-t", "2", "fg-stop"], { onSpawn: (p) => (pid = p) });
          // This round's (the log keeps the first round's: a signal sent on that one came before this stop's own).
          await until("the stop signal", async () => (await tsbox(who, ["logs", "fg-stop"])).stdout.split("got-term").length === round + 2);
          signalSpawned(pid, signal);
          const r = await stopping;
          assert.equal(r.signal, signal, "it still dies of the signal, once done");
          assert.match(r.stderr, /^tsbox: finishing the stop first \(SIGKILL after the timeout\); interrupt twice more to leave it unfinished\n$/);
          if (signal === "SIGINT") {
            assert.equal((await fg).code, 137, "the foreground run got its SIGKILL");
            assert.equal(state(who, "fg-stop").status, "exited");
            // The same container, monitored this time (its monitor escalates): the CLI's third signal leaves at once.
            await ok(who, ["start", "fg-stop"]);
            await until("its restart", async () => (await tsbox(who, ["logs", "fg-stop"])).stdout.split("ready").length === 3);
          }
        }
        assert.equal(state(who, "fg-stop").signal, "SIGKILL");
        let pid = 0;
        await ok(who, ["start", "fg-stop"]);
        await until("its restart", async () => (await tsbox(who, ["logs", "fg-stop"])).stdout.split("ready").length === 4);
        const stopping = tsbox(who, ["stop", "-t", "60", "fg-stop"], { onSpawn: (p) => (pid = p) });
        await until("the stop signal", async () => (await tsbox(who, ["logs", "fg-stop"])).stdout.split("got-term").length === 4);
        for (let i = 0; i < 3; i++) await signalOneByOne(pid, "SIGINT");
        const forced = await stopping;
        assert.equal(forced.signal, "SIGINT");
        assert.match(forced.stderr, /got 3 SIGTERM\/SIGINTs, forcefully exiting\n$/);
        await ok(who, ["rm", "-f", "fg-stop"]);

        // A stop that waits for ever (the container's --stop-timeout -1, or -t -1) has no SIGKILL to finish: the first
        // signal ends it, the container left running (before, `timeout 6 tsbox stop` of one never ended).
        await ok(who, ["run", "-d", "--name", "forever", "--stop-timeout", "-1", "busybox", "sh", "-c", 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done']);
        await until("ready", async () => (await tsbox(who, ["logs", "forever"])).stdout.includes("ready"));
        for (const [round, time] of [[], ["-t", "-1"]].entries()) {
          let stopPid = 0;
          const endless = tsbox(who, ["stop", ...time, "forever"], { onSpawn: (p) => (stopPid = p) });
          await until("the stop signal", async () => (await tsbox(who, ["logs", "forever"])).stdout.split("got-term").length === round + 2);
          signalSpawned(stopPid, "SIGTERM");
          const r = await endless;
          assert.deepEqual([r.signal, r.stderr], ["SIGTERM", ""], time.join(" "));
          assert.equal(state(who, "forever").status, "running");
        }
        // Beside one with a timeout: the signal is held until that one's SIGKILL, then ends the CLI.
        // (5 s: with 1 the SIGKILL came before a loaded machine's polls of both logs, and the signal found no stop to finish.)
        await ok(who, ["run", "-d", "--name", "timed", "--stop-timeout", "5", "busybox", "sh", "-c", 'trap "echo got-term" TERM; echo ready; while :; do sleep 0.1; done']);
        await until("ready", async () => (await tsbox(who, ["logs", "timed"])).stdout.includes("ready"));
        let bothPid = 0;
        const both = tsbox(who, ["stop", "timed", "forever"], { onSpawn: (p) => (bothPid = p) });
        await until("both stop signals", async () => (await tsbox(who, ["logs", "timed"])).stdout.includes("got-term") && (await tsbox(who, ["logs", "forever"])).stdout.split("got-term").length === 4);
        signalSpawned(bothPid, "SIGTERM");
        const r = await both;
        assert.deepEqual([r.signal, r.stderr], ["SIGTERM", "tsbox: finishing the stop first (SIGKILL after the timeout); interrupt twice more to leave it unfinished\n"]);
        assert.deepEqual([state(who, "timed").status, state(who, "timed").signal, state(who, "forever").status], ["exited", "SIGKILL", "running"]);
        await ok(who, ["rm", "-f", "forever", "timed"]);
      } finally {
        // A failed assertion leaves none of them running into the next test's leak check.
        await tsbox(who, ["rm", "-f", "fg-stop", "forever", "timed"]);
      }
    });

    it("the third Ctrl-C or SIGTERM ends an attached CLI whose container ignores them (docker-cli's forcefully exiting)", notAsSingle(who), async () => {
      const deaf = ["busybox", "sh", "-c", "trap '' INT TERM; touch /tmp/deaf; while :; do sleep 0.2; done"];
      const thrice = async (args: string[], ready: (pid: number) => Promise<boolean>, signal: NodeJS.Signals = "SIGINT") => {
        let pid = 0;
        const running = tsbox(who, args, { onSpawn: (p) => (pid = p), timeoutMs: 60_000 });
        await until("the container", async () => pid > 0 && (await ready(pid)));
        for (let i = 0; i < 3; i++) await signalOneByOne(pid, signal);
        const r = await running;
        assert.match(r.stderr, /^got 3 SIGTERM\/SIGINTs, forcefully exiting\n$/, args.join(" "));
        return r.code;
      };
      const deafened = (name: string) => async () => (await tsbox(who, ["exec", name, "test", "-f", "/tmp/deaf"])).code === 0;
      // A foreground run (handed over to the helper, or with -t kept in Node) dies with its CLI: killed, removed with --rm.
      assert.equal(await thrice(["run", "--rm", "--name", "deaf-rm", ...deaf], deafened("deaf-rm")), 137);
      assert.ok(!nameTaken(who, "deaf-rm"), "the --rm container went");
      assert.equal(await thrice(["run", "-t", "--name", "deaf-t", ...deaf], deafened("deaf-t"), "SIGTERM"), 137);
      assert.equal(state(who, "deaf-t").exitCode, 137);
      // exec: the process, which dies with its CLI, is killed.
      await ok(who, ["run", "-d", "--name", "deaf-d", ...deaf]);
      await until("deaf-d", deafened("deaf-d"));
      const execDeaf = ["exec", "deaf-d", "sh", "-c", "trap '' INT TERM; touch /tmp/exec-deaf; while :; do sleep 0.2; done"];
      assert.equal(await thrice(execDeaf, async () => (await tsbox(who, ["exec", "deaf-d", "test", "-f", "/tmp/exec-deaf"])).code === 0), 137);
      // attach: the container runs on under its monitor (docker: exit 1).
      // Its handlers are in: it catches SIGUSR2 (Node catches SIGINT and SIGTERM from the start).
      const catching = async (pid: number) => (BigInt(`0x${/^SigCgt:\s*(\w+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]}`) & (1n << 11n)) !== 0n;
      assert.equal(await thrice(["attach", "deaf-d"], catching), 1);
      assert.equal(state(who, "deaf-d").status, "running");
      await ok(who, ["rm", "-f", "deaf-t", "deaf-d"]);
    });

    it("stop acts on all the containers named at once (docker's parallel stop), printing them in the order given", notAsSingle(who), async () => {
      // Each takes SIGTERM, then holds on until told: a stop one at a time would leave the others without it.
      const names = ["slow-a", "slow-b", "slow-c"];
      for (const n of names) {
        await ok(who, ["run", "-d", "--name", n, "busybox", "sh", "-c", 'trap "echo got-term; until [ -e /go ]; do sleep 0.1; done; exit 0" TERM; echo ready; while :; do sleep 0.1; done']);
      }
      for (const n of names) await until(`${n} ready`, async () => (await tsbox(who, ["logs", n])).stdout.includes("ready"));
      const stop = tsbox(who, ["stop", "-t", "60", ...names]);
      for (const n of names) await until(`${n}'s SIGTERM`, async () => (await tsbox(who, ["logs", n])).stdout.includes("got-term"));
      for (const n of [...names].reverse()) await ok(who, ["exec", n, "touch", "/go"]);
      const stopped = await stop;
      assert.deepEqual([stopped.code, stopped.stdout, stopped.stderr], [0, "slow-a\nslow-b\nslow-c\n", ""]);
      assert.equal((await ok(who, ["wait", ...names])).stdout, "0\n0\n0\n");
      await ok(who, ["rm", ...names]);
    });

    it("restart policies: on-failure:N counts N restarts; always keeps it up until stopped", notAsSingle(who), async () => {
      await ok(who, ["run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo run; exit 3"]);
      await until("the last restart", () => state(who, "flaky").status === "exited" && state(who, "flaky").restartCount === 2);
      assert.equal(state(who, "flaky").exitCode, 3);
      assert.deepEqual(state(who, "flaky").restartPolicy, { name: "on-failure", maximumRetryCount: 2 });
      assert.equal((await ok(who, ["inspect", "-f", "{{json .HostConfig.RestartPolicy}} {{.RestartCount}}", "flaky"])).stdout, '{"Name":"on-failure","MaximumRetryCount":2} 2\n');
      assert.equal((await ok(who, ["logs", "flaky"])).stdout, "run\nrun\nrun\n");

      await ok(who, ["run", "-d", "--name", "phoenix", "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2"]);
      await until("two restarts", () => state(who, "phoenix").restartCount >= 2);
      await ok(who, ["stop", "-t", "1", "phoenix"]);
      const stopped = state(who, "phoenix");
      assert.equal(stopped.status, "exited");
      await new Promise((r) => setTimeout(r, 600));
      assert.equal(state(who, "phoenix").status, "exited", "a stopped container is not restarted");
      assert.equal(state(who, "phoenix").restartCount, stopped.restartCount);
      // start runs it again under its policy, with a fresh count; inspect's StartedAt is that start.
      const before = JSON.parse((await ok(who, ["inspect", "phoenix"])).stdout)[0].State;
      await ok(who, ["start", "phoenix"]);
      assert.equal(state(who, "phoenix").restartCount, 0);
      const after = JSON.parse((await ok(who, ["inspect", "phoenix"])).stdout)[0].State;
      assert.ok(Date.parse(after.StartedAt) > Date.parse(before.FinishedAt), `${after.StartedAt} is not after the stop at ${before.FinishedAt}`);
      await ok(who, ["rm", "-f", "flaky", "phoenix"]);

      // Between its runs (the back-off, 1.6 s by the fifth) exec and pause say so, as docker's: it will run again.
      await ok(who, ["run", "-d", "--name", "between", "--restart", "always", "busybox", "sh", "-c", "exit 1"]);
      await until("a long back-off", () => state(who, "between").status === "restarting" && state(who, "between").restartCount >= 4, 30_000);
      const [exec, pause] = await Promise.all([tsbox(who, ["exec", "between", "true"]), tsbox(who, ["pause", "between"])]);
      for (const r of [exec, pause]) assert.match(r.stderr, /container between is restarting, wait until the container is running/, r.stderr);
      await ok(who, ["rm", "-f", "between"]);

      const bad = await tsbox(who, ["run", "-d", "--restart", "sometimes", "busybox", "true"]);
      assert.equal(bad.code, 125);
      assert.equal(bad.stderr, 'tsbox: invalid restart policy "sometimes": use no, always, unless-stopped or on-failure[:max-retries]\n');
    });

    it("update --restart: the running container's monitor applies the new policy; a --rm container takes none", notAsSingle(who), async () => {
      // Fails once /tmp/go exists (it stays in the container's layer across restarts); a moment later, so the exec'd
      // `touch` that made it has exited before the container's init does (its end SIGKILLs what is left: exit 137).
      await ok(who, ["run", "-d", "--name", "later", "busybox", "sh", "-c", "until [ -e /tmp/go ]; do sleep 0.05; done; sleep 0.3; echo run; exit 4"]);
      await ok(who, ["update", "--restart", "on-failure:2", "later"]);
      assert.deepEqual(state(who, "later").restartPolicy, { name: "on-failure", maximumRetryCount: 2 });
      assert.equal((await ok(who, ["inspect", "-f", "{{json .HostConfig.RestartPolicy}}", "later"])).stdout, '{"Name":"on-failure","MaximumRetryCount":2}\n');
      await ok(who, ["exec", "later", "touch", "/tmp/go"]);
      await until("the last restart", () => state(who, "later").status === "exited" && state(who, "later").restartCount === 2);
      assert.equal((await ok(who, ["logs", "later"])).stdout, "run\nrun\nrun\n");
      // Back to no, with a limit in the same command: the next start runs once.
      await ok(who, ["update", "--restart", "no", "--pids-limit", "50", "later"]);
      assert.equal((await ok(who, ["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.PidsLimit}}", "later"])).stdout, "no 50\n");
      await ok(who, ["start", "later"]);
      assert.equal((await ok(who, ["wait", "later"])).stdout, "4\n");
      assert.equal(state(who, "later").restartCount, 0);

      await ok(who, ["run", "-d", "--rm", "--name", "brief", "busybox", "sleep", "60"]);
      const refused = await tsbox(who, ["update", "--restart", "always", "brief"]);
      assert.equal(refused.code, 1, "docker's exit for a container that refuses the update");
      assert.match(refused.stderr, /restart policy cannot change, it is removed when it exits \(--rm\)/);
      assert.equal(state(who, "brief").restartPolicy.name, "no");
      const bad = await tsbox(who, ["update", "--restart", "always:1", "later"]);
      assert.deepEqual([bad.code, bad.stderr], [125, 'tsbox: invalid restart policy "always:1": only on-failure takes a maximum retry count\n']);
      // A foreground run has no monitor: recorded for its next start, with a warning.
      const fg = tsbox(who, ["run", "--name", "fg", "busybox", "sleep", "30"], { timeoutMs: 60_000 });
      const fgRunning = () => {
        try {
          return state(who, "fg").status === "running";
        } catch {
          return false; // its name or state.json not written yet
        }
      };
      await until("the foreground run", fgRunning);
      const warned = await ok(who, ["update", "--restart", "always", "fg"]);
      assert.match(warned.stderr, /^tsbox: warning: container fg runs in the foreground: its restart policy applies from its next start\n$/);
      assert.equal(state(who, "fg").restartPolicy.name, "always");
      await ok(who, ["rm", "-f", "later", "brief", "fg"]);
      await fg;
    });

    it("a container made by a tsbox whose inspect.json said RestartPolicy no shows its policy (state.json's), in inspect and ps's filter", notAsSingle(who), async () => {
      await ok(who, ["create", "--name", "oldpolicy", "--restart", "unless-stopped", "busybox", "true"]);
      const id = state(who, "oldpolicy").id as string;
      // What tsbox before bc21af6 wrote for every container, whatever its --restart.
      const record = join(who.dataDir, "containers", id, "inspect.json");
      const written = JSON.parse(readFileSync(record, "utf8"));
      writeFileSync(record, JSON.stringify({ ...written, HostConfig: { ...written.HostConfig, RestartPolicy: { Name: "no", MaximumRetryCount: 0 } } }));
      assert.equal((await ok(who, ["inspect", "-f", "{{json .HostConfig.RestartPolicy}}", "oldpolicy"])).stdout, '{"Name":"unless-stopped","MaximumRetryCount":0}\n');
      assert.equal((await ok(who, ["ps", "-a", "--no-trunc", "-q", "--filter", "restart-policy=unless-stopped", "--filter", "name=oldpolicy"])).stdout, `${id}\n`);
      await ok(who, ["rm", "oldpolicy"]);
    });

    it("health checks: --health-* and the image's HEALTHCHECK run by the monitor; ps, inspect and the health filter show them", notAsSingle(who), async () => {
      const health = async (ref: string) => JSON.parse((await ok(who, ["inspect", "-f", "{{json .State.Health}}", ref])).stdout);
      // Healthy once /tmp/ok exists; after two failures in a row unhealthy; the probe's output is kept.
      await ok(who, ["run", "-d", "--name", "hc", "--health-cmd", "echo probe-out; test -e /tmp/ok", "--health-interval", "200ms", "--health-retries", "2", "busybox", "sleep", "60"]);
      assert.match((await ok(who, ["ps", "--format", "{{.Status}}", "--filter", "name=^hc$"])).stdout, /\((health: starting|unhealthy)\)\n$/);
      await ok(who, ["exec", "hc", "touch", "/tmp/ok"]);
      await until("healthy", async () => (await health("hc")).Status === "healthy");
      assert.equal((await ok(who, ["ps", "-q", "--filter", "health=healthy"])).stdout.trim().length, 12);
      assert.match((await ok(who, ["ps", "--format", "{{.Status}}", "--filter", "name=^hc$"])).stdout, /^Up .* \(healthy\)\n$/);
      await ok(who, ["exec", "hc", "rm", "/tmp/ok"]);
      await until("unhealthy", async () => (await health("hc")).Status === "unhealthy");
      const h = await health("hc");
      assert.ok(h.FailingStreak >= 2 && h.Log.length <= 5, JSON.stringify(h));
      assert.deepEqual([h.Log.at(-1).ExitCode, h.Log.at(-1).Output], [1, "probe-out\n"]);
      assert.match(h.Log.at(-1).Start, /^\d{4}-\d\d-\d\dT/);
      assert.deepEqual(JSON.parse((await ok(who, ["inspect", "-f", "{{json .Config.Healthcheck}}", "hc"])).stdout), { Test: ["CMD-SHELL", "echo probe-out; test -e /tmp/ok"], Interval: 200_000_000, Retries: 2 });
      // A probe that overruns its timeout is killed, with what it started, and counts as a failure.
      await ok(who, ["run", "-d", "--name", "slow", "--health-cmd", "sleep 5; true", "--health-interval", "200ms", "--health-timeout", "300ms", "--health-retries", "1", "busybox", "sleep", "60"]);
      await until("timed out", async () => (await health("slow")).Status === "unhealthy");
      assert.deepEqual([(await health("slow")).Log[0].ExitCode, (await health("slow")).Log[0].Output], [-1, "Health check exceeded timeout (300ms)"]);
      await until("three timed-out probes", async () => (await health("slow")).Log.length >= 3);
      // Before: only the probe's helper was killed; each `sh -c`'s sleep ran on in the container (an image's check
      // piled up processes, one set per interval). Killed, they wait as zombies for an init that reaps (--init).
      const running = (await ok(who, ["exec", "slow", "ps", "-o", "stat,args"])).stdout.split("\n").filter((l) => /^\s*[^Z\s]\S*\s+(sh -c )?sleep 5/.test(l));
      assert.ok(running.length <= 1, `at most the probe running now: ${running.join(" | ")}`);
      // The image's HEALTHCHECK (exec form) applies without flags.
      const built = await tsbox(who, ["build", "-q", "-t", "hcimg", "-"], { stdin: 'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD ["true"]\n', timeoutMs: 60_000 });
      assert.equal(built.code, 0, built.stderr);
      await ok(who, ["run", "-d", "--name", "img", "hcimg", "sleep", "60"]);
      await until("the image's check", async () => (await health("img")).Status === "healthy");
      // Stopped, it is unhealthy, as docker's monitor leaves it: no "healthy" dead container.
      await ok(who, ["stop", "-t", "0", "img"]);
      assert.equal((await health("img")).Status, "unhealthy");
      assert.equal((await ok(who, ["ps", "-aq", "--filter", "health=healthy", "--filter", "name=^img$"])).stdout, "");
      await ok(who, ["rm", "-f", "img"]);
      await ok(who, ["rmi", "hcimg"]);
      // --no-healthcheck: none; a foreground run has no monitor, so no checks and no Health.
      await ok(who, ["run", "-d", "--name", "none", "--no-healthcheck", "busybox", "sleep", "60"]);
      assert.equal((await ok(who, ["inspect", "-f", "{{json .State.Health}}", "none"])).stdout, "null\n");
      assert.equal((await ok(who, ["ps", "-q", "--filter", "health=none", "--filter", "name=none"])).stdout.trim().length, 12);
      await ok(who, ["rm", "-f", "hc", "slow", "none"]);
      const bad = await tsbox(who, ["run", "--rm", "--health-interval", "soon", "busybox", "true"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /invalid duration "soon" for --health-interval/);
      assert.equal((await tsbox(who, ["run", "--rm", "--no-healthcheck", "--health-cmd", "true", "busybox", "true"])).code, 125);
    });

    it("create, start -a, attach, rename, kill, wait", notAsSingle(who), async () => {
      const created = await ok(who, ["create", "--name", "later", "busybox", "sh", "-c", "echo hi; echo err >&2; exit 4"]);
      assert.match(created.stdout, /^[0-9a-f]{64}\n$/);
      assert.match((await ok(who, ["ps", "-a"])).stdout, /Created .* later/);
      // Stopping what never started returns at once, as docker's (it waited for a next run, for ever).
      assert.equal((await tsbox(who, ["stop", "later"], { timeoutMs: 20_000 })).stdout, "later\n");
      assert.match((await ok(who, ["ps", "-a"])).stdout, /Created .* later/);
      // wait of what never started: docker's "not-running" is met, 0 at once (it waited for a next run, for ever).
      assert.equal((await tsbox(who, ["wait", "later"], { timeoutMs: 20_000 })).stdout, "0\n");
      // Not running: docker's row of zeros (it was an error, and the whole command failed).
      assert.equal((await ok(who, ["stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}", "later"])).stdout, "later 0.00% 0B / 0B 0\n");
      // `table …` aligns its columns as ps's does (docker's tabwriter), not raw tabs.
      assert.equal((await ok(who, ["stats", "--no-stream", "--format", "table {{.Name}}\t{{.MemUsage}}\t{{.PIDs}}", "later"])).stdout, "NAME      MEM USAGE / LIMIT   PIDS\nlater     0B / 0B             0\n");
      const started = await tsbox(who, ["start", "-a", "later"]);
      assert.deepEqual([started.code, started.stdout, started.stderr], [4, "hi\n", "err\n"]);
      assert.equal((await ok(who, ["wait", "later"])).stdout, "4\n");
      await ok(who, ["rename", "later", "renamed"]);
      assert.match((await ok(who, ["ps", "-a"])).stdout, /renamed/);
      assert.equal((await tsbox(who, ["rename", "later", "x"])).code, 1);

      // The container exits as its input ends: the client's last write (closing its stdin) races the monitor's
      // end of the connection, which must not cost the output and the exit the client has not yet read.
      for (const round of [1, 2, 3]) {
        await ok(who, ["run", "-d", "-i", "--name", `talker${round}`, "busybox", "sh", "-c", 'while read l; do echo "got $l"; [ "$l" = quit ] && exit 6; done']);
        const attached = await tsbox(who, ["attach", `talker${round}`], { stdin: "one\nquit\n" });
        assert.deepEqual([attached.code, attached.stdout], [6, "got one\ngot quit\n"], `round ${round}`);
      }

      await ok(who, ["run", "-d", "--name", "target", "busybox", "sleep", "600"]);
      // top: ps -ef's rows of the container, and with ps options of its own (-o without -e printed only the header).
      assert.match((await ok(who, ["top", "target"])).stdout, /^UID +PID +PPID .*\n.* sleep 600\n$/);
      assert.match((await ok(who, ["top", "target", "-o", "pid,args"])).stdout, /^ *PID COMMAND\n *\d+ sleep 600\n$/);
      // PID 1 without a handler ignores TERM; KILL (kill's default) ends it.
      await ok(who, ["kill", "-s", "TERM", "target"]);
      assert.equal(state(who, "target").status, "running");
      assert.equal((await ok(who, ["kill", "target"])).stdout, "target\n");
      assert.equal((await ok(who, ["wait", "target"])).stdout, "137\n");
      const again = await tsbox(who, ["kill", "target"]);
      assert.deepEqual([again.code, again.stderr], [1, "tsbox: container target is not running\n"]);
      await ok(who, ["rm", "renamed", "talker1", "talker2", "talker3", "target"]);
    });

    it("attach to a terminal: ctrl-p ctrl-q (or --detach-keys) leaves it running, and a later attach finds it as it was", notAsSingle(who), async () => {
      await ok(who, ["run", "-dit", "--name", "shell", "busybox", "sh"]);
      // A terminal for the CLI (script), typed into slowly: the keys reach it once it is in raw mode.
      const typed = (keys: string[], args: string[] = []) =>
        tsbox(who, [], {
          argv: ["sh", "-c", `(sleep 1; ${keys.map((k) => `printf '${k}'`).join("; sleep 0.5; ")}; sleep 1) | script -qec 'stty cols 123 rows 45; "${process.execPath}" "${cliPath}" attach ${args.join(" ")} shell' /dev/null`],
        });
      const first = await typed(["stty size\\n", "echo $((6*7))\\n", "\\020\\021"]);
      assert.equal(first.code, 1, first.stderr);
      assert.match(first.stdout.replace(/\r/g, ""), /^42$/m);
      // The attaching terminal's size at once (it was run -dit's 80x24 until a resize), and "\r\n" as the
      // container's pty wrote it (the host's output post-processing made it "\r\r\n").
      assert.match(first.stdout, /^45 123\r$/m);
      assert.doesNotMatch(first.stdout, /\r\r\n/);
      assert.match(first.stdout + first.stderr, /read escape sequence/);
      assert.equal(state(who, "shell").status, "running", "still running");
      // Another sequence; a ctrl-p that begins none goes on to the shell (its history: the echo again).
      const second = await typed(["\\020\\n", "\\030q"], ["--detach-keys", "ctrl-x,q"]);
      assert.equal(second.code, 1);
      assert.match(second.stdout.replace(/\r/g, ""), /^42$/m);
      const third = await typed(["\\030q"], ["--detach-keys", "ctrl-x,q"]);
      assert.equal(third.code, 1);
      // Piped input into a terminal (docker's check): its stdin never ends, so the attach hung for ever.
      const piped = await tsbox(who, ["attach", "shell"], { stdin: "echo hi\n" });
      assert.deepEqual([piped.code, piped.stderr], [1, "tsbox: the input device is not a TTY\n"]);
      const bad = await tsbox(who, ["attach", "--detach-keys", "ctrl-9", "shell"]);
      assert.deepEqual([bad.code, bad.stderr], [125, "tsbox: invalid detach keys (ctrl-9): expected keys like ctrl-p,ctrl-q (a character, or ctrl- and one of a-z @ [ \\ ] ^ _)\n"]);
      // Its stdin stayed open: a last attach ends it.
      const last = await typed(["exit 3\\n"]);
      assert.equal(last.code, 3, last.stderr);
      // Stopped: that is what is said first (docker's order), not the piped input.
      const stopped = await tsbox(who, ["attach", "shell"], { stdin: "echo hi\n" });
      assert.deepEqual([stopped.code, stopped.stderr], [1, "tsbox: cannot attach to container shell: it is not running\n"]);
      await ok(who, ["rm", "shell"]);
    });

    it("run -it detaches with ctrl-p ctrl-q, -a picks the streams (the log keeps all), --sig-proxy=false leaves Ctrl-C to the CLI", notAsSingle(who), async () => {
      const typed = (keys: string[], args: string[]) =>
        tsbox(who, [], {
          argv: ["sh", "-c", `(sleep 1.5; ${keys.map((k) => `printf '${k}'`).join("; sleep 0.5; ")}; sleep 1) | script -qec '"${process.execPath}" "${cliPath}" run ${args.join(" ")}' /dev/null`],
        });
      // Before stop 40 a foreground run could not be left running: it ended with the CLI.
      const left = await typed(["echo $((6*7))\n", "\\020\\021"], ["-it", "--name", "left", "busybox", "sh"]);
      // docker's run takes the detach as success (its attach exits 1, above).
      assert.equal(left.code, 0, left.stderr);
      assert.match(left.stdout.replace(/\r/g, ""), /^42$/m);
      assert.doesNotMatch(left.stdout + left.stderr, /read escape sequence/);
      assert.equal(state(who, "left").status, "running");
      // A later attach types into it again (its input was marked closing with the run's client, and dropped).
      const back = await tsbox(who, [], {
        argv: ["sh", "-c", `(sleep 1; printf 'echo $((7*8))\\n'; sleep 0.5; printf '\\020\\021'; sleep 1) | script -qec '"${process.execPath}" "${cliPath}" attach left' /dev/null`],
      });
      assert.match(back.stdout.replace(/\r/g, ""), /^56$/m, back.stdout + back.stderr);
      assert.equal((await typed(["exit 4\n"], ["-it", "--rm", "--name", "ended", "busybox", "sh"])).code, 4, "a -it run's exit code, as before");
      await ok(who, ["rm", "-f", "left"]);

      const picked = await tsbox(who, ["run", "--name", "picked", "-a", "STDERR", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"]);
      assert.deepEqual([picked.code, picked.stdout, picked.stderr], [3, "", "err\n"]);
      const logged = await ok(who, ["logs", "picked"]);
      assert.deepEqual([logged.stdout, logged.stderr], ["out\n", "err\n"]);
      assert.equal((await tsbox(who, ["run", "-d", "-a", "stdout", "busybox", "true"])).stderr, "tsbox: Conflicting options: -a and -d\n");
      assert.match((await tsbox(who, ["run", "-a", "stdio", "busybox", "true"])).stderr, /invalid argument "stdio" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR/);
      const piped = await tsbox(who, ["run", "--rm", "-i", "-a", "stdin", "-a", "stdout", "busybox", "cat"], { stdin: "through\n" });
      assert.deepEqual([piped.code, piped.stdout], [0, "through\n"]);

      // --sig-proxy=false: SIGINT ends the CLI, the container goes on.
      let cliPid = 0;
      const unproxied = tsbox(who, ["run", "--name", "kept", "--sig-proxy=false", "busybox", "sh", "-c", 'trap "echo got-int" INT; echo ready; sleep 2; echo finished'], { onSpawn: (pid) => (cliPid = pid) });
      await until("its start", async () => (await ok(who, ["logs", "kept"]).catch(() => ({ stdout: "" }))).stdout.includes("ready"));
      process.kill(cliPid, "SIGINT");
      assert.equal((await unproxied).signal, "SIGINT");
      assert.equal(state(who, "kept").status, "running");
      await until("its end", () => state(who, "kept").status === "exited");
      assert.equal((await ok(who, ["logs", "kept"])).stdout, "ready\nfinished\n", "no INT reached it");
      await ok(who, ["rm", "picked", "kept"]);
    });

    it("a closed terminal or a closed pipe ends an attached CLI quietly (run -t, exec, logs | head)", notAsSingle(who), async () => {
      // The terminal of a `run -t` closed: the container gets the hangup (its trap ends it with 3), the CLI
      // ends by SIGHUP, nothing on stderr. Before: an unhandled `write EIO`, then Node's ResetStdio assertion.
      const errFile = join(who.scratch, "hangup.err");
      const hung = await tsbox(who, [], { argv: ["python3", hangupScript, "tick", errFile, process.execPath, cliPath, "run", "-t", "--name", "hung", "busybox", "sh", "-c", 'trap "echo HUP; exit 3" HUP; while :; do echo tick; sleep 0.2; done'], timeoutMs: 60_000 });
      assert.deepEqual(JSON.parse(hung.stdout), { code: null, signal: 1, seen: true }, hung.stderr);
      assert.equal(readFileSync(errFile, "utf8"), "");
      assert.equal(state(who, "hung").exitCode, 3, "the container handled its SIGHUP");
      assert.match((await ok(who, ["logs", "hung"])).stdout, /HUP\r?\n$/);
      // A reader that went away (`| head`): quiet, as any Unix tool (before: `write EPIPE` and a stack trace).
      await ok(who, ["run", "-d", "--name", "piped", "busybox", "sh", "-c", "seq 1 200000; while :; do echo tick; sleep 0.1; done"]);
      const pipes = [
        ["run", "--rm", "-t", "busybox", "yes"],
        ["exec", "piped", "yes"],
        ["exec", "-t", "piped", "yes"],
        ["logs", "piped"],
        ["attach", "--no-stdin", "piped"],
      ];
      for (const args of pipes) {
        const r = await tsbox(who, [], { argv: ["sh", "-c", `exec 3>&1; ( "${process.execPath}" "${cliPath}" ${args.join(" ")}; echo "$?" >&3 ) | head -c 10 >/dev/null`], timeoutMs: 30_000 });
        // 0, or 141 where the process itself had the pipe and died of SIGPIPE (exec without a terminal).
        assert.match(r.stdout, /^(0|141)\n$/, `tsbox ${args.join(" ")} | head: ${r.stdout}`);
        assert.equal(r.stderr, "", `tsbox ${args.join(" ")} | head`);
      }
      await ok(who, ["rm", "-f", "hung", "piped"]);
    });

    it("run -it, attach and start -ai killed from elsewhere (SIGTERM, SIGINT, SIGHUP) leave the user's terminal as they found it", notAsSingle(who), async () => {
      // Before: run -it died of the signal with the terminal raw (no echo, no line editing): its pull's
      // signal listeners, added and removed, had taken Node's handler that restores it.
      const killed = async (signal: NodeJS.Signals, args: string[]) => {
        const errFile = join(who.scratch, "killed.err");
        const r = await tsbox(who, [], { argv: ["python3", hangupScript, "--signal", signal, "tick", errFile, process.execPath, cliPath, ...args], timeoutMs: 60_000 });
        assert.deepEqual(JSON.parse(r.stdout), { seen: true, restored: true, code: null, signal: osConstants.signals[signal] }, `${signal} to tsbox ${args.join(" ")}: ${r.stderr}${readFileSync(errFile, "utf8")}`);
      };
      const ticking = ["busybox", "sh", "-c", "while :; do echo tick; sleep 0.2; done"];
      try {
        for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) await killed(signal, ["run", "-it", "--rm", ...ticking]);
        await ok(who, ["run", "-dit", "--name", "ticking", ...ticking]);
        await killed("SIGTERM", ["attach", "ticking"]);
        await killed("SIGINT", ["start", "-ai", "ticking"]);
        // docker's: with a terminal no signal is passed on; the container goes on (the run -it ones too).
        assert.equal(state(who, "ticking").status, "running");
      } finally {
        const left = (await ok(who, ["ps", "-aq"])).stdout.split("\n").filter(Boolean);
        if (left.length > 0) await ok(who, ["rm", "-f", ...left]);
      }
    });

    it("a SIGKILLed monitor or CLI leaves state that ps -a shows truthfully and rm cleans", async () => {
      await ok(who, ["run", "-d", "--name", "orphan", "busybox", "sleep", "600"]);
      const s = state(who, "orphan");
      process.kill(s.monitorPid, "SIGKILL");
      await until("the container to die with its monitor", () => !alive(s.pid));
      assert.match((await ok(who, ["ps", "-a"])).stdout, /Exited \(unknown\) .* orphan/);
      assert.doesNotMatch((await ok(who, ["ps"])).stdout, /orphan/);
      // One code for an end nobody saw, as wait's (docker's 255), never a success.
      assert.equal((await ok(who, ["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "orphan"])).stdout, "exited 255\n");
      assert.equal((await ok(who, ["ps", "-a", "-q", "--filter", "exited=0"])).stdout, "");
      assert.notEqual((await ok(who, ["ps", "-a", "-q", "--filter", "exited=255"])).stdout, "");
      assert.equal((await tsbox(who, ["wait", "orphan"])).stdout, "255\n");
      await ok(who, ["rm", "orphan"]);

      const cli = spawn(process.execPath, [cliPath, "run", "--name", "fg", "busybox", "sh", "-c", "echo ready; sleep 30"], {
        uid: who.uid, gid: who.gid, cwd: who.scratch, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"],
      });
      await new Promise<void>((resolve) => cli.stdout.on("data", (d) => String(d).includes("ready") && resolve()));
      // Its output may come before the CLI has recorded the start.
      await until("the foreground run's state", () => state(who, "fg").status === "running");
      const fg = state(who, "fg");
      assert.equal(fg.supervisor, "foreground");
      // Visible and manageable from another process while it runs in the foreground.
      assert.equal((await ok(who, ["exec", "fg", "echo", "hello"])).stdout, "hello\n");
      // Paused (root has a freezer here), its init cannot die of the CLI's death: the next start removes what the
      // dead runtime left in its cgroup (thaws, kills), then makes the cgroup again.
      const paused = who.name === "root";
      if (paused) await ok(who, ["pause", "fg"]);
      cli.kill("SIGKILL");
      if (!paused) await until("the foreground container to die with its CLI", () => !alive(fg.pid));
      await until("ps -a to show it ended", async () => /Exited \(unknown\) .* fg/.test((await ok(who, ["ps", "-a"])).stdout));
      await ok(who, ["start", "fg"]);
      assert.ok(!alive(fg.pid), "the paused init of the killed run ended");
      assert.equal(state(who, "fg").status, "running");
      await ok(who, ["rm", "-f", "fg"]);

      // A --rm run killed unseen: docker's daemon would remove it as it ends; here whoever comes across it does.
      const killedRmRun = async () => {
        const rm = spawn(process.execPath, [cliPath, "run", "--rm", "--name", "fg-rm", "busybox", "sh", "-c", "echo ready; sleep 30"], {
          uid: who.uid, gid: who.gid, cwd: who.scratch, env: identityEnv(who), stdio: ["ignore", "pipe", "pipe"],
        });
        await new Promise<void>((resolve) => rm.stdout.on("data", (d) => String(d).includes("ready") && resolve()));
        await until("the --rm run's state", () => state(who, "fg-rm").status === "running");
        const fgRm = state(who, "fg-rm");
        rm.kill("SIGKILL");
        await until("the --rm container to die with its CLI", () => !alive(fgRm.pid));
        return fgRm.id as string;
      };
      // Its bundle and removal marker (containers/.rm-<id>) are gone, its name free.
      const gone = (id: string) => !readdirSync(join(who.dataDir, "containers")).some((e) => e.includes(id)) && !nameTaken(who, "fg-rm");
      // ps -a does not list it (it showed "Exited (unknown)" until a later run collected it).
      let id = await killedRmRun();
      assert.ok(!gone(id));
      assert.doesNotMatch((await ok(who, ["ps", "-a"])).stdout, /fg-rm/);
      assert.ok(gone(id), "ps -a removed it");
      // rm, inspect, logs of it: no such container (it is removed on the way).
      for (const verb of ["rm", "inspect", "logs"]) {
        id = await killedRmRun();
        const r = await tsbox(who, [verb, "fg-rm"]);
        assert.equal(r.code, 1, `${verb}: ${r.stdout}`);
        assert.match(r.stderr, /^tsbox: no such (container|object): fg-rm\n$/, verb);
        assert.ok(gone(id), `${verb} removed it`);
      }
      // The next create gets its name back.
      id = await killedRmRun();
      await ok(who, ["create", "--name", "fg-rm", "busybox", "true"]);
      assert.ok(!readdirSync(join(who.dataDir, "containers")).some((e) => e.includes(id)));
      await ok(who, ["rm", "fg-rm"]);
    });

    it("a healthy container whose monitor was SIGKILLed (a reboot, the OOM killer) is unhealthy: inspect, ps --filter health, waitForHealthy", notAsSingle(who), async () => {
      await ok(who, ["run", "-d", "--name", "hk", "--health-cmd", "true", "--health-interval", "200ms", "busybox", "sleep", "600"]);
      await until("healthy", async () => (await ok(who, ["inspect", "-f", "{{.State.Health.Status}}", "hk"])).stdout === "healthy\n");
      const s = state(who, "hk");
      process.kill(s.monitorPid, "SIGKILL");
      await until("the container to die with its monitor", () => !alive(s.pid));
      // health.json still says "healthy" (the dead monitor could not write its end): what is read must not.
      assert.equal((await ok(who, ["inspect", "-f", "{{.State.Status}} {{.State.Health.Status}}", "hk"])).stdout, "exited unhealthy\n");
      assert.equal((await ok(who, ["ps", "-aq", "--filter", "health=healthy"])).stdout, "");
      assert.equal((await ok(who, ["ps", "-aq", "--filter", "health=unhealthy"])).stdout.trim().length, 12);
      assert.match((await scenario(who, "waitForHealthyOf", "hk")).result, /^ContainerError: container hk exited \(code unknown\)/);
      await ok(who, ["rm", "hk"]);
    });

    it("after a reboot (monitors SIGKILLed): start --all --filter restart-policy= brings back always and unless-stopped ones, not one the user stopped", notAsSingle(who), async () => {
      const names = ["pa", "pu", "pu-stopped", "pn"];
      const policies = ["always", "unless-stopped", "unless-stopped", "no"];
      for (const [i, name] of names.entries()) await ok(who, ["run", "-d", "--name", name, "--restart", policies[i]!, "busybox", "sleep", "600"]);
      await ok(who, ["stop", "-t", "0", "pu-stopped"]);
      const killed = ["pa", "pu", "pn"].map((n) => state(who, n));
      for (const s of killed) process.kill(s.monitorPid, "SIGKILL");
      await until("the containers to die with their monitors", () => killed.every((s) => !alive(s.pid)));
      const listed = async (...filters: string[]) => (await ok(who, ["ps", "-a", "--format", "{{.Names}}", ...filters.flatMap((f) => ["--filter", f])])).stdout.split("\n").filter(Boolean).sort();
      assert.deepEqual(await listed("restart-policy=unless-stopped"), ["pu", "pu-stopped"]);
      assert.deepEqual(await listed("restart-policy=no", "restart-policy=always"), ["pa", "pn"]);
      assert.equal((await tsbox(who, ["ps", "--filter", "restart-policy=sometimes"])).code, 125);
      // The boot recipe (README): docker's daemon start, which leaves an unless-stopped container the user stopped.
      const r = await ok(who, ["start", "--all", "--filter", "restart-policy=always", "--filter", "restart-policy=unless-stopped"]);
      assert.equal(r.stdout, "pa\npu\n");
      assert.deepEqual(await listed("status=running"), ["pa", "pu"]);
      assert.equal((await ok(who, ["start", "--all", "--filter", "restart-policy=always"])).stdout, "", "nothing left to start");
      assert.equal((await tsbox(who, ["start", "--filter", "restart-policy=always", "pn"])).code, 125);
      await ok(who, ["rm", "-f", ...names]);
    });

    it("two CLIs racing on one name: one wins, the other gets one clear error; racing starts run it once", notAsSingle(who), async () => {
      const [a, b] = await Promise.all([0, 1].map(() => tsbox(who, ["run", "-d", "--name", "race", "busybox", "sleep", "60"])));
      const codes = [a!.code, b!.code].sort();
      assert.deepEqual(codes, [0, 125]);
      const loser = a!.code === 125 ? a! : b!;
      assert.match(loser.stderr, /^tsbox: the container name "race" is already in use by container [0-9a-f]{12}\n$/);

      await ok(who, ["create", "--name", "once", "busybox", "sleep", "60"]);
      const starts = await Promise.all([0, 1, 2].map(() => tsbox(who, ["start", "once"])));
      assert.deepEqual(starts.map((s) => s.code), [0, 0, 0]);
      const id = state(who, "once").id;
      // The monitor, not its per-run supervisor (a fork: same command line, its own name).
      const comm = (p: string) => readFileSync(`/proc/${p.split(" ")[0]}/comm`, "utf8").trim();
      const monitors = strayProcesses([who]).filter((p) => p.includes(" monitor ") && p.includes(id) && comm(p) === "tsbox-runtime");
      assert.equal(monitors.length, 1, monitors.join("\n"));
      await ok(who, ["rm", "-f", "race", "once"]);
    });

    it("rm -f racing a start of the same container: the start that lands between rm's look and its lock is killed and removed too (docker's ForceRemove)", notAsSingle(who), async () => {
      const id = (await ok(who, ["create", "--name", "raced", "busybox", "sleep", "60"])).stdout.trim();
      const lock = join(who.dataDir, "containers", id, "lock");
      // The order made certain: rm has seen "created" and waits for the lock (held here, its file open in rm), stopped
      // there while the start takes the lock and lands; then it goes on.
      const release = await holdLock(who, lock, (argv) => tsbox(who, [], { argv }));
      let rmPid = 0;
      const rm = tsbox(who, ["rm", "-f", "raced"], { onSpawn: (pid) => (rmPid = pid) });
      const opened = () => {
        try {
          return readdirSync(`/proc/${rmPid}/fd`).some((fd) => readlinkSync(`/proc/${rmPid}/fd/${fd}`) === lock);
        } catch {
          return false;
        }
      };
      await until("rm -f to wait for the container's lock", opened);
      signalSpawned(rmPid, "SIGSTOP");
      const start = tsbox(who, ["start", "raced"]);
      await release();
      const started = await start;
      assert.equal(started.code, 0, started.stderr);
      const running = state(who, "raced");
      assert.equal(running.status, "running");
      signalSpawned(rmPid, "SIGCONT");
      const removed = await rm;
      // Before: exit 1, "it was started again meanwhile", and the container kept running.
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout, "raced\n");
      assert.ok(!alive(running.pid), "its process is killed");
      assert.ok(!readdirSync(join(who.dataDir, "containers")).includes(id), "its bundle is gone");
      assert.ok(!nameTaken(who, "raced"));
    });

    it("the library: create/get/list and a container's verbs, from other processes", async () => {
      const made = await scenario(who, "create");
      const r = await scenario(who, "manage", made.id);
      assert.deepEqual(r.first, { stream: "stdout", data: "a\n" });
      assert.equal(r.listed, true);
      assert.deepEqual(r.labelled, { both: [made.id], other: [], missing: [] });
      assert.equal(r.logs, "a\nb\n");
      assert.deepEqual(r.wait, { exitCode: 2, signal: null, oomKilled: false });
      assert.equal(r.inspect.status, "exited");
      assert.equal(r.inspect.name, "lib-renamed");
      assert.equal(r.renamedElsewhere, "lib-renamed", "another object's name follows the rename");
      assert.deepEqual(r.restarted, { running: true, killed: { exitCode: 137, signal: "SIGKILL", oomKilled: false } });
      assert.deepEqual(r.output, { exitCode: 0, stdout: "out\n", stderr: "err\n" });
      assert.deepEqual(r.monitoredRun, { exitCode: 5, stdout: "first\n", restartCount: 1 });
      assert.equal(r.gone, "no such container: lib-renamed");
    });

    it("the library's waitForLog: the first matching log line, the Nth, one stream's, or a clear error", notAsSingle(who), async () => {
      const r = await scenario(who, "waitForLog");
      assert.equal(r.first, "ready 1");
      assert.equal(r.second, "ready 2");
      assert.equal(r.onStderr, "warn");
      // A line without its newline is not a line while the container may still end it.
      assert.match(r.noNewline, /^no log line of container \S+ matched "tail" within 2 s$/);
      assert.match(r.timedOut, /^ContainerError: no log line of container \S+ matched "never" within 0.3 s$/);
      assert.match(r.exited, /^ContainerError: container \S+ exited \(code 4\) before a log line matched "ready"$/);
      assert.match(r.foreground, /^UsageError: waitForLog reads the log of container \S+, which runs in the foreground and keeps none: create\(\) and start\(\) it/);
      assert.equal(r.badTimes, "UsageError: waitForLog: times must be a whole number of at least 1, got 0");
      // Before: logs() of a run() told a library caller to "run it from the CLI without --rm, or with -d", with no reason.
      assert.match(r.foregroundLogs, /^ContainerError: container \S+ ran in the foreground of the process that started it: its output went there and no log was kept \(create\(\) and start\(\) it, or give it a restart policy, for logs\)$/);
      assert.deepEqual(r.reasons, ["timeout", "not_running", "no_log"]);
      // Before: "container … is created before a log line matched", at once.
      assert.equal(r.beforeStart, "up early");
      assert.match(r.neverStarted, /^ContainerError: no log line of container \S+ matched "x" within 0.3 s$/);
      assert.equal(r.outputNeverStarted, "TimeoutError: The operation was aborted due to timeout");
    });

    it("the library's logs and waitForLog close the log when their reader stops before its end", notAsSingle(who), async () => {
      const r = await scenario(who, "logsStoppedEarly");
      assert.deepEqual(r, { before: 0, after: 0, afterRemove: 0 });
    });

    it("the library's waitForHealthy: resolves once the check passes; unhealthy, a stop, no check or a foreground run are clear errors", notAsSingle(who), async () => {
      const r = await scenario(who, "waitForHealthy");
      assert.equal(r.healthy, "healthy");
      assert.match(r.unhealthy, /^ContainerError: container \S+ is unhealthy after [2-9] failed checks; last check exited 3: not yet$/);
      assert.deepEqual(r.reasons, ["unhealthy", "timeout", "not_running"]);
      assert.match(r.timedOut, /^ContainerError: container \S+ was not healthy within 0.3 s \(health: (starting|no check has run yet)\)/);
      assert.match(r.exited, /^ContainerError: container \S+ exited \(code 4\) before its health check passed/);
      // Before: "unhealthy after 0 failed checks", where no check had run.
      assert.match(r.crashLoop, /^ContainerError: container \S+ (is unhealthy: its process ended before a check passed|exited \(code 1\) before its health check passed)/);
      assert.match(r.noCheck, /^UsageError: container \S+ has no health check: its image has no HEALTHCHECK and it was created without the healthcheck option$/);
      assert.match(r.typo, /^UsageError: waitForHealthy options: unknown option "timeout" \(timeoutMs\)$/);
      assert.match(r.foreground, /^UsageError: container \S+ runs in the foreground, where no health checks run/);
      assert.equal(r.beforeStart, "healthy", "a wait set up before start() spans it");
    });

    it("the library's edges: stop of a created container, logs since as a string or seconds, misspelt options, kill('KILL'), a relative dataDir, close()", notAsSingle(who), async () => {
      const r = await scenario(who, "apiEdges");
      assert.deepEqual(r.fraction, { status: { exitCode: 137, signal: "SIGKILL", oomKilled: false }, withinDefault: true });
      assert.deepEqual(r.stoppedCreated, { exitCode: 0, signal: null, oomKilled: false });
      assert.deepEqual(r.logs, ["one", "one", ""]);
      assert.deepEqual(r.cut, [{ first: r.cut[0]!.first, truncated: true }, { first: "1", truncated: false }]);
      assert.notEqual(r.cut[0]!.first, "1", "the head went with the rotation");
      assert.match(r.badSince, /^UsageError: logs since: "yesterday-ish" is not a time/);
      assert.match(r.typo, /^UsageError: stop options: unknown option "timeot" \(timeout, signal\)$/);
      assert.match(r.execTypo, /^UsageError: exec options: unknown option "timeout"/);
      assert.deepEqual(r.killed, { exitCode: 137, signal: "SIGKILL", oomKilled: false });
      assert.deepEqual(r.reasons, { missing: "no_such_container", taken: "name_in_use", stopped: "not_running" });
      assert.equal(r.relativeDir, true);
      assert.deepEqual([r.before, r.after], [0, 0]);
    });

    it("the library's ContainerError reasons: paused, not paused, network and volume refusals, a missing copyFrom path, an ambiguous id prefix", notAsSingle(who), async () => {
      const paused = who.name === "root";
      const r = await scenario(who, "reasons", paused ? "pause" : "");
      assert.deepEqual(r, {
        ...(paused ? { notPaused: "not_paused", pausePaused: "paused", startPaused: "paused" } : {}),
        networkExists: "name_in_use",
        networkMissing: "no_such_network",
        volumeInUse: "in_use",
        volumeMissing: "no_such_volume",
        copyMissing: "no_such_path",
        // (they were paused and not_running: the reason was read from the message, which quotes the path)
        copyPausedWords: "no_such_path",
        copyNotRunningWords: "no_such_path",
        ambiguous: "ambiguous",
      });
    });

    it("the library's wait() on a foreground remove: true run whose process exits: the real exit code (137), not 255", notAsSingle(who), async () => {
      const r = await scenario(who, "waitRemovedOwnerDied");
      assert.deepEqual(r, { status: { exitCode: 137, signal: null, oomKilled: false }, gone: "no_such_container" });
    });

    it("the library's run() object of a container another process removed: no such container, not running", notAsSingle(who), async () => {
      const r = await scenario(who, "removedElsewhere");
      const gone = { tsbox: true, reason: "no_such_container", message: "no such container: removed-elsewhere" };
      assert.deepEqual(r, { rm: 0, running: false, exec: gone, spawn: gone, remove: gone, wait: { exitCode: 137, signal: "SIGKILL", oomKilled: false }, runningAfter: false });
    });

    it("container prune spares a container another process is still starting", async () => {
      const r = await scenario(who, "pruneWhileStarting");
      assert.doesNotMatch(r.pruned, new RegExp(r.id), r.pruned);
      assert.deepEqual({ exitCode: r.exitCode, stdout: r.stdout }, { exitCode: 0, stdout: "ran\n" });
    });
  });
}

for (const who of identities()) {
  describe(`a full disk, as ${who.name}`, () => {
    let snap: Snapshot;
    let disk: FullDisk;
    beforeEach(async () => {
      snap = snapshot();
      disk = await FullDisk.create(who, "20m");
    });
    afterEach(async () => {
      // What a failed test left running goes with its disk, not into the next tests' leak checks.
      disk.free();
      const left = (await cli(["ps", "-a", "-q"])).stdout.split("\n").filter(Boolean);
      if (left.length > 0) await cli(["rm", "-f", ...left]);
      disk.close();
      await assertNoLeaks(snap, [who]);
    });
    const cli = (args: string[]) => tsbox(who, args, { mountns: disk.ns, env: { TSBOX_DATA_DIR: disk.dataDir } });
    const done = async (args: string[]) => {
      const r = await cli(args);
      assert.equal(r.code, 0, `tsbox ${args.join(" ")}: ${r.stderr}`);
      return r;
    };
    const runs = (cmdline: string) => spawnSync("pgrep", ["-x", "-f", cmdline]).status === 0;

    it("run -d whose start cannot be recorded fails and leaves nothing running, at every free size near full", notAsSingle(who), async () => {
      await done(["run", "--rm", "busybox", "true"]);
      let failed = 0;
      // The start's own writes (net files, the log, state.json) meet the end of the disk at some free size.
      for (let kib = 0; kib <= 96; kib += 4) {
        const cmd = `sleep ${9000 + kib}`;
        disk.fill(kib * 1024);
        const r = await cli(["run", "-d", "--name", "r", "busybox", ...cmd.split(" ")]);
        disk.free();
        const status = (await done(["ps", "-a", "--format", "{{.Status}}"])).stdout;
        if (r.code === 0) {
          assert.match(status, /^Up/, `started with ${kib} KiB free: ps says so`);
          assert.ok(runs(cmd));
        } else {
          failed++;
          assert.match(r.stderr, /no space left on device/i, `${kib} KiB free`);
          assert.match(status, /^(Created|$)/, `${kib} KiB free: ${r.stderr}`);
          assert.ok(!runs(cmd), `a start that failed with ${kib} KiB free left its container running: ${r.stderr}`);
        }
        if (status !== "") await done(["rm", "-f", "r"]);
        assert.ok(!runs(cmd), `rm -f r (${kib} KiB free) left it running`);
      }
      assert.ok(failed > 0, "some start met the full disk");
    });

    it("a run that ends on a full disk has its end recorded (the monitor's reserve): ps and inspect give its code", async () => {
      await done(["run", "--rm", "busybox", "true"]);
      // Told to end from a dir that is not on the small disk.
      const signal = mkdtempSync(join(who.scratch, "go-"));
      chownSync(signal, who.uid, who.gid);
      try {
        await done(["run", "-d", "--name", "ending", "-v", `${signal}:/s`, "busybox", "sh", "-c", "while [ ! -f /s/go ]; do sleep 0.05; done; exit 3"]);
        const id = (await done(["inspect", "-f", "{{.Id}}", "ending"])).stdout.trim();
        const monitor = Number(JSON.parse(disk.sh(`cat ${disk.dataDir}/containers/${id}/state.json`)).monitorPid);
        disk.fill();
        writeFileSync(join(signal, "go"), "");
        await until("its monitor ends", () => !alive(monitor), 30_000);
        disk.free();
        // Before: "Exited (unknown)" and 255, the state write refused and its code lost.
        assert.equal((await done(["ps", "-a", "--format", "{{.Status}}"])).stdout.replace(/ \d+ seconds? ago| Less than a second ago/, ""), "Exited (3)\n");
        assert.equal((await done(["inspect", "-f", "{{.State.ExitCode}}", id])).stdout, "3\n");
      } finally {
        disk.free();
        await done(["rm", "-f", "ending"]);
        rmSync(signal, { recursive: true, force: true });
      }
    });

    it("the log a full disk cut short loses only what did not fit: every entry after it is whole", async () => {
      await done(["run", "--rm", "busybox", "true"]);
      // Its count of lines printed, where the test reads it (not on the small disk).
      const counter = mkdtempSync(join(who.scratch, "count-"));
      chownSync(counter, who.uid, who.gid);
      const script = "i=0; while true; do echo line$i-padpadpadpadpadpadpadpadpadpadpadpad; i=$((i+1)); echo $i > /c/n; sleep 0.002; done";
      await done(["run", "-d", "--name", "chatty", "-v", `${counter}:/c`, "busybox", "sh", "-c", script]);
      const printed = () => {
        try {
          return Number(readFileSync(join(counter, "n"), "utf8") || "0");
        } catch {
          return 0; // not yet
        }
      };
      const after = async (n: number) => {
        const from = printed();
        await until(`${n} more lines`, () => printed() >= from + n, 60_000);
      };
      try {
        await after(50);
        disk.fill();
        await after(300);
        disk.free();
        await after(50);
        const log = disk.sh(`cat ${disk.dataDir}/containers/*/container.log`).split("\n").filter((l) => l !== "");
        const broken = log.filter((l) => {
          try {
            return typeof JSON.parse(l).log !== "string";
          } catch {
            return true;
          }
        });
        assert.deepEqual(broken, [], "no torn entry");
        // What did not fit is missing, and `logs` says so (it was silent: the output looked whole).
        const logs = await cli(["logs", "chatty"]);
        assert.equal(logs.code, 0, logs.stderr);
        assert.match(logs.stderr, /^tsbox: warning: this log is incomplete: some of the container's output could not be written to it \(the disk was full\)\n$/);
      } finally {
        disk.free();
        await done(["rm", "-f", "chatty"]);
        rmSync(counter, { recursive: true, force: true });
      }
    });

    it("a foreground run whose output came while its own files filled the disk: logs says its log lacks it, and keeps the rest", async () => {
      // The chaos explorer's case: the caller saw every line, `logs` printed the first and not the rest, and said nothing.
      // More than the pipe to the helper holds (64 KiB), so the lines are read, and their log writes fail, while the
      // disk is still full (2,000 lines fitted in the pipe: a helper that read them late, under load, after the rm,
      // logged them all); and more than the log's last page, which may have room for a line or two.
      // (The second before the disk fills: a helper that read "before" only after it, on a loaded machine, lost it too.)
      const script = "echo before; sleep 1; dd if=/dev/zero of=/big bs=1M count=40 2>/dev/null; yes while-full | head -n 20000; rm /big; echo after";
      const run = await cli(["run", "--name", "fg", "busybox", "sh", "-c", script]);
      assert.equal(run.stdout, `before\n${"while-full\n".repeat(20000)}after\n`, run.stderr);
      const logs = await done(["logs", "fg"]);
      // (Where the loss began and ended a line may be cut: the log holds the reads that were written.)
      assert.ok(logs.stdout.startsWith("before\n") && logs.stdout.endsWith("after\n"), logs.stdout.slice(0, 200));
      assert.ok(logs.stdout.length < run.stdout.length, "the lines the full disk refused are not in the log");
      assert.match(logs.stderr, /this log is incomplete: some of the container's output could not be written to it \(the disk was full\)/);
      // A log written whole has no such line.
      await done(["run", "--name", "fine", "busybox", "echo", "fine"]);
      assert.deepEqual([(await done(["logs", "fine"])).stderr, (await done(["logs", "fine"])).stdout], ["", "fine\n"]);
      await done(["rm", "fg", "fine"]);
    });

    it("a container whose output filled the disk can be removed (rm -f, container prune), and a failed rename frees its name", async () => {
      await done(["run", "--rm", "busybox", "true"]);
      await done(["run", "--name", "c1", "busybox", "true"]);
      // It floods once told to: a flood from its first instant would fill the disk before its start is recorded.
      await done(["run", "-d", "--name", "y", "busybox", "sh", "-c", "while [ ! -f /tmp/go ]; do sleep 0.05; done; yes"]);
      // What its log has to fill is small: the 20 MB took it more than a minute on a loaded machine.
      disk.fill(512 * 1024);
      await done(["exec", "y", "touch", "/tmp/go"]);
      await until("its log fills the disk", () => Number(disk.sh(`df -k --output=avail ${disk.dir} | tail -1`).trim()) === 0, 60_000);
      // The name is free again after a rename that could not be recorded.
      disk.fill();
      const renamed = await cli(["rename", "c1", "c2"]);
      assert.equal(renamed.code, 1);
      assert.match(renamed.stderr, /ENOSPC/);
      assert.equal((await done(["ps", "-a", "--filter", "name=c", "--format", "{{.Names}}"])).stdout, "c1\n");
      await done(["rm", "-f", "y"]);
      disk.fill();
      const pruned = await done(["container", "prune", "-f"]);
      assert.match(pruned.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n/);
      assert.equal((await done(["ps", "-a", "-q"])).stdout, "");
      disk.free();
      await done(["run", "--name", "c2", "busybox", "true"]);
      await done(["rm", "c2"]);
    });
  });
}

describe("many containers", () => {
  const root = identities().find((w) => w.name === "root");
  let snap: Snapshot;
  beforeEach(() => (snap = snapshot()));
  afterEach(() => root && assertNoLeaks(snap, [root]));

  it("200 detached containers started and removed leave nothing behind", { skip: root ? false : "needs root" }, async () => {
    // Only lo, as every suite's containers (helpers/cli.ts): as root a bridge would be made in the machine's own
    // network namespace, where the other test lane's leak checks count links (network.test.ts churns veths in its own).
    const rt = new Runtime({ dataDir: root!.dataDir, backend: "native", network: "none" });
    const ids: string[] = [];
    const pool = async (n: number, work: (i: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(Array.from({ length: 8 }, async () => {
        while (next < n) await work(next++);
      }));
    };
    await pool(200, async () => {
      const c = await rt.create({ image: "busybox", cmd: ["sh", "-c", "echo up; exec sleep 600"] });
      await c.start();
      ids.push(c.id);
    });
    const running = await rt.list();
    assert.equal(running.filter((c) => ids.includes(c.id)).length, 200);
    await pool(200, async (i) => {
      await (await rt.get(ids[i]!)).remove({ force: true });
    });
    assert.deepEqual(await rt.list({ all: true }), []);
  });
});
