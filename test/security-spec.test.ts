/**
 * The security part of the spec, without containers (fast tier): docker's
 * capability arithmetic, docker's seccomp profile translated for a
 * container's capabilities and kernel, the --security-opt, --privileged and --device forms, the
 * working-directory rule, and the name tables TS and Rust must agree on.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ALL_CAPABILITIES, tweakCapabilities } from "../src/spec/capabilities.js";
import { DEFAULT_CAPABILITIES } from "../src/spec/defaults.js";
import { DEFAULT_SECCOMP_PROFILE } from "../src/spec/seccomp/default-profile.js";
import { checkDockerProfile, compareVersions, toOciSeccomp } from "../src/spec/seccomp/docker-profile.js";
import { goArch, rootIsHostRoot, securitySettings, withholdsMounts } from "../src/spec/security.js";
import { securityOptions } from "../src/cli/run-flags.js";
import { parseDeviceFlag, privilegedDevices, requestedDevices } from "../src/containers/devices.js";
import { validateSpec } from "../src/spec/validate.js";
import { sysctlBlockers } from "../src/backends/native/sysctl-blockers.js";
import type { ContainerSpec, LinuxSeccomp } from "../src/spec/container-spec.js";

const repo = (p: string) => readFileSync(fileURLToPath(new URL(`../${p}`, import.meta.url)), "utf8");
const amd64 = { arch: "amd64", kernel: "6.1.0-18-amd64" };

/** The least spec validateSpec takes. */
function minimalSpec(cwd: string, seccomp?: LinuxSeccomp): ContainerSpec {
  return {
    ociVersion: "1.0.2",
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ["true"], env: [], cwd, noNewPrivileges: true },
    root: { path: "/r", readonly: false },
    mounts: [],
    linux: { namespaces: [{ type: "mount" }], uidMappings: [], gidMappings: [], maskedPaths: [], readonlyPaths: [], ...(seccomp ? { seccomp } : {}) },
  };
}

/** Every name the OCI seccomp object allows unconditionally. */
function allowed(caps: string[], target = amd64): Set<string> {
  const oci = toOciSeccomp(DEFAULT_SECCOMP_PROFILE, { ...target, caps });
  return new Set(oci.syscalls!.filter((s) => s.action === "SCMP_ACT_ALLOW" && !s.args).flatMap((s) => s.names));
}

describe("capabilities", () => {
  it("follows docker's --cap-add/--cap-drop rules", () => {
    assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES), ALL_CAPABILITIES.filter((c) => DEFAULT_CAPABILITIES.includes(c)));
    assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, [], ["ALL"]), []);
    assert.deepEqual(tweakCapabilities(DEFAULT_CAPABILITIES, ["kill", "NET_ADMIN"], ["all"]), ["CAP_KILL", "CAP_NET_ADMIN"]);
    assert.equal(tweakCapabilities(DEFAULT_CAPABILITIES, ["ALL"], ["SYS_ADMIN"]).length, ALL_CAPABILITIES.length - 1);
    const tweaked = tweakCapabilities(DEFAULT_CAPABILITIES, ["CAP_SYS_PTRACE"], ["chown", "sys_ptrace"]);
    assert.ok(tweaked.includes("CAP_SYS_PTRACE"), "an add wins over a drop");
    assert.ok(!tweaked.includes("CAP_CHOWN"));
    assert.throws(() => tweakCapabilities(DEFAULT_CAPABILITIES, ["CAP_NOPE"]), /unknown capability: "CAP_NOPE"/);
  });

  it("names the same capabilities as the runtime, in the kernel's order (the contract fixture both sides read)", () => {
    assert.deepEqual(JSON.parse(repo("test/fixtures/contract/capabilities.json")), [...ALL_CAPABILITIES]);
  });
});

