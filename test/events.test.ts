/**
 * `tsbox events`: what tsbox processes and tsbox-runtime's monitors record
 * (src/containers/events.ts, native-rs/runtime/src/events.rs), as root and
 * as unprivileged users, on both backends (the vm's monitor and front end
 * are TypeScript): history between --since and --until, following new
 * events, filters, docker's formats.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { identities, cleanupIdentities, notAsSingle } from "./helpers/identities.js";
import { cliPath, identityEnv, tsbox } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { until } from "./helpers/until.js";
import { appendEvents } from "../src/containers/events.js";

after(cleanupIdentities);

for (const who of identities()) {
  describe(`events as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    /** Ends a detached container's monitor with SIGKILL (as a reboot would): it cannot record the run's end. */
    const killMonitor = async (name: string) => {
      const stateFile = join(who.dataDir, "containers", readlinkSync(join(who.dataDir, "names", name)), "state.json");
      const { monitorPid, pid } = JSON.parse(readFileSync(stateFile, "utf8")) as { monitorPid: number; pid: number };
      process.kill(monitorPid, "SIGKILL");
      await until("the container to die with its monitor", () => {
        try {
          return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
        } catch {
          return true;
        }
      });
    };

    it("follows a container's life, by the monitor and the front end, and shows the past between --since and --until", notAsSingle(who), async () => {
      const name = `ev-${who.name}`;
      const since = String(Math.floor(Date.now() / 1000) - 1);
      // Following from --since: what happened before it started reading is there too, so nothing races.
      const format = "{{.Action}} {{.Actor.Attributes.name}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}";
      const follower = spawn(process.execPath, [cliPath, "events", "--since", since, "--filter", `container=${name}`, "--filter", `container=${name}-2`, "--format", format], {
        uid: who.uid,
        gid: who.gid,
        cwd: who.scratch,
        env: identityEnv(who),
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      follower.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      const ended = new Promise<number | null>((resolve) => follower.on("close", resolve));
      try {
        assert.equal((await tsbox(who, ["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
        assert.equal((await tsbox(who, ["rename", name, `${name}-2`])).code, 0);
        assert.equal((await tsbox(who, ["stop", "-t", "0", `${name}-2`])).code, 0);
        assert.equal((await tsbox(who, ["rm", `${name}-2`])).code, 0);
        // A foreground --rm run: its runtime records the end it never writes to state.json.
        assert.equal((await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", "exit 3"])).code, 3);
        await until("the destroy event", () => out.includes(`destroy ${name}-2\n`));
      } finally {
        follower.kill("SIGINT");
      }
      assert.equal(await ended, 0, "Ctrl-C ends events quietly");
      assert.equal(out, [`create ${name}`, `start ${name}`, `rename ${name}-2`, `kill ${name}-2`, `die ${name}-2 137`, `stop ${name}-2`, `destroy ${name}-2`, ""].join("\n"));

      // The past, then exit: only the foreground run's die, as docker's JSON message.
      const past = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", "event=die", "--filter", "image=busybox", "--format", "json"]);
      assert.equal(past.code, 0, past.stderr);
      const dies = past.stdout.trim().split("\n").map((l) => JSON.parse(l) as { Type: string; Action: string; Actor: { Attributes: Record<string, string> } });
      assert.deepEqual(dies.map((d) => [d.Type, d.Action, d.Actor.Attributes.exitCode]), [["container", "die", "137"], ["container", "die", "3"]]);
      // docker's Go names for the fields its JSON keeps lowercase (its docs' `--format 'Status={{.Status}} ID={{.ID}}'`).
      const goNames = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", "event=die", "--filter", "image=busybox", "--format", "{{.Status}} {{len .ID}} {{.From}} {{.Scope}} {{if .TimeNano}}nanos{{end}}"]);
      assert.equal(goNames.stdout, "die 64 busybox local nanos\n".repeat(2), goNames.stderr);
      // docker's default line.
      const text = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${name}-2`, "--filter", "event=destroy"]);
      assert.match(text.stdout, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}Z container destroy [0-9a-f]{64} \\(image=busybox, name=${name}-2\\)\\n$`));
      // A label's escape sequence or newline (an image's, a user's) is shown escaped, never forging a line (before stop 66: raw).
      const hostile = `${name}-esc`;
      assert.equal((await tsbox(who, ["create", "--name", hostile, "-l", "x=\u001b]52;c;AAAA\u0007\nforged 0000 container die", "busybox", "true"])).code, 0);
      assert.equal((await tsbox(who, ["rm", hostile])).code, 0);
      const shown = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${hostile}`, "--filter", "event=create"]);
      assert.match(shown.stdout, /^\S+ container create [0-9a-f]{64} \(image=busybox, name=\S+-esc, x=\\x1b\]52;c;AAAA\\x07\\x0aforged 0000 container die\)\n$/);
      // The verbs' own events, with kill's signal: a PID 1 ignores SIGHUP (no handler), the restart's SIGTERM too,
      // so the stop timeout's SIGKILL ends it; rm -f kills a running one.
      const verbs = `${name}-verbs`;
      assert.equal((await tsbox(who, ["run", "-d", "--name", verbs, "busybox", "sleep", "600"])).code, 0);
      assert.equal((await tsbox(who, ["kill", "-s", "HUP", verbs])).code, 0);
      assert.equal((await tsbox(who, ["restart", "-t", "0", verbs])).code, 0);
      assert.equal((await tsbox(who, ["rm", "-f", verbs])).code, 0);
      const verbFormat = "{{.Action}}{{with .Actor.Attributes.signal}} {{.}}{{end}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}";
      const done = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${verbs}`, "--format", verbFormat]);
      assert.equal(done.stdout, ["create", "start", "kill 1", "kill 15", "die 137", "start", "restart", "kill 9", "die 137", "destroy", ""].join("\n"));
      const attached = `${name}-attached`;
      assert.equal((await tsbox(who, ["run", "-d", "--name", attached, "busybox", "sleep", "1"])).code, 0);
      assert.equal((await tsbox(who, ["attach", attached])).code, 0);
      assert.equal((await tsbox(who, ["rm", attached])).code, 0);
      const attachEvents = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${attached}`, "--format", verbFormat]);
      assert.equal(attachEvents.stdout, ["create", "start", "attach", "die 0", "destroy", ""].join("\n"));
      // docker's events carry the container's labels (a compose project's, its own), whichever process wrote them
      // (the CLI's create, the monitor's start and die, a foreground --rm run's helper); label= filters by them.
      const project = ["-l", `com.docker.compose.project=demo-${who.name}`, "-l", "tier=web", "-l", "name=not-this"];
      assert.equal((await tsbox(who, ["run", "-d", "--name", `${name}-lab`, ...project, "busybox", "true"])).code, 0);
      assert.equal((await tsbox(who, ["wait", `${name}-lab`])).code, 0);
      assert.equal((await tsbox(who, ["rm", `${name}-lab`])).code, 0);
      assert.equal((await tsbox(who, ["run", "--rm", ...project, "busybox", "true"])).code, 0);
      const labelled = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `label=com.docker.compose.project=demo-${who.name}`, "--filter", "label=tier", "--format", '{{.Action}} {{index .Actor.Attributes "tier"}} {{.Actor.Attributes.name}}']);
      const lab = `${name}-lab`;
      assert.equal(labelled.stdout, [`create web ${lab}`, `start web ${lab}`, `die web ${lab}`, `destroy web ${lab}`].join("\n") + "\n" + labelled.stdout.split("\n").slice(4).join("\n"), labelled.stderr);
      assert.match(labelled.stdout.split("\n").slice(4).join("\n"), /^create web \w+\nstart web \w+\ndie web \w+\ndestroy web \w+\n$/, "the foreground run's, its name generated");
      assert.equal((await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", "label=tier=db", "--filter", "label=tier"])).stdout, "", "every label filter must hold");
      const bad = await tsbox(who, ["events", "--filter", "labels=x"]);
      assert.equal(bad.code, 125);
      assert.match(bad.stderr, /^tsbox: invalid filter "labels=x": tsbox events filters by container=…, event=…, image=…, label=…, type=…\n$/);
      // docker's other types: none recorded, which is said (before: a silent empty stream); an unknown one is refused.
      const volumes = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", "type=volume"]);
      assert.deepEqual([volumes.code, volumes.stdout, volumes.stderr], [0, "", "tsbox: warning: tsbox records container events only: type=volume matches none\n"]);
      assert.equal((await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", "type=vollume"])).code, 125);
      // docker's alias.
      assert.equal((await tsbox(who, ["system", "events", "--since", since, "--until", "0s", "--filter", `container=${lab}`, "--format", "{{.Action}}"])).stdout, "create\nstart\ndie\ndestroy\n");
      // The detached container started the user's guest daemon: it goes too, or it would count as a leak.
      if (process.env.TSBOX_BACKEND === "vm") await tsbox(who, ["vm", "stop", "--force"]);
    });

    it("a run whose monitor died unseen (a reboot, kill -9): the next start records its die (255, as wait says) and the start", { skip: process.env.TSBOX_BACKEND === "vm" ? "the native monitor's" : false }, async () => {
      const name = `ev-unseen-${who.name}`;
      const since = String(Math.floor(Date.now() / 1000) - 1);
      assert.equal((await tsbox(who, ["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
      await killMonitor(name);
      assert.equal((await tsbox(who, ["start", name])).code, 0);
      assert.equal((await tsbox(who, ["rm", "-f", name])).code, 0);
      const format = "{{.Action}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}";
      const r = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${name}`, "--format", format]);
      assert.equal(r.stdout, ["create", "start", "die 255", "start", "kill", "die 137", "destroy", ""].join("\n"));
    });

    it("a health status a probe's result changes is docker's health_status event; event=health_status finds each", { skip: process.env.TSBOX_BACKEND === "vm" ? "the native monitor's health checks" : false }, async () => {
      const name = `ev-health-${who.name}`;
      const since = String(Math.floor(Date.now() / 1000) - 1);
      // No start period and one retry: the first probe's failure is "unhealthy"; the file exec makes, "healthy".
      const health = ["--health-cmd", "test -f /tmp/ok", "--health-interval", "1s", "--health-retries", "1"];
      assert.equal((await tsbox(who, ["run", "-d", "--name", name, ...health, "busybox", "sleep", "600"])).code, 0);
      const healthEvents = async () =>
        (await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${name}`, "--filter", "event=health_status", "--format", "{{.Action}} {{.Actor.Attributes.name}}"])).stdout;
      await until("the unhealthy event", async () => (await healthEvents()) !== "");
      assert.equal((await tsbox(who, ["exec", name, "touch", "/tmp/ok"])).code, 0);
      await until("the healthy event", async () => (await healthEvents()).split("\n").length > 2);
      assert.equal((await tsbox(who, ["rm", "-f", name])).code, 0);
      assert.equal(await healthEvents(), [`health_status: unhealthy ${name}`, `health_status: healthy ${name}`, ""].join("\n"));
      // The whole history: the status reset at a run's start and the end's "unhealthy" have none (docker's).
      const all = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${name}`, "--filter", "event=health_status: healthy", "--filter", "event=start", "--format", "{{.Status}}"]);
      assert.equal(all.stdout, ["start", "health_status: healthy", ""].join("\n"));
    });

    for (const force of [false, true]) {
      it(`rm${force ? " -f" : ""} of a run whose monitor died unseen records its die (255) before the destroy`, { skip: process.env.TSBOX_BACKEND === "vm" ? "the native monitor's" : false }, async () => {
        const name = `ev-unseen-rm${force ? "f" : ""}-${who.name}`;
        const since = String(Math.floor(Date.now() / 1000) - 1);
        assert.equal((await tsbox(who, ["run", "-d", "--name", name, "busybox", "sleep", "600"])).code, 0);
        await killMonitor(name);
        const rm = await tsbox(who, ["rm", ...(force ? ["-f"] : []), name]);
        assert.equal(rm.code, 0, rm.stderr);
        const format = "{{.Action}}{{with .Actor.Attributes.exitCode}} {{.}}{{end}}";
        const r = await tsbox(who, ["events", "--since", since, "--until", "0s", "--filter", `container=${name}`, "--format", format]);
        // Before: create, start, destroy.
        assert.equal(r.stdout, ["create", "start", "die 255", "destroy", ""].join("\n"));
      });
    }
  });
}

describe("events.log after a full disk", () => {
  it("an append that a full disk cut short is not continued: the next event starts a line of its own", () => {
    const dir = mkdtempSync(join(tmpdir(), "events-torn-"));
    try {
      const file = join(dir, "events.log");
      writeFileSync(file, '{"status":"kill","id":"c1"}\n{"status":"ki');
      appendEvents(file, ['{"status":"kill","id":"c2"}']);
      const lines = readFileSync(file, "utf8").split("\n");
      assert.deepEqual(lines, ['{"status":"kill","id":"c1"}', '{"status":"ki', '{"status":"kill","id":"c2"}', ""]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
