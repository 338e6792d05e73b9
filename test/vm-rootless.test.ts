/**
 * The vm backend as an unprivileged user — every macOS and Windows user's
 * case, and the test users here: with subordinate ids (`user`) and without
 * (`single`, as on a Mac, whose vm containers get a range of the guest's own
 * ids). Files copied in belong to the container's root (docker cp's rule),
 * owners the container gave survive stop, start and commit, and a build's
 * COPY --chown and RUN chown give the image's user its files. The rest of the
 * vm lifecycle runs as root in vm-lifecycle.test.ts.
 */
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliPath, tsbox } from "./helpers/cli.js";
import { cleanupIdentities, identities, type Identity } from "./helpers/identities.js";
import { assertNoLeaks, type Snapshot, snapshot } from "./helpers/leaks.js";
import { until } from "./helpers/until.js";
import { vmSkip } from "./helpers/vm.js";

/** The owners (uid/gid) of `tar tv`'s entries, by path. */
function tarOwners(listing: string): Record<string, string> {
  const owners: Record<string, string> = {};
  for (const line of listing.trim().split("\n")) {
    const cols = line.split(/\s+/);
    owners[cols[cols.length - 1]!] = cols[1]!;
  }
  return owners;
}

/** A file of `who` in its scratch dir. */
function ownedFile(who: Identity, rel: string, text: string): void {
  const path = join(who.scratch, rel);
  writeFileSync(path, text);
  chownSync(path, who.uid, who.gid);
}

/** A directory of `who` in its scratch dir; its path. */
function ownedDir(who: Identity, rel: string): string {
  const path = join(who.scratch, rel);
  mkdirSync(path, { recursive: true });
  chownSync(path, who.uid, who.gid);
  return path;
}