describe("seccomp profiles", () => {
  it("translates docker's default profile for the container's capabilities", () => {
    const plain = allowed([...DEFAULT_CAPABILITIES]);
    for (const name of ["read", "execve", "socketpair"]) assert.ok(plain.has(name), name);
    for (const name of ["keyctl", "add_key", "request_key", "mount", "unshare", "setns", "bpf", "reboot", "init_module"]) {
      assert.ok(!plain.has(name), `${name} is not allowed by default`);
    }
    assert.ok(plain.has("chroot"), "CAP_SYS_CHROOT is a default capability");
    assert.ok(plain.has("ptrace"), "ptrace from kernel 4.8 on");
    assert.ok(!allowed([...DEFAULT_CAPABILITIES], { arch: "amd64", kernel: "4.4.0" }).has("ptrace"));
    const admin = allowed([...DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"]);
    for (const name of ["mount", "unshare", "setns", "clone", "clone3"]) assert.ok(admin.has(name), `${name} with CAP_SYS_ADMIN`);
    // Without CAP_SYS_ADMIN: clone only without namespace flags, clone3 ENOSYS.
    const oci = toOciSeccomp(DEFAULT_SECCOMP_PROFILE, { ...amd64, caps: [...DEFAULT_CAPABILITIES] });
    assert.deepEqual(
      oci.syscalls!.find((s) => s.names.includes("clone")),
      { names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 0x7e020000, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] },
    );
    assert.deepEqual(oci.syscalls!.find((s) => s.names.includes("clone3")), { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 });
    assert.deepEqual(oci.architectures, ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]);
    assert.equal(oci.syscalls!.filter((s) => s.names.includes("personality")).length, 5);
    assert.ok(allowed([...DEFAULT_CAPABILITIES], { arch: "386", kernel: "6.1" }).has("modify_ldt"));
    assert.ok(!allowed([...DEFAULT_CAPABILITIES], { arch: "386", kernel: "6.1" }).has("arch_prctl"));
  });

  it("gives an arm64 host docker's arm64 architectures, which spec validation accepts", () => {
    const arm64 = { arch: goArch("arm64"), kernel: "6.1.0-18-arm64" };
    const oci = securitySettings({}, arm64).seccomp!;
    // The runtime filters aarch64 and, with no arm32 table, kills arm32 processes.
    assert.deepEqual(oci.architectures, ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]);
    const plain = allowed([...DEFAULT_CAPABILITIES], arm64);
    for (const name of ["read", "openat", "execve"]) assert.ok(plain.has(name), name);
    for (const name of ["arch_prctl", "modify_ldt"]) assert.ok(!plain.has(name), `${name} is x86 only`);
    assert.ok(!plain.has("keyctl"));
    validateSpec(minimalSpec("/", oci));
  });

  it("names only system calls the runtime's tables know (recv and send exist on other architectures)", () => {
    const known = new Set([...repo("native-rs/container/src/seccomp/syscalls.rs").matchAll(/\("([a-z0-9_]+)", \d+\)/g)].map((m) => m[1]));
    const names = DEFAULT_SECCOMP_PROFILE.syscalls!.flatMap((s) => s.names ?? []);
    assert.deepEqual([...new Set(names.filter((n) => !known.has(n)))], ["recv", "send"]);
  });

  it("checks a user's profile and names what is wrong", () => {
    const bad = (value: unknown) => () => checkDockerProfile(value, "p.json");
    assert.throws(bad([]), /invalid seccomp profile p\.json: the profile: must be a JSON object/);
    assert.throws(bad({ defaultAction: "SCMP_ACT_NOTIFY" }), /defaultAction: SCMP_ACT_NOTIFY needs a listener/);
    assert.throws(bad({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ action: "SCMP_ACT_ALLOW" }] }), /syscalls\[0\]: names no syscall/);
    assert.throws(bad({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["x"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: 2 ** 60, op: "SCMP_CMP_EQ" }] }] }), /args\[0\]\.value/);
    // The old single-name form and architectures list still work.
    const old = checkDockerProfile({ defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"], syscalls: [{ name: "read", action: "SCMP_ACT_ALLOW", args: null }] }, "old.json");
    assert.deepEqual(toOciSeccomp(old, { ...amd64, caps: [] }), {
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: [{ names: ["read"], action: "SCMP_ACT_ALLOW" }],
    });
    assert.ok(compareVersions("6.18.44-fc", "4.8") > 0 && compareVersions("4.8", "4.8") === 0 && compareVersions("4.4.0", "4.8") < 0);
  });
});

