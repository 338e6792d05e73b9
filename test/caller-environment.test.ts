/**
 * What tsbox says about a locked-down caller (a CI runner's container, `unshare -U`, no_new_privs) must match what
 * works there: `info`'s backend line agrees with its probe and names the cause, the automatic choice does not pick a
 * backend that cannot start, and a forced native run's error says what to change. Each caller is made for real: a
 * tsbox container (its seccomp filter) running this checkout through a bind of /, `unshare -U`, `setpriv --no-new-privs`.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { tsbox, cliPath } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";
import { HostFiles } from "./helpers/host-files.js";
import { chooseBackend, nativeUnavailable, type NativeUnavailable } from "../src/backends/select.js";
import { nativePackageName } from "../src/parts.js";

const isRoot = process.getuid!() === 0;

after(cleanupIdentities);

const SECCOMP_HINT = /a seccomp filter on this process refuses user namespaces \(tsbox inside docker, podman or tsbox\?\): run that container with --security-opt seccomp=unconfined or --privileged/;
const UNMAPPED_HINT = /this process's uid or gid is not mapped in its own user namespace \(started with unshare -U and no map\?\)/;

it("the automatic backend warns when it falls back to the vm for want of this host's native package; a choice of vm and a host without one do not", () => {
  const missing: NativeUnavailable = { reason: "@tsbox/linux-x64-gnu is not installed (npm installs it only on its platform, and not with --omit=optional): install it with npm install @tsbox/linux-x64-gnu (or its .tgz from npm run pack)", missingPackage: "@tsbox/linux-x64-gnu" };
  const auto = chooseBackend(undefined, {}, () => missing);
  assert.equal(auto.name, "vm");
  assert.equal(auto.reason, `automatic: ${missing.reason}`);
  assert.match(auto.warning ?? "", /^the native backend is unavailable: @tsbox\/linux-x64-gnu is not installed .*npm install @tsbox\/linux-x64-gnu \(or its \.tgz from npm run pack\); containers run on the vm backend instead, which is emulated \(i686\) and much slower/);
  assert.equal(chooseBackend("auto", { TSBOX_BACKEND: "auto" }, () => missing).warning, auto.warning);
  // Asked for: silent, and the host is not even looked at.
  const never = () => assert.fail("an explicit backend asks nothing of the host");
  for (const [requested, env] of [["vm", {}], [undefined, { TSBOX_BACKEND: "vm" }]] as const) {
    const chosen = chooseBackend(requested, env, never);
    assert.deepEqual([chosen.name, chosen.warning], ["vm", undefined]);
    assert.match(chosen.reason, /^chosen with /);
  }
  // macOS and Windows (no native package is built for them), a checkout's missing build and a host that refuses
  // user namespaces fall back without a word: nothing to install would change it.
  for (const reason of ["the native backend needs Linux (this is darwin)", "tsbox-runtime or the addon is not built (npm run build:native)", "user namespaces are disabled"]) {
    assert.deepEqual(chooseBackend(undefined, {}, () => ({ reason })), { name: "vm", reason: `automatic: ${reason}` });
  }
  assert.equal(chooseBackend(undefined, {}, () => undefined).name, "native");
  for (const [platform, arch] of [["darwin", "arm64"], ["darwin", "x64"], ["win32", "x64"], ["linux", "ia32"]]) assert.equal(nativePackageName(platform, arch), undefined);
  assert.equal(nativePackageName("linux", "x64"), "@tsbox/linux-x64-gnu");
  // This host's own facts: a checkout (this one) or a host without a package names none to install.
  const here = nativeUnavailable();
  if (here) assert.equal(here.missingPackage, undefined, here.reason);
});

for (const who of identities()) {
  describe(`a locked-down caller, tsbox run as ${who.name}`, () => {
    let snap: Snapshot;
    let inner: string;
    beforeEach(() => {
      snap = snapshot();
      // The inner tsbox's home and data dir: its uid is a container's (or the caller's, unmapped).
      inner = mkdtempSync(join(tmpdir(), "caller-env-"));
      chmodSync(inner, 0o1777);
    });
    afterEach(() => {
      rmSync(inner, { recursive: true, force: true });
      assertNoLeaks(snap, [who]);
    });

    /**
     * `args` of this checkout's CLI, run inside a tsbox container as `uid`, on the host's files (read-only but the
     * inner tsbox's own dir). chroot keeps the container's seccomp filter (docker's profile); `pivot` instead makes
     * the host's tree the container's root with the container's own /proc (its /proc/sys read-only, as docker's):
     * the kernel refuses a user namespace to a chrooted process, not to a pivoted one, but pivot_root needs
     * CAP_SYS_ADMIN, with which the filter allows user namespaces.
     */
    const nested = (uid: number, args: string[], { outer = [] as string[], pivot = false } = {}) => {
      const env = ["PATH=/usr/bin:/bin", `HOME=${inner}`, `TMPDIR=${inner}`, `TSBOX_DATA_DIR=${inner}/data-${uid}`, "TSBOX_NETWORK=none"];
      const cmd = ["/usr/bin/env", "-i", ...env, process.execPath, cliPath, ...args];
      // Entering the host's tree needs root of the container: a uid other than 0 is taken after it.
      const as = uid === 0 ? cmd : ["/usr/bin/setpriv", `--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", ...cmd];
      const enter = pivot
        ? ["sh", "-c", 'mount --rbind /proc /host/proc && mount --rbind /dev /host/dev && cd /host && pivot_root . mnt && exec "$@"', "sh", ...as]
        : ["chroot", "/host", ...as];
      const volumes = ["-v", "/:/host:ro", "-v", `${inner}:/host${inner}`];
      return tsbox(who, ["run", "--rm", ...outer, ...(pivot ? ["--cap-add", "SYS_ADMIN", "--security-opt", "seccomp=unconfined"] : []), ...volumes, "busybox", ...enter], { timeoutMs: 60_000 });
    };

    it("inside a container whose seccomp filter refuses user namespaces: info names the filter, auto picks vm, a native run says what to change", async () => {
      // A single-id caller's container has only its root; the others run the inner tsbox as a plain user, as a CI job does.
      const uid = who.name === "single" ? 0 : 1000;
      const info = await nested(uid, ["info", "--json"]);
      assert.equal(info.code, 0, info.stderr);
      const shown = JSON.parse(info.stdout) as { backend: string; backendReason: string; probe: { userns: boolean; usernsError: string } };
      assert.equal(shown.probe.userns, false);
      assert.match(shown.probe.usernsError, SECCOMP_HINT);
      assert.equal(shown.backend, "vm");
      assert.match(shown.backendReason, new RegExp(`^automatic: creating a user namespace fails here: clone: Operation not permitted \\(${SECCOMP_HINT.source}`));
      assert.doesNotMatch(info.stdout, /Linux user namespaces work here|are unprivileged user namespaces enabled/);
      if (uid === 0) return; // (root inside a container is another story: its data dir's trusted.* xattrs are refused)
      const run = await nested(uid, ["run", "--rm", "--backend", "native", "busybox", "true"]);
      assert.equal(run.code, 125, run.stderr);
      assert.match(run.stderr, new RegExp(`^tsbox: creating a user namespace \\(${SECCOMP_HINT.source}.*\\): Operation not permitted$`, "m"));
      assert.doesNotMatch(run.stderr, /are unprivileged user namespaces enabled/);
    });

    it("inside a container with a read-only /proc/sys: docker's default sysctls are left out with one warning, a --sysctl of the user's fails naming the fix", { skip: who.name === "single" && "a single-id caller's container has only its root, whose tsbox is another story" }, async () => {
      const readOnly = /^tsbox: warning: \/proc\/sys is read-only here \(tsbox inside a container\?\): containers keep the kernel's net\.ipv4\.ip_unprivileged_port_start .*--security-opt systempaths=unconfined or --privileged/m;
      const show = ["run", "--rm", "busybox", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"];
      const kept = await nested(1000, show, { pivot: true });
      assert.equal(kept.code, 0, kept.stderr);
      assert.equal(kept.stdout, `${readFileSync("/proc/sys/net/ipv4/ip_unprivileged_port_start", "utf8").trim()}\n`);
      assert.equal(kept.stderr.match(new RegExp(readOnly.source, "gm"))?.length, 1, kept.stderr);
      const own = await nested(1000, ["run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "busybox", "true"], { pivot: true });
      assert.equal(own.code, 125);
      assert.match(own.stderr, /^tsbox: setting sysctl net\.ipv4\.ip_forward=1: \/proc\/sys is read-only here \(tsbox inside a container\?\): run that container with --security-opt systempaths=unconfined or --privileged$/m);
      // With a writable /proc/sys, docker's default is there again, without the warning.
      const open = await nested(1000, show, { pivot: true, outer: ["--security-opt", "systempaths=unconfined"] });
      assert.deepEqual([open.code, open.stdout, open.stderr], [0, "0\n", ""]);
    });

    it("in a user namespace that maps no ids (unshare -U): info and auto agree on the cause, a native run names it before any cgroup", { skip: who.name === "root" && "root's unshare -U is the same unmapped caller: the unprivileged identities cover it" }, async () => {
      const env = { HOME: inner, TMPDIR: inner, TSBOX_DATA_DIR: `${inner}/data` };
      const info = await tsbox(who, [], { argv: ["unshare", "-U", process.execPath, cliPath, "info", "--json"], env });
      assert.equal(info.code, 0, info.stderr);
      const shown = JSON.parse(info.stdout) as { backend: string; backendReason: string; probe: { userns: boolean; usernsError: string } };
      assert.deepEqual([shown.backend, shown.probe.userns], ["vm", false]);
      assert.match(shown.probe.usernsError, UNMAPPED_HINT);
      assert.match(shown.backendReason, UNMAPPED_HINT);
      const run = await tsbox(who, [], { argv: ["unshare", "-U", process.execPath, cliPath, "run", "--rm", "--backend", "native", "busybox", "true"], env });
      assert.equal(run.code, 125, run.stderr);
      assert.match(run.stderr, new RegExp(`^tsbox: creating a user namespace \\(${UNMAPPED_HINT.source}.*\\): Operation not permitted$`, "m"));
      assert.doesNotMatch(run.stderr, /cgroup|Permission denied/);
    });

    it("no rootless networking (an unusable /dev/net/tun): -p fails naming what is missing instead of a dead port; without -p, none with a warning", { skip: (!isRoot || who.name === "root") && "a rootless user's /dev/net/tun, changed as root" }, async () => {
      const host = await HostFiles.create({ "/dev/net/tun": { text: "" } });
      try {
        const env = { TSBOX_NETWORK: "bridge" };
        const tun = /\/dev\/net\/tun is not readable and writable by this user/.source;
        for (const flag of [["-p", "127.0.0.1:18081:80"], ["-P", "--expose", "80"]]) {
          const r = await tsbox(who, ["run", "--rm", ...flag, "busybox", "true"], { env, mountns: host.ns });
          assert.equal(r.code, 125, r.stderr);
          assert.match(r.stderr, new RegExp(`^tsbox: ${flag[0]}: publishing a port needs rootless bridge networking, which is unavailable: ${tun}`));
        }
        const plain = await tsbox(who, ["run", "--rm", "busybox", "true"], { env, mountns: host.ns });
        assert.equal(plain.code, 0, plain.stderr);
        assert.match(plain.stderr, new RegExp(`^tsbox: warning: rootless bridge networking is unavailable \\(${tun}.*\\): running with --network none$`, "m"));
        // --network none chosen by the user: docker's warning, as before.
        const none = await tsbox(who, ["run", "--rm", "--network", "none", "-p", "18081:80", "busybox", "true"], { env, mountns: host.ns });
        assert.deepEqual([none.code, none.stderr], [0, "tsbox: warning: published ports are discarded with --network none\n"]);
      } finally {
        host.close();
      }
    });

    it("with no_new_privs (setpriv --no-new-privs): the setuid newuidmap cannot work, so one id is mapped, with a warning; -u names the cause", { skip: who.name !== "user" && "only a rootless user with a range maps it through newuidmap" }, async () => {
      const nnp = (args: string[]) => tsbox(who, [], { argv: ["setpriv", "--no-new-privs", process.execPath, cliPath, ...args] });
      const warning = /^tsbox: warning: your \/etc\/subuid range is not used: no_new_privs is set on this process .*newuidmap and newgidmap cannot work.*; containers have only uid 0 \(-u with another id fails\)$/m;
      const run = await nnp(["run", "--rm", "busybox", "id", "-u"]);
      assert.deepEqual([run.code, run.stdout], [0, "0\n"], run.stderr);
      assert.match(run.stderr, warning);
      const other = await nnp(["run", "--rm", "-u", "1000", "busybox", "true"]);
      assert.equal(other.code, 125);
      assert.match(other.stderr, /^tsbox: uid 1000 is not mapped in the user namespace \(rootless, only root is mapped: your \/etc\/subuid range is not used, as no_new_privs is set/m);
      assert.doesNotMatch(other.stderr, /add one|usermod/);
      const info = await nnp(["info"]);
      assert.match(info.stdout, /^id mapping: +single id \(\/etc\/subuid gives \d+\+\d+, but no_new_privs is set\)$/m);
      assert.match(info.stderr, warning);
    });
  });
}