describe("vm backend as an unprivileged user", { skip: vmSkip }, () => {
  after(() => cleanupIdentities());

  for (const who of identities().filter((w) => w.name !== "root")) {
    describe(`as ${who.name}`, () => {
      const env = { TSBOX_BACKEND: "vm" };
      const run = (args: string[], cwd?: string) => tsbox(who, args, { env, ...(cwd ? { cwd } : {}) });
      const ok = async (args: string[], cwd?: string) => {
        const r = await run(args, cwd);
        assert.equal(r.code, 0, `tsbox ${args.join(" ")}: ${r.stderr}`);
        return r;
      };
      /** `build -t TAG` of `dir`, `use`, then `rmi` whatever happened. */
      const built = async (tag: string, dir: string, use: () => Promise<void>) => {
        await ok(["build", "-q", "-t", tag, "."], dir);
        try {
          await use();
        } finally {
          await run(["rmi", tag]);
        }
      };
      /** `run -d --name NAME …args`, `use`, then `rm -f` whatever happened. */
      const detached = async (name: string, args: string[], use: () => Promise<void>) => {
        await ok(["run", "-d", "--name", name, ...args]);
        try {
          await use();
        } finally {
          await run(["rm", "-f", name]);
        }
      };
      let snap: Snapshot;
      before(() => (snap = snapshot()));
      after(async () => {
        await run(["vm", "stop", "--force"]);
        await assertNoLeaks(snap, [who]);
      });

      it("tsbox info: the vm containers' ids, and no warning of what only native containers lack", async () => {
        const info = JSON.parse((await ok(["info", "--json"])).stdout) as { backend: string; idMapping: string; warnings: string[] };
        assert.equal(info.backend, "vm");
        assert.match(info.idMapping, who.name === "single" ? /^the guest's ids 100000\+65536 \(vm backend; this host gives the user no \/etc\/subuid range\)$/ : /^subordinate ids \d+\+\d+ via newuidmap$/);
        assert.deepEqual(info.warnings.filter((w) => /subuid|delegated cgroup|rootless bridge/.test(w)), []);
        // The kernel, cgroups and network containers get are the guest's, not this host's.
        const text = (await ok(["info"])).stdout;
        assert.match(text, /^kernel: +6\.1\.\d+ i686 \(the guest's; this host: /m);
        assert.match(text, /^cgroup: +v2$/m);
        assert.doesNotMatch(text, /^cgroups (root|you):/m);
        assert.match(text, /^network: +the guest's bridges.*; outbound TCP and DNS go through this host; this host's loopback closed to containers \(TSBOX_HOST_LOOPBACK=1 opens it at 10\.0\.2\.2\)$/m);
        assert.equal((JSON.parse((await ok(["info", "--json"])).stdout) as { network: { hostLoopback: boolean } }).network.hostLoopback, false);
        assert.equal((await ok(["info", "-f", "{{.CgroupVersion}} {{.Architecture}} {{.CgroupDriver}} {{.OperatingSystem}}"])).stdout, "2 i686 cgroupfs tsbox vm guest\n");
        // What the vm backend does not do is a warning line of the CLI's, not Node's "(node:PID) TsboxWarning".
        const hc = await ok(["create", "--name", "no-health", "--health-cmd", "true", "busybox", "true"]);
        assert.match(hc.stderr, /^tsbox: warning: the vm backend runs no health checks yet: --health-cmd is not run/m);
        assert.doesNotMatch(hc.stderr, /\(node:\d+\)/);
        await ok(["rm", "no-health"]);
      });

      it("a killed daemon's restart-policy containers come back with the next guest a command starts (always, unless-stopped not stopped by the user; not no), and a TSBOX_VM_IDLE=0 guest still ends after them", async () => {
        const vmLog = join(who.scratch, ".cache", "tsbox", "vm", "vm.log");
        const names = ["back-always", "back-unless", "back-stopped", "back-no"];
        const policies = ["always", "unless-stopped", "unless-stopped", "no"];
        const daemonPid = async () => Number(/vm: running, pid (\d+)/.exec((await run(["vm", "status"])).stdout)?.[1] ?? NaN);
        const running = async () => (await ok(["ps", "--filter", "status=running", "--format", "{{.Names}}"])).stdout.split("\n").filter(Boolean).sort();
        try {
          for (const [i, name] of names.entries()) await ok(["run", "-d", "--name", name, "--restart", policies[i]!, "busybox", "sleep", "600"]);
          await ok(["stop", "-t", "0", "back-stopped"]);
          const daemon = await daemonPid();
          process.kill(daemon, "SIGKILL");
          await until("the killed daemon has ended", async () => Number.isNaN(await daemonPid()), 60_000, 100);
          assert.deepEqual(await running(), []);
          const logFrom = readFileSync(vmLog).length;
          // A TSBOX_VM_IDLE=0 foreground run has a guest of its own; a detached one starts the daemon's.
          await ok(["run", "-d", "--rm", "busybox", "true"]);
          const said = "tsbox: restarted at the vm's start (restart policy): back-always, back-unless\n";
          await until("the daemon's restart at its start", () => readFileSync(vmLog, "utf8").slice(logFrom).includes(said), 60_000, 100);
          assert.deepEqual(await running(), ["back-always", "back-unless"]);
        } finally {
          await run(["rm", "-f", ...names]);
        }
        // Its idle stay of 0 s: the guest ends with its last container.
        await until("the idle guest's stop", async () => Number.isNaN(await daemonPid()), 60_000, 100);
      });

      it("--sysctl: the guest kernel's limits are said as such (no net.core in a user namespace's network namespace; IPC ones are the guest root's), the rest applied", async () => {
        // Before: "No such file or directory" and "Permission denied", naming no reason.
        const somaxconn = await run(["run", "--rm", "--sysctl", "net.core.somaxconn=77", "busybox", "true"]);
        assert.equal(somaxconn.code, 125);
        assert.match(somaxconn.stderr, /^tsbox: setting sysctl net\.core\.somaxconn=77: this kernel \(Linux 6\.1\.\d+\) shows no net\.core parameters in the network namespace of a container with its own user namespace, so none can be set$/m);
        const shmmax = await run(["run", "--rm", "--sysctl", "kernel.shmmax=12345", "busybox", "true"]);
        assert.equal(shmmax.code, 125);
        assert.match(shmmax.stderr, /^tsbox: setting sysctl kernel\.shmmax=12345: this kernel \(Linux 6\.1\.\d+\) lets only the root of its initial user namespace set IPC parameters, not the root of a container's own user namespace \(a rootless container's\)$/m);
        const applied = await ok(["run", "--rm", "--sysctl", "net.ipv4.ip_unprivileged_port_start=0", "--sysctl", "kernel.domainname=dn", "busybox", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/domainname"]);
        assert.equal(applied.stdout, "0\ndn\n");
      });

      it("cp gives what it copies in to the container's root, running or stopped; the owners the container gave survive stop, start and commit", async () => {
        ownedFile(who, "note.txt", "hello\n");
        try {
          await detached("box", ["busybox", "sleep", "600"], async () => {
            await ok(["cp", "note.txt", "box:/tmp/"]);
            assert.equal((await ok(["exec", "box", "stat", "-c", "%u:%g", "/tmp/note.txt"])).stdout, "0:0\n");
            await ok(["exec", "box", "chown", "1000:1000", "/tmp/note.txt"]);
            await ok(["stop", "-t", "0", "box"]);
            await ok(["cp", "note.txt", "box:/root/"]);
            await ok(["start", "box"]);
            assert.equal((await ok(["exec", "box", "stat", "-c", "%u:%g %n", "/root/note.txt", "/tmp/note.txt"])).stdout, "0:0 /root/note.txt\n1000:1000 /tmp/note.txt\n");
            await ok(["commit", "box", "rootless-commit"]);
            assert.equal((await ok(["run", "--rm", "rootless-commit", "stat", "-c", "%u:%g %n", "/root/note.txt", "/tmp/note.txt"])).stdout, "0:0 /root/note.txt\n1000:1000 /tmp/note.txt\n");
          });
        } finally {
          await run(["rmi", "rootless-commit"]);
        }
      });

      it("cp out keeps the owners the container gave, in the tar stream", async () => {
        await detached("out", ["busybox", "sh", "-c", "mkdir /d && touch /d/f && chown -R 1000:1000 /d && touch /ready && sleep 600"], async () => {
          await until("the container made its files", async () => (await run(["exec", "out", "test", "-e", "/ready"])).code === 0, 30_000, 100);
          const r = await tsbox(who, [], { env, argv: ["bash", "-c", `set -o pipefail; "${process.execPath}" "${cliPath}" cp out:/d - | tar -tv --numeric-owner -f -`] });
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(tarOwners(r.stdout), { "d/": "1000/1000", "d/f": "1000/1000" });
        });
      });

      it("a container whose user is not root works in its bind mounts and volumes, as Docker Desktop's file sharing lets it", async () => {
        const project = ownedDir(who, "project");
        ownedFile(who, "project/package.json", "{}\n");
        const r = await ok(["run", "--rm", "-u", "1000:1000", "-v", `${project}:/app`, "-v", "rootless-vol:/data", "-w", "/app", "busybox", "sh", "-c", "echo built > out.txt && mkdir dist && touch /data/cache && chown 1000 package.json && stat -c '%u:%g %n' . package.json out.txt dist /data/cache"]);
        assert.equal(r.stdout, "1000:1000 .\n1000:1000 package.json\n1000:1000 out.txt\n1000:1000 dist\n1000:1000 /data/cache\n");
        // On the host they are the user's; the container's root sees them as its own, as before.
        const st = statSync(join(project, "out.txt"));
        assert.deepEqual([st.uid, st.gid], [who.uid, who.gid]);
        assert.equal((await ok(["run", "--rm", "-v", `${project}:/app`, "busybox", "stat", "-c", "%u:%g", "/app/out.txt"])).stdout, "0:0\n");
        // Detached: the export goes through the vm daemon.
        await detached("worker", ["-u", "1000:1000", "-v", `${project}:/app`, "busybox", "sleep", "600"], async () => {
          assert.equal((await ok(["exec", "worker", "sh", "-c", "touch /app/from-daemon && stat -c '%u:%g' /app/from-daemon"])).stdout, "1000:1000\n");
        });
        await ok(["volume", "rm", "rootless-vol"]);
      });

      it("the container's root has its DAC override in a bind mount, as natively: it writes a 0444 file, creates and removes in a 0555 directory, and the modes stay as they were", async () => {
        // Before: Permission denied for all three (the server acts as the host user, held to the owner bits).
        const www = ownedDir(who, "dac");
        ownedFile(who, "dac/ro.txt", "ro\n");
        chmodSync(join(www, "ro.txt"), 0o444);
        const rodir = ownedDir(who, "dac/rodir");
        ownedFile(who, "dac/rodir/f", "a\n");
        chmodSync(rodir, 0o555);
        const r = await ok(["run", "--rm", "-v", `${www}:/www`, "busybox", "sh", "-c", "cd /www && echo w >> ro.txt && touch rodir/new && mkdir rodir/sub && rm rodir/f && mv rodir/new rodir/moved && stat -c '%a %n' ro.txt rodir"]);
        assert.equal(r.stdout, "444 ro.txt\n555 rodir\n");
        assert.equal(readFileSync(join(www, "ro.txt"), "utf8"), "ro\nw\n");
        assert.deepEqual(readdirSync(rodir).sort(), ["moved", "sub"]);
        assert.equal(statSync(join(www, "ro.txt")).mode & 0o7777, 0o444);
        assert.equal(statSync(rodir).mode & 0o7777, 0o555);
        // The guest's check still holds: a root without CAP_DAC_OVERRIDE, or another uid, is refused and changes nothing.
        const capless = await run(["run", "--rm", "--cap-drop", "DAC_OVERRIDE", "-v", `${www}:/www`, "busybox", "sh", "-c", "echo x >> /www/ro.txt"]);
        assert.notEqual(capless.code, 0);
        assert.match(capless.stderr, /Permission denied/);
        const other = await run(["run", "--rm", "-u", "1000", "-v", `${www}:/www`, "busybox", "sh", "-c", "touch /www/rodir/nope"]);
        assert.notEqual(other.code, 0);
        assert.equal(readFileSync(join(www, "ro.txt"), "utf8"), "ro\nw\n");
        assert.deepEqual(readdirSync(rodir).sort(), ["moved", "sub"]);
        assert.equal(statSync(join(www, "ro.txt")).mode & 0o7777, 0o444);
        assert.equal(statSync(rodir).mode & 0o7777, 0o555);
        chmodSync(rodir, 0o755); // for the scratch dir's removal
      });

      it("a root entrypoint that chowns its volume and drops to its user (postgres, mysql, redis) finds its files its own, on the next start too", async () => {
        // The official database images' pattern: as root, chown the data dir; then run as the image's user.
        const entrypoint = (then: string) =>
          `echo pg:x:999:999::/:/bin/sh >> /etc/passwd && chown -R 999:999 /data && su pg -s /bin/sh -c '${then}'`;
        const first = await ok(["run", "--rm", "-v", "rootless-db:/data", "busybox", "sh", "-c", entrypoint("mkdir /data/base && echo 16 > /data/base/PG_VERSION && chmod 700 /data/base && stat -c \"%u:%g %n\" /data /data/base /data/base/PG_VERSION")]);
        assert.equal(first.stdout, "999:999 /data\n999:999 /data/base\n999:999 /data/base/PG_VERSION\n");
        const again = await ok(["run", "--rm", "-v", "rootless-db:/data", "busybox", "sh", "-c", entrypoint("cat /data/base/PG_VERSION && stat -c \"%u:%g %a\" /data/base")]);
        assert.equal(again.stdout, "16\n999:999 700\n");
        // The host's files stay the user's.
        const project = ownedDir(who, "db-bind");
        const bind = await ok(["run", "--rm", "-v", `${project}:/data`, "busybox", "sh", "-c", entrypoint("touch /data/pid && stat -c \"%u:%g\" /data/pid")]);
        assert.equal(bind.stdout, "999:999\n");
        assert.equal(statSync(join(project, "pid")).uid, who.uid);
        await ok(["volume", "rm", "rootless-db"]);
      });

      it("a volume's owners the vm kept are given by a later native use, and read alike on both backends", { skip: who.name === "single" && "no subordinate ids: the native backend has one id" }, async () => {
        await ok(["run", "--rm", "-v", "both-backends:/d", "busybox", "sh", "-c", "mkdir /d/x /d/gone && chown 1000:1000 /d/x /d/gone && chmod 700 /d/x"]);
        rmdirSync(join(who.dataDir, "volumes", "both-backends", "_data", "gone")); // changed on the host meanwhile
        const native = await tsbox(who, ["run", "--rm", "-v", "both-backends:/d", "busybox", "stat", "-c", "%u:%g %a", "/d/x"], { env: { TSBOX_BACKEND: "native" } });
        assert.equal(native.stdout, "1000:1000 700\n", native.stderr);
        assert.equal((await ok(["run", "--rm", "-v", "both-backends:/d", "busybox", "stat", "-c", "%u:%g %a", "/d/x"])).stdout, "1000:1000 700\n");
        await ok(["volume", "rm", "both-backends"]);
      });

      it("a volume filled from the image keeps its owners, so the image's USER can write in its VOLUME", async () => {
        const ctx = ownedDir(who, "uservol-build");
        ownedFile(who, "uservol-build/Dockerfile", "FROM busybox\nRUN mkdir -p /home/app/data/cache && chown -R 1000:1000 /home/app/data && chmod 700 /home/app/data/cache\nVOLUME /home/app/data\nUSER 1000\n");
        await built("uservol", ctx, async () => {
          const r = await ok(["run", "--rm", "uservol", "sh", "-c", "stat -c '%u:%g %a %n' /home/app/data/cache && touch /home/app/data/cache/new && echo wrote"]);
          assert.equal(r.stdout, "1000:1000 700 /home/app/data/cache\nwrote\n");
        });
      });

      it("build: RUN chown and COPY --chown give the image's user its files, and it can write there", async () => {
        const ctx = ownedDir(who, "rootless-build");
        ownedFile(who, "rootless-build/note.txt", "hello\n");
        ownedFile(
          who,
          "rootless-build/Dockerfile",
          [
            "FROM busybox",
            "RUN echo app:x:1000:1000::/home/app:/bin/sh >> /etc/passwd && mkdir -p /home/app && chown 1000:1000 /home/app && chmod 700 /home/app",
            "COPY --chown=1000:1000 note.txt /home/app/",
            "USER app",
            "WORKDIR /home/app",
            "",
          ].join("\n"),
        );
        await built("rootless-build", ctx, async () => {
          const r = await ok(["run", "--rm", "rootless-build", "sh", "-c", "id -u; stat -c '%u:%g %a %n' . note.txt; echo more >> note.txt && touch new && echo wrote"]);
          assert.equal(r.stdout, "1000\n1000:1000 700 .\n1000:1000 644 note.txt\nwrote\n");
        });
      });
    });
  }
});