describe("security options", () => {
  it("reads docker's --security-opt forms", () => {
    assert.deepEqual(securityOptions(["seccomp=unconfined", "no-new-privileges"]), { seccomp: "unconfined", noNewPrivileges: true });
    assert.deepEqual(securityOptions(["seccomp:unconfined", "no-new-privileges:false"]), { seccomp: "unconfined", noNewPrivileges: false });
    // What tsbox does anyway (no AppArmor profile, no SELinux label) is taken; a profile or label it cannot apply is not.
    assert.deepEqual(securityOptions(["apparmor=unconfined", "label=disable"]), {});
    assert.throws(() => securityOptions(["apparmor=docker-default"]), /invalid --security-opt apparmor=docker-default/);
    assert.throws(() => securityOptions(["no-new-privileges=maybe"]), /takes true or false/);
    assert.throws(() => securityOptions(["seccomp=/no/such/profile.json"]), /cannot read seccomp profile \/no\/such\/profile\.json: no such file or directory/);
  });

  it("gives every container docker's filter and no_new_privs unless told otherwise", () => {
    const d = securitySettings({}, amd64);
    assert.equal(d.noNewPrivileges, true);
    assert.equal(d.seccomp?.defaultAction, "SCMP_ACT_ERRNO");
    assert.deepEqual(d.capabilities.bounding, d.capabilities.effective);
    assert.equal(securitySettings({ seccomp: "unconfined" }, amd64).seccomp, undefined);
    assert.equal(securitySettings({ noNewPrivileges: false }, amd64).noNewPrivileges, false);
    assert.throws(() => securitySettings({ seccomp: "strict" as "default" }, amd64), /expected "default", "unconfined" or a profile/);
  });

  it("withholds mount and its kin from CAP_SYS_ADMIN where the container's root is the host's", () => {
    const named = (seccomp: LinuxSeccomp | undefined) => new Set(seccomp!.syscalls!.filter((s) => s.action === "SCMP_ACT_ALLOW").flatMap((s) => s.names));
    const mounts = ["mount", "umount2", "fsopen", "fsmount", "move_mount", "open_tree", "mount_setattr"];
    const hostRoot = named(securitySettings({ capAdd: ["SYS_ADMIN"] }, amd64, true).seccomp);
    for (const name of mounts) assert.ok(!hostRoot.has(name), `${name}: the container's umount /proc/sys reached the host's core_pattern`);
    for (const name of ["unshare", "setns", "sethostname"]) assert.ok(hostRoot.has(name), `${name} stays with CAP_SYS_ADMIN`);
    const nobody = named(securitySettings({ capAdd: ["SYS_ADMIN"] }, amd64, false).seccomp);
    for (const name of mounts) assert.ok(nobody.has(name), `${name}: a root that is nobody on the host has docker's profile`);
    // --privileged (no filter) and a profile of the caller's own are theirs to keep.
    assert.equal(securitySettings({ privileged: true }, amd64, true).seccomp, undefined);
    assert.equal(withholdsMounts({ capAdd: ["SYS_ADMIN"], seccomp: { defaultAction: "SCMP_ACT_ALLOW" } }, true), false);
    assert.equal(withholdsMounts({ capAdd: ["ALL"] }, true), true);
    assert.equal(withholdsMounts({ capAdd: ["ALL"], capDrop: ["SYS_ADMIN"] }, true), false);
    assert.equal(withholdsMounts({}, true), false, "without CAP_SYS_ADMIN the profile has no mount anyway: nothing to say");
    // Root's identity maps, or none, are the host's root; a rootless user's and --userns=auto's are not.
    const identity = [{ containerID: 0, hostID: 0, size: 4294967295 }];
    assert.deepEqual(
      [rootIsHostRoot(identity, false), rootIsHostRoot([], false), rootIsHostRoot(identity, true), rootIsHostRoot([{ containerID: 0, hostID: 1000, size: 1 }], false)],
      [true, true, false, false],
    );
  });

  it("lifts capabilities, filter and masking for --privileged, and masking alone for systempaths=unconfined", () => {
    const d = securitySettings({}, amd64);
    assert.ok(d.maskedPaths.includes("/proc/kcore") && d.maskedPaths.includes("/proc/interrupts") && d.readonlyPaths.includes("/proc/sys"));
    // Each CPU's thermal_throttle, as the host has them (docker 28), and none where the paths are unconfined.
    const throttle = ["/sys/devices/system/cpu/cpu0/thermal_throttle"];
    assert.deepEqual(securitySettings({}, { ...amd64, cpuMaskedPaths: throttle }).maskedPaths.slice(-1), throttle);
    assert.deepEqual(securitySettings({ systemPaths: "unconfined" }, { ...amd64, cpuMaskedPaths: throttle }).maskedPaths, []);
    const p = securitySettings({ privileged: true, seccomp: "default" }, amd64);
    assert.deepEqual(p.capabilities.bounding, ALL_CAPABILITIES);
    assert.equal(p.seccomp, undefined, "docker's --privileged has no filter, whatever the profile");
    assert.deepEqual([p.maskedPaths, p.readonlyPaths], [[], []]);
    assert.equal(p.noNewPrivileges, true, "no_new_privs stays what was asked");
    // A --cap-drop still drops (podman's rule; docker takes it too).
    assert.ok(!securitySettings({ privileged: true, capDrop: ["SYS_ADMIN"] }, amd64).capabilities.bounding.includes("CAP_SYS_ADMIN"));
    const s = securitySettings({ systemPaths: "unconfined" }, amd64);
    assert.deepEqual([s.maskedPaths, s.readonlyPaths, s.capabilities.bounding], [[], [], d.capabilities.bounding]);
    assert.ok(s.seccomp);
    assert.deepEqual(securityOptions(["systempaths=unconfined"]), { systemPaths: "unconfined" });
    assert.throws(() => securityOptions(["systempaths=all"]), /invalid --security-opt systempaths=all/);
    assert.throws(() => securitySettings({ privileged: "yes" as unknown as boolean }, amd64), /privileged must be true or false/);
  });

  it("reads docker's --device forms and refuses what it cannot give", () => {
    assert.deepEqual(parseDeviceFlag("/dev/fuse"), { path: "/dev/fuse" });
    assert.deepEqual(parseDeviceFlag("/dev/sdc:/dev/xvdc"), { path: "/dev/sdc", containerPath: "/dev/xvdc" });
    assert.deepEqual(parseDeviceFlag("/dev/sdc:rw"), { path: "/dev/sdc", permissions: "rw" });
    assert.deepEqual(parseDeviceFlag("/dev/sdc:/dev/xvdc:rwm"), { path: "/dev/sdc", containerPath: "/dev/xvdc", permissions: "rwm" });
    assert.throws(() => parseDeviceFlag("/dev/a:/b:rw:x"), /expected HOST\[:CONTAINER\[:PERMISSIONS\]\]/);
    assert.throws(() => parseDeviceFlag("/dev/a::rw"), /expected HOST/);
    const [zero] = requestedDevices([{ path: "/dev/zero", containerPath: "/dev/z/./zero" }]);
    assert.deepEqual(zero, { source: "/dev/zero", target: "/dev/z/zero", inspect: { PathOnHost: "/dev/zero", PathInContainer: "/dev/z/zero", CgroupPermissions: "rwm" } });
    assert.throws(() => requestedDevices([{ path: "/dev/zero", permissions: "r" }]), /gives a device read and write access/);
    assert.throws(() => requestedDevices([{ path: "/dev/zero", permissions: "rwx" }]), /permissions are r, w and m/);
    assert.throws(() => requestedDevices([{ path: "/etc/hostname" }]), /\/etc\/hostname is not a device node/);
    assert.throws(() => requestedDevices([{ path: "/dev/no-such-node" }]), /\/dev\/no-such-node does not exist/);
    assert.throws(() => requestedDevices([{ path: "dev/zero" }]), /host path must be absolute/);
    assert.throws(() => requestedDevices([{ path: "/dev/zero", containerPath: "zero" }]), /container path must be absolute/);
    // A directory gives every node under it; --privileged the host's /dev but what every container has.
    const all = privilegedDevices().map((d) => d.target);
    assert.ok(!all.includes("/dev/null") && !all.some((t) => t.startsWith("/dev/pts/")), all.join(" "));
    assert.ok(all.every((t) => t.startsWith("/dev/")));
  });

  it("refuses a working directory that is a /proc magic link", () => {
    const spec = (cwd: string) => minimalSpec(cwd);
    for (const cwd of ["/proc/self/fd/3", "/proc/1/cwd", "/proc/thread-self/root/etc", "/proc//self/fd", "/proc/12/task/13/fd/0"]) {
      assert.throws(() => validateSpec(spec(cwd)), /process\.cwd: the working directory .* is a link to an open file under \/proc/, cwd);
    }
    for (const cwd of ["/proc", "/proc/sys", "/srv/fd/3", "/proc/self-made"]) validateSpec(spec(cwd));
  });

  it("refuses a string that holds bytes that are not UTF-8, naming its field (the runtime's JSON said \"lone surrogate\" at a column)", () => {
    const raw = "a\udcffb"; // `a\xffb`, as src/name-bytes.ts holds a name that is not UTF-8
    const cases: [(s: ContainerSpec) => void, RegExp][] = [
      [(s) => (s.process.args = ["printf", raw]), /process\.args\[1\]: holds bytes that are not UTF-8 \(a\\xffb\)/],
      [(s) => (s.process.env = ["A=1", `V=${raw}`]), /process\.env\[1\]: holds bytes that are not UTF-8 \(V=a\\xffb\)/],
      [(s) => (s.process.cwd = `/${raw}`), /process\.cwd: holds bytes that are not UTF-8/],
      [(s) => (s.mounts = [{ destination: "/m", type: "bind", source: `/srv/${raw}`, options: ["rbind"] }]), /mounts\[0\]\.source: holds bytes/],
      [(s) => (s.process.args = ["x\ud800"]), /process\.args\[0\]: holds bytes that are not UTF-8 \(x\\ud800\)/],
    ];
    for (const [change, message] of cases) {
      const spec = minimalSpec("/");
      change(spec);
      assert.throws(() => validateSpec(spec), message);
    }
    // UTF-8 text of every plane passes: é, 日本, an emoji (a surrogate pair), a combining mark, RTL.
    const spec = minimalSpec("/");
    spec.process.args = ["echo", "é 日本 😀 e\u0301 \u05e9\u05dc"];
    validateSpec(spec);
  });
});

