/**
 * What the container may do: capabilities bounded to the OCI default set
 * (none effective for a non-root user), no_new_privs, rlimits, masked and
 * read-only paths, a minimal /dev, and its own cgroup namespace; plus `-t`,
 * a real terminal through the CLI. As root and as unprivileged users.
 */
import { describe, it, beforeEach, afterEach, after } from "node:test";
import assert from "node:assert/strict";
import { identities, cleanupIdentities } from "./helpers/identities.js";
import { tsbox, cliPath } from "./helpers/cli.js";
import { snapshot, assertNoLeaks, type Snapshot } from "./helpers/leaks.js";

after(cleanupIdentities);

/** The OCI default set: CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP. */
const OCI_DEFAULT_CAPS = "00000000a80425fb";

function statusField(status: string, field: string): string {
  return new RegExp(`^${field}:\\s+(\\S+)`, "m").exec(status)?.[1] ?? "";
}

for (const who of identities()) {
  describe(`hardening as ${who.name}`, () => {
    let snap: Snapshot;
    beforeEach(() => (snap = snapshot()));
    afterEach(() => assertNoLeaks(snap, [who]));

    it("bounds capabilities to the OCI default set and sets no_new_privs", async () => {
      const root = await tsbox(who, ["run", "--rm", "busybox", "cat", "/proc/self/status"]);
      assert.equal(root.code, 0, root.stderr);
      assert.equal(statusField(root.stdout, "CapBnd"), OCI_DEFAULT_CAPS);
      assert.equal(statusField(root.stdout, "CapEff"), OCI_DEFAULT_CAPS);
      assert.equal(statusField(root.stdout, "CapAmb"), "0000000000000000");
      assert.equal(statusField(root.stdout, "NoNewPrivs"), "1");
      if (who.name !== "single") {
        const user = await tsbox(who, ["run", "--rm", "-u", "1000", "busybox", "cat", "/proc/self/status"]);
        assert.equal(user.code, 0, user.stderr);
        assert.equal(statusField(user.stdout, "CapEff"), "0000000000000000", "a non-root user has no effective capabilities");
        assert.equal(statusField(user.stdout, "CapBnd"), OCI_DEFAULT_CAPS);
      }
    });

    it("applies the default RLIMIT_NOFILE", async () => {
      const r = await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", "ulimit -n"]);
      assert.equal(r.stdout.trim(), "1024", r.stderr);
    });

    it("masks and write-protects the kernel's knobs", async () => {
      const r = await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", [
        "wc -c < /proc/timer_list",          // masked by /dev/null
        "wc -c < /proc/interrupts",          // docker 28's: the host's interrupt counters are a side channel
        "ls /proc/acpi | wc -l",             // masked by an empty tmpfs
        "echo x 2>/dev/null > /proc/sys/kernel/hostname || echo sys-ro",
        "touch /sys/x 2>/dev/null || echo sysfs-ro",
        "echo ok > /dev/null && echo devnull-ok",
      ].join("; ")]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split("\n").map((l) => l.trim()), ["0", "0", "0", "sys-ro", "sysfs-ro", "devnull-ok"]);
    });

    it("has a minimal /dev and its own cgroup namespace", async () => {
      const r = await tsbox(who, ["run", "--rm", "busybox", "sh", "-c", "ls /dev; echo ---; cat /proc/self/cgroup"]);
      assert.equal(r.code, 0, r.stderr);
      const [dev, cgroup] = r.stdout.split("---\n");
      const entries = dev!.trim().split("\n");
      for (const node of ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "ptmx", "fd"]) {
        assert.ok(entries.includes(node), `/dev/${node} exists`);
      }
      assert.ok(!entries.some((e) => /^(sd|vd|nvme|loop|mem|kmsg)/.test(e)), `no host devices: ${entries.join(" ")}`);
      for (const line of cgroup!.trim().split("\n")) assert.match(line, /:\/$/, "cgroup paths are namespaced to /");
    });

    it("gives -t a real terminal with the host's window size", async () => {
      // script(1) provides the CLI with a terminal of a known size.
      const inner = `stty cols 91 rows 27; ${process.execPath} ${cliPath} run --rm -t busybox sh -c 'tty; stty size; exit 4'`;
      const r = await tsbox(who, [], { argv: ["script", "-qec", inner, "/dev/null"] });
      assert.equal(r.code, 4, r.stdout + r.stderr);
      // Without -i the host terminal stays cooked, so its own onlcr adds a second \r (as with docker).
      assert.match(r.stdout, /\/dev\/console\r*\n27 91\r*\n/);
      // With -i the host terminal is raw, output processing off too (docker's): the pty's \r\n arrives as it is.
      const raw = await tsbox(who, [], { argv: ["script", "-qec", inner.replace("run --rm -t", "run --rm -it"), "/dev/null"] });
      assert.equal(raw.code, 4, raw.stdout + raw.stderr);
      // (script(1) turns its stdin's end into a NUL the container's pty may echo as ^@.)
      assert.match(raw.stdout, /\/dev\/console\r\n(\^@)?27 91\r\n/);
      assert.doesNotMatch(raw.stdout, /\r\r\n/);
    });
  });
}
