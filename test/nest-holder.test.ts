/**
 * The nest holder (native-rs/runtime/src/nest_holder.rs): a rootless user's one-shot runs (the CLI's `run`,
 * `run -d`) join a user namespace holding the subordinate id maps, kept by `tsbox-runtime nest-holder`, instead of
 * running newuidmap and newgidmap each. Through the real CLI as root and as each test user: the first such run
 * starts the holder and the next joins it (the helper's `nest:` marks on TSBOX_TRACE_FD), their containers' ids
 * land on the host where they would without it, a killed holder is replaced, an idle one leaves (its record
 * too), and root and a user with one mapped id never start one. Fast tier first: TSBOX_NEST_IDLE's parsing.
 */
import { after, afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { nestIdleArgs } from "../src/backends/native/nest-idle.js";
import { cleanupIdentities, identities } from "./helpers/identities.js";
import { tsbox } from "./helpers/cli.js";
import { assertNoLeaks, snapshot, type Snapshot } from "./helpers/leaks.js";
import { alive, gone, nestHolder as holder } from "./helpers/nest-holder.js";

after(cleanupIdentities);

describe("TSBOX_NEST_IDLE", () => {
  it("is a minute by default, 0 turns the holder off, anything but whole seconds is refused", () => {
    assert.deepEqual(nestIdleArgs({}), ["--nest-idle", "60"]);
    assert.deepEqual(nestIdleArgs({ TSBOX_NEST_IDLE: "" }), ["--nest-idle", "60"]);
    assert.deepEqual(nestIdleArgs({ TSBOX_NEST_IDLE: "5" }), ["--nest-idle", "5"]);
    assert.deepEqual(nestIdleArgs({ TSBOX_NEST_IDLE: "0" }), []);
    assert.throws(() => nestIdleArgs({ TSBOX_NEST_IDLE: "1m" }), /TSBOX_NEST_IDLE=1m: expected a whole number of seconds \(0: no holder/);
  });
});

const TRACE = { TSBOX_TRACE_FD: "2", TSBOX_NEST_IDLE: "2" };

/** "Uid:" and "Gid:" of a process's status, as the host sees them. */
function hostIds(pid: number): string[] {
  return readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .filter((l) => /^(Uid|Gid):/.test(l))
    .map((l) => l.split(/\s+/)[1]!);
}

for (const who of identities()) {
  describe(`the nest holder, as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => {
      snap = snapshot();
    });
    afterEach(async () => {
      // The holder is a process of the data dir (its command line names it): gone before the leak check.
      const h = holder(who.dataDir);
      if (h) assert.ok(await gone(h.pid), "the holder leaves once idle");
      await assertNoLeaks(snap, [who]);
    });

    if (who.name !== "user") {
      it("is never started: the maps need no setuid helper", async () => {
        const run = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: TRACE });
        assert.equal(run.code, 0, run.stderr);
        assert.doesNotMatch(run.stderr, /nest: /);
        assert.equal(holder(who.dataDir), undefined);
        assert.equal(JSON.parse((await tsbox(who, ["info", "--json"])).stdout).nestHolder, null);
      });
      return;
    }

    it("is started by the first run and joined by the next; the containers' ids land where they would without it", async () => {
      const idCommand = ["run", "--rm", "-u", "1000:1000", "--group-add", "10", "busybox", "sh", "-c", "id; cat /proc/self/setgroups"];
      const first = await tsbox(who, idCommand, { env: TRACE });
      assert.equal(first.code, 0, first.stderr);
      const without = await tsbox(who, idCommand, { env: { TSBOX_NEST_IDLE: "0" } });
      assert.equal(without.code, 0, without.stderr);
      assert.equal(first.stdout, without.stdout, "the same ids, groups and setgroups as without the nest");
      assert.match(first.stdout, /^uid=1000 gid=1000 groups=10\n/);
      assert.match(first.stderr, /nest: started a holder/);
      const h = holder(who.dataDir);
      assert.ok(h && alive(h.pid) && alive(h.nsPid), "the holder and its namespace's process run");

      const second = await tsbox(who, ["run", "--rm", "busybox", "echo", "hi"], { env: TRACE });
      assert.equal(second.code, 0, second.stderr);
      assert.equal(second.stdout, "hi\n");
      assert.match(second.stderr, /nest: joined the holder's/);
      assert.doesNotMatch(second.stderr, /nest: started/);

      // Detached (the monitor's runs): the same holder; a host view of the container's ids, nested or not.
      const detached = await tsbox(who, ["run", "-d", "-u", "1000:1000", "busybox", "sleep", "60"], { env: TRACE });
      assert.equal(detached.code, 0, detached.stderr);
      const id = detached.stdout.trim();
      const pid = Number((await tsbox(who, ["inspect", "-f", "{{.State.Pid}}", id])).stdout.trim());
      const plain = await tsbox(who, ["run", "-d", "-u", "1000:1000", "busybox", "sleep", "60"], { env: { TSBOX_NEST_IDLE: "0" } });
      const plainPid = Number((await tsbox(who, ["inspect", "-f", "{{.State.Pid}}", plain.stdout.trim()])).stdout.trim());
      assert.ok(pid > 0 && plainPid > 0);
      assert.deepEqual(hostIds(pid), hostIds(plainPid), "uid and gid 1000 of the container on the host, with the nest and without");
      assert.notEqual(hostIds(pid)[0], "1000", "a subordinate id, not the host's 1000");
      assert.equal(readFileSync(`/proc/${pid}/uid_map`, "utf8"), readFileSync(`/proc/${plainPid}/uid_map`, "utf8"));
      assert.deepEqual(holder(who.dataDir), h, "the same holder");
      // The monitor runs from the holder's sealed copy (the CLI's hand-off reopens it: sealed_exe::held_copy), not one
      // of its own; TSBOX_RUNTIME_SEAL=memfd asks for its own.
      const exeInode = (pid: number) => statSync(`/proc/${pid}/exe`).ino;
      const monitorOf = (cid: string) => (JSON.parse(readFileSync(join(who.dataDir, "containers", cid, "state.json"), "utf8")) as { monitorPid: number }).monitorPid;
      assert.equal(exeInode(monitorOf(id)), exeInode(h!.pid), "the holder's copy");
      const own = await tsbox(who, ["run", "-d", "busybox", "sleep", "60"], { env: { TSBOX_RUNTIME_SEAL: "memfd" } });
      assert.equal(own.code, 0, own.stderr);
      assert.notEqual(exeInode(monitorOf(own.stdout.trim())), exeInode(h!.pid), "a copy of its own");
      assert.match(readlinkSync(`/proc/${monitorOf(own.stdout.trim())}/exe`), /^\/memfd:tsbox-runtime/);
      assert.equal((await tsbox(who, ["rm", "-f", id, plain.stdout.trim(), own.stdout.trim()])).code, 0);
    });

    it("a killed holder is replaced by the next run; an idle one leaves with its record; 0 starts none", async () => {
      const first = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: TRACE });
      assert.equal(first.code, 0, first.stderr);
      const h = holder(who.dataDir)!;
      process.kill(h.pid, "SIGKILL");
      assert.ok(await gone(h.pid));
      assert.ok(await gone(h.nsPid), "its namespace's process dies with it");

      const next = await tsbox(who, ["run", "--rm", "busybox", "echo", "again"], { env: TRACE });
      assert.equal(next.code, 0, next.stderr);
      assert.equal(next.stdout, "again\n");
      assert.match(next.stderr, /nest: started a holder/);
      const replaced = holder(who.dataDir)!;
      assert.notEqual(replaced.pid, h.pid);

      // Idle for TSBOX_NEST_IDLE=2 seconds: it goes, and its record with it.
      assert.ok(await gone(replaced.pid), "the idle holder leaves");
      assert.ok(await gone(replaced.nsPid));
      assert.equal(holder(who.dataDir), undefined);

      const off = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { ...TRACE, TSBOX_NEST_IDLE: "0" } });
      assert.equal(off.code, 0, off.stderr);
      assert.doesNotMatch(off.stderr, /nest: /);
      assert.equal(holder(who.dataDir), undefined);
    });

    it("serves a run on the rootless bridge when TSBOX_TRACE_FD names a descriptor the helper does not have (it traces nothing then)", async () => {
      // The full run's helper is Node's child with fds 0-2 only: 9 was a number it opened later, and its marks
      // went there (the run failed, exit 125: "entering network namespace …: Permission denied").
      for (let i = 0; i < 2; i++) {
        const env = { TSBOX_TRACE_FD: "9", TSBOX_NEST_IDLE: "2", TSBOX_NETWORK: "bridge" };
        const r = await tsbox(who, ["run", "--rm", "busybox", "echo", "hi"], { env });
        assert.deepEqual([r.code, r.stdout, r.stderr], [0, "hi\n", ""]);
      }
      assert.ok(holder(who.dataDir), "the holder runs");
    });

    it("leaves when its data dir's record is removed", async () => {
      const first = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { ...TRACE, TSBOX_NEST_IDLE: "600" } });
      assert.equal(first.code, 0, first.stderr);
      const h = holder(who.dataDir)!;
      assert.ok(alive(h.pid));
      // Not a mystery in ps: info names it.
      assert.deepEqual(JSON.parse((await tsbox(who, ["info", "--json"])).stdout).nestHolder, { pid: h.pid });
      assert.match((await tsbox(who, ["info"])).stdout, new RegExp(`^nest holder: +process ${h.pid}, `, "m"));
      // As `rm -rf` of the data dir does to it: the holder leaves at once, and makes nothing there again (its lock
      // file and dir, which failed the rmdir of a bench's data dir).
      rmSync(join(who.dataDir, "nest"), { recursive: true });
      assert.ok(await gone(h.pid), "the holder leaves at once, not after its 600 seconds");
      assert.ok(await gone(h.nsPid));
      assert.equal(existsSync(join(who.dataDir, "nest")), false);
      assert.equal(JSON.parse((await tsbox(who, ["info", "--json"])).stdout).nestHolder, null);
    });

    it("refuses a TSBOX_NEST_IDLE that is not whole seconds, before making anything", async () => {
      const run = await tsbox(who, ["run", "--rm", "busybox", "true"], { env: { TSBOX_NEST_IDLE: "soon" } });
      assert.equal(run.code, 125);
      assert.match(run.stderr, /TSBOX_NEST_IDLE=soon: expected a whole number of seconds/);
      assert.equal((await tsbox(who, ["ps", "-aq"])).stdout, "");
    });
  });
}