describe("host settings that block the native backend (backends/native/sysctl-blockers.ts)", () => {
  const host = (values: Record<string, string>) => (path: string) => values[path];
  it("names each blocking sysctl for a user, only the ones that bind root for root, in one order for `info` and the backend choice", () => {
    const all = host({
      "/proc/sys/user/max_user_namespaces": "0",
      "/proc/sys/kernel/unprivileged_userns_clone": "0",
      "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
      "/proc/sys/vm/memfd_noexec": "2",
    });
    assert.deepEqual(sysctlBlockers(false, all).map((b) => `${b.name}=${b.value}`), ["user.max_user_namespaces=0", "kernel.unprivileged_userns_clone=0", "kernel.apparmor_restrict_unprivileged_userns=1", "vm.memfd_noexec=2"]);
    assert.deepEqual(sysctlBlockers(true, all).map((b) => b.name), ["user.max_user_namespaces"]);
    for (const b of sysctlBlockers(false, all)) assert.match(b.fix, new RegExp(`sysctl -w ${b.name.replace(/\./g, "\\.")}=`), b.name);
  });
  it("a host with the usual values, or without these files (older kernels, other distributions), blocks nothing", () => {
    const usual = host({ "/proc/sys/user/max_user_namespaces": "63704", "/proc/sys/kernel/unprivileged_userns_clone": "1", "/proc/sys/vm/memfd_noexec": "0" });
    assert.deepEqual(sysctlBlockers(false, usual), []);
    assert.deepEqual(sysctlBlockers(false, host({})), []);
  });
});
