import { SpecError } from "../errors.js";
import type { ContainerSpec, IdMapping, LinuxSpec, NamespaceType, SeccompAction } from "./container-spec.js";
import { mappedId } from "./mapped-ids.js";
import { SECCOMP_ACTIONS, SECCOMP_FLAGS, SECCOMP_OPS } from "./seccomp/docker-profile.js";
import { hasRawBytes } from "../name-bytes.js";

const NAMESPACES: readonly NamespaceType[] = ["user", "pid", "mount", "uts", "ipc", "network", "cgroup"];
const MAX_ID = 0xffffffff; // ids are u32; (u32)-1 is reserved
const HOSTNAME_RE = /^[a-zA-Z0-9](?:[a-zA-Z0-9.-]{0,62})$/;
/**
 * /proc/PID/{fd,cwd,root,exe,…}: "magic links" to whatever a process holds
 * open (CVE-2024-21626 made the runtime's cwd a host directory this way).
 * The runtime refuses them anyway when it resolves the cwd; this gives the
 * clear error before any container starts.
 */
const PROC_MAGIC_LINK_RE = /^\/proc\/+(self|thread-self|\d+)(\/+task\/+\d+)?\/+(fd|fdinfo|cwd|root|exe|map_files|ns)(\/|$)/;

/**
 * Checks a ContainerSpec before any backend touches it, so every backend
 * gets the same errors, each naming the offending field.
 */
export function validateSpec(spec: ContainerSpec): void {
  if (typeof spec.ociVersion !== "string" || spec.ociVersion === "") fail("ociVersion", "must be a non-empty string");
  if (holdsRawBytes(spec)) text(spec, "");
  validateProcess(spec);
  validateRoot(spec);
  validateMounts(spec);
  validateLinux(spec);
  if (spec.hostname !== undefined) {
    if (typeof spec.hostname !== "string" || !HOSTNAME_RE.test(spec.hostname)) {
      fail("hostname", `"${String(spec.hostname)}" is not a valid hostname (letters, digits, '-' and '.', at most 64)`);
    }
    if (!spec.linux.namespaces.some((n) => n.type === "uts")) fail("hostname", "setting a hostname needs a uts namespace");
  }
}

function validateProcess(spec: ContainerSpec): void {
  const p = spec.process;
  if (!p || typeof p !== "object") fail("process", "missing");
  if (!Array.isArray(p.args) || p.args.length === 0) fail("process.args", "must name a command (empty command)");
  p.args.forEach((arg, i) => {
    if (typeof arg !== "string") fail(`process.args[${i}]`, "must be a string");
    if (arg.includes("\0")) fail(`process.args[${i}]`, "contains a NUL byte");
  });
  if (p.args[0] === "") fail("process.args[0]", "the command is an empty string");
  if (!Array.isArray(p.env)) fail("process.env", "must be an array of KEY=VALUE strings");
  p.env.forEach((entry, i) => {
    if (typeof entry !== "string" || entry.indexOf("=") <= 0) fail(`process.env[${i}]`, `"${String(entry)}" is not KEY=VALUE`);
    if (entry.includes("\0")) fail(`process.env[${i}]`, "contains a NUL byte");
  });
  absolute(p.cwd, "process.cwd");
  if (PROC_MAGIC_LINK_RE.test(p.cwd)) {
    fail("process.cwd", `the working directory ${p.cwd} is a link to an open file under /proc, which can lead outside the container`);
  }
  if (typeof p.terminal !== "boolean") fail("process.terminal", "must be a boolean");
  if (p.consoleSize !== undefined) {
    positiveInt(p.consoleSize.width, "process.consoleSize.width");
    positiveInt(p.consoleSize.height, "process.consoleSize.height");
  }
  if (!p.user || typeof p.user !== "object") fail("process.user", "missing");
  id(p.user.uid, "process.user.uid");
  id(p.user.gid, "process.user.gid");
  p.user.additionalGids?.forEach((gid, i) => id(gid, `process.user.additionalGids[${i}]`));
  if (p.capabilities) {
    for (const set of ["bounding", "effective", "permitted", "inheritable", "ambient"] as const) {
      const caps = p.capabilities[set];
      if (!Array.isArray(caps)) fail(`process.capabilities.${set}`, "must be an array");
      caps.forEach((cap, i) => {
        if (typeof cap !== "string" || !/^CAP_[A-Z_]+$/.test(cap)) fail(`process.capabilities.${set}[${i}]`, `"${String(cap)}" is not a capability name`);
      });
    }
  }
  p.rlimits?.forEach((r, i) => {
    if (typeof r.type !== "string" || !/^RLIMIT_[A-Z]+$/.test(r.type)) fail(`process.rlimits[${i}].type`, `"${String(r.type)}" is not an rlimit name`);
    nonNegativeInt(r.soft, `process.rlimits[${i}].soft`);
    nonNegativeInt(r.hard, `process.rlimits[${i}].hard`);
    if (r.soft > r.hard) fail(`process.rlimits[${i}]`, "soft limit exceeds hard limit");
  });
  if (typeof p.noNewPrivileges !== "boolean") fail("process.noNewPrivileges", "must be a boolean");
  if (p.oomScoreAdj !== undefined && (!Number.isInteger(p.oomScoreAdj) || p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000)) {
    fail("process.oomScoreAdj", `${String(p.oomScoreAdj)} is not an integer from -1000 to 1000`);
  }
}

function validateRoot(spec: ContainerSpec): void {
  if (!spec.root || typeof spec.root !== "object") fail("root", "missing");
  absolute(spec.root.path, "root.path");
  if (typeof spec.root.readonly !== "boolean") fail("root.readonly", "must be a boolean");
  const o = spec.root.overlay;
  if (o !== undefined) {
    if (!Array.isArray(o.lower) || o.lower.length === 0) fail("root.overlay.lower", "needs at least one layer");
    o.lower.forEach((l, i) => absolute(l, `root.overlay.lower[${i}]`));
    absolute(o.upper, "root.overlay.upper");
    absolute(o.work, "root.overlay.work");
    if (o.volatile !== undefined && typeof o.volatile !== "boolean") fail("root.overlay.volatile", "must be a boolean");
  }
}

function validateMounts(spec: ContainerSpec): void {
  if (!Array.isArray(spec.mounts)) fail("mounts", "must be an array");
  spec.mounts.forEach((m, i) => {
    absolute(m.destination, `mounts[${i}].destination`);
    if (typeof m.type !== "string" || m.type === "") fail(`mounts[${i}].type`, "must be a non-empty string");
    if (typeof m.source !== "string") fail(`mounts[${i}].source`, "must be a string");
    if (!Array.isArray(m.options) || m.options.some((o) => typeof o !== "string")) fail(`mounts[${i}].options`, "must be an array of strings");
    if (m.type === "bind" || m.options.includes("bind") || m.options.includes("rbind")) absolute(m.source, `mounts[${i}].source`);
  });
}

function validateLinux(spec: ContainerSpec): void {
  const l = spec.linux;
  if (!l || typeof l !== "object") fail("linux", "missing");
  if (!Array.isArray(l.namespaces)) fail("linux.namespaces", "must be an array");
  const seen = new Set<string>();
  l.namespaces.forEach((ns, i) => {
    if (!NAMESPACES.includes(ns.type)) fail(`linux.namespaces[${i}].type`, `unknown namespace "${String(ns.type)}"`);
    if (seen.has(ns.type)) fail(`linux.namespaces[${i}].type`, `duplicate namespace "${ns.type}"`);
    seen.add(ns.type);
    if (ns.path !== undefined) absolute(ns.path, `linux.namespaces[${i}].path`);
    if (ns.container !== undefined && !/^[0-9a-f]{64}$/.test(ns.container)) fail(`linux.namespaces[${i}].container`, "must be a container id (64 hex digits)");
  });
  validateMappings(l.uidMappings, "linux.uidMappings");
  validateMappings(l.gidMappings, "linux.gidMappings");
  if (l.usernsAuto !== undefined) {
    const a = l.usernsAuto;
    if (!seen.has("user")) fail("linux.usernsAuto", "needs a user namespace");
    if (l.uidMappings.length > 0 || l.gidMappings.length > 0) fail("linux.usernsAuto", "takes the place of uidMappings and gidMappings");
    positiveInt(a.size, "linux.usernsAuto.size");
    for (const k of ["uids", "gids"] as const) {
      id(a[k]?.start, `linux.usernsAuto.${k}.start`);
      if (!Number.isInteger(a[k].count) || a[k].count < a.size) fail(`linux.usernsAuto.${k}.count`, `must hold at least ${a.size} ids`);
    }
    const { uid, gid } = spec.process.user;
    if (uid >= a.size) fail("process.user.uid", `uid ${uid} is outside the ${a.size} ids of --userns=auto`);
    if (gid >= a.size) fail("process.user.gid", `gid ${gid} is outside the ${a.size} ids of --userns=auto`);
  } else if (seen.has("user")) {
    if (l.uidMappings.length === 0) fail("linux.uidMappings", "a user namespace needs at least one mapping");
    if (l.gidMappings.length === 0) fail("linux.gidMappings", "a user namespace needs at least one mapping");
    const { uid, gid, additionalGids = [] } = spec.process.user;
    if (!isMapped(l.uidMappings, uid)) fail("process.user.uid", `uid ${uid} is not mapped in the user namespace${rootlessHint(l.uidMappings)}`);
    if (!isMapped(l.gidMappings, gid)) fail("process.user.gid", `gid ${gid} is not mapped in the user namespace${rootlessHint(l.gidMappings)}`);
    additionalGids.forEach((g, i) => {
      if (!isMapped(l.gidMappings, g)) fail(`process.user.additionalGids[${i}]`, `gid ${g} is not mapped in the user namespace${rootlessHint(l.gidMappings)}`);
    });
  } else if (l.uidMappings.length > 0 || l.gidMappings.length > 0) {
    fail("linux.uidMappings", "id mappings need a user namespace");
  }
  l.maskedPaths.forEach((p, i) => absolute(p, `linux.maskedPaths[${i}]`));
  l.readonlyPaths.forEach((p, i) => absolute(p, `linux.readonlyPaths[${i}]`));
  if (l.seccomp !== undefined) validateSeccomp(l.seccomp);
  validateCgroups(l);
}

/** The OCI form the runtime compiles (native-rs/container/src/seccomp/config.rs checks the same). */
function validateSeccomp(sc: NonNullable<ContainerSpec["linux"]["seccomp"]>): void {
  const f = "linux.seccomp";
  if (!sc || typeof sc !== "object") fail(f, "must be an object");
  const errno = (v: unknown, field: string) => {
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 4095)) fail(field, `${String(v)} is not an errno`);
  };
  const action = (v: unknown, field: string) => {
    if (!SECCOMP_ACTIONS.includes(v as SeccompAction)) fail(field, `"${String(v)}" is not a seccomp action`);
  };
  action(sc.defaultAction, `${f}.defaultAction`);
  errno(sc.defaultErrnoRet, `${f}.defaultErrnoRet`);
  sc.architectures?.forEach((a, i) => {
    if (typeof a !== "string" || !a.startsWith("SCMP_ARCH_")) fail(`${f}.architectures[${i}]`, `"${String(a)}" is not an architecture`);
  });
  sc.flags?.forEach((fl, i) => {
    if (!SECCOMP_FLAGS.includes(fl)) fail(`${f}.flags[${i}]`, `"${String(fl)}" is not a seccomp flag`);
  });
  sc.syscalls?.forEach((s, i) => {
    const at = `${f}.syscalls[${i}]`;
    if (!Array.isArray(s.names) || s.names.length === 0 || s.names.some((n) => typeof n !== "string" || n === "")) fail(`${at}.names`, "must name at least one syscall");
    action(s.action, `${at}.action`);
    errno(s.errnoRet, `${at}.errnoRet`);
    s.args?.forEach((a, j) => {
      if (!Number.isInteger(a.index) || a.index < 0 || a.index > 5) fail(`${at}.args[${j}].index`, `${String(a.index)} is not 0 to 5`);
      for (const k of ["value", "valueTwo"] as const) {
        const v = a[k];
        if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) fail(`${at}.args[${j}].${k}`, `${String(v)} is not an integer from 0 to 2^53`);
      }
      if (!SECCOMP_OPS.includes(a.op)) fail(`${at}.args[${j}].op`, `"${String(a.op)}" is not a comparison`);
    });
  });
}

/** The ranges native-rs/container/src/spec.rs checks too (its errors name the same fields). */
function validateCgroups(l: LinuxSpec): void {
  const r = l.resources;
  const int = (v: unknown, field: string, min = -Infinity, max = Infinity) => {
    if (v !== undefined && (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max)) fail(field, `${String(v)} is not an integer from ${min} to ${max}`);
  };
  if (r !== undefined) {
    if (typeof r !== "object" || r === null) fail("linux.resources", "must be an object");
    int(r.memory?.limit, "linux.resources.memory.limit", -1);
    int(r.memory?.reservation, "linux.resources.memory.reservation", -1);
    int(r.memory?.swap, "linux.resources.memory.swap", -1);
    int(r.cpu?.shares, "linux.resources.cpu.shares", 0);
    int(r.cpu?.quota, "linux.resources.cpu.quota", -1);
    int(r.cpu?.period, "linux.resources.cpu.period", 0);
    for (const k of ["cpus", "mems"] as const) {
      const v = r.cpu?.[k];
      if (v !== undefined && (typeof v !== "string" || !/^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(v))) fail(`linux.resources.cpu.${k}`, `"${String(v)}" is not a list like 0-2,4`);
    }
    if (r.pids !== undefined) int(r.pids.limit ?? null, "linux.resources.pids.limit", -1);
    int(r.blockIO?.weight, "linux.resources.blockIO.weight", 10, 1000);
  }
  if (l.cgroupsPath !== undefined && (typeof l.cgroupsPath !== "string" || l.cgroupsPath === "" || l.cgroupsPath.split("/").includes(".."))) {
    fail("linux.cgroupsPath", `"${String(l.cgroupsPath)}" is not a cgroup path without '..'`);
  }
  if (l.cgroupsMode !== undefined && !["enabled", "required", "disabled"].includes(l.cgroupsMode)) {
    fail("linux.cgroupsMode", `"${String(l.cgroupsMode)}" is not enabled, required or disabled`);
  }
  const limited = r !== undefined && [r.memory, r.cpu, r.pids, r.blockIO].some((g) => g !== undefined && Object.values(g).some((v) => v !== undefined));
  if (l.cgroupsMode === "disabled" && limited) fail("linux.resources", "limits need a cgroup, but linux.cgroupsMode is disabled");
}

function validateMappings(maps: IdMapping[], field: string): void {
  if (!Array.isArray(maps)) fail(field, "must be an array");
  if (maps.length > 340) fail(field, "the kernel accepts at most 340 mappings");
  maps.forEach((m, i) => {
    id(m.containerID, `${field}[${i}].containerID`);
    id(m.hostID, `${field}[${i}].hostID`);
    positiveInt(m.size, `${field}[${i}].size`);
    if (m.containerID + m.size > MAX_ID + 1 || m.hostID + m.size > MAX_ID + 1) fail(`${field}[${i}]`, "range exceeds the 32-bit id space");
  });
  for (let i = 0; i < maps.length; i++) {
    for (let j = i + 1; j < maps.length; j++) {
      const a = maps[i]!;
      const b = maps[j]!;
      if (overlaps(a.containerID, a.size, b.containerID, b.size)) fail(`${field}[${j}]`, `container ids overlap with ${field}[${i}]`);
      if (overlaps(a.hostID, a.size, b.hostID, b.size)) fail(`${field}[${j}]`, `host ids overlap with ${field}[${i}]`);
    }
  }
}

export function isMapped(maps: IdMapping[], id: number): boolean {
  return mappedId(id, maps) !== undefined;
}

/** Why a rootless layout (idMappings) lacks an id, and what widens it; "" for another layout. */
export function rootlessHint(maps: IdMapping[], rangeUnused?: string): string {
  // Each id onto itself, not all of them: root of a user namespace inside a container (id-mappings.ts `nested`).
  if (maps.every((m) => m.containerID === m.hostID) && !(maps.length === 1 && maps[0]!.size === 4294967295)) {
    const ids = maps.map((m) => (m.size === 1 ? `${m.containerID}` : `${m.containerID}-${m.containerID + m.size - 1}`)).join(", ");
    return ` (tsbox runs as root of a user namespace, inside a container?, which has only ids ${ids}: map more into the outer container, or run it with --backend vm, whose guest has every id)`;
  }
  if (maps.length === 1 && maps[0]!.size === 1) {
    // A range that is listed but cannot be applied: adding one would not help.
    if (rangeUnused) return ` (rootless, only root is mapped: your /etc/subuid range is not used, as ${rangeUnused}; or run it with --backend vm, whose guest has every id)`;
    return " (rootless without an /etc/subuid range maps only root: add one — `tsbox info` names a free range and the command —, or run it with --backend vm, whose guest has every id)";
  }
  const [own, sub] = maps;
  if (maps.length !== 2 || own!.containerID !== 0 || own!.size !== 1 || sub!.containerID !== 1) return "";
  return (
    ` (rootless, ids past 0 are your /etc/subuid and /etc/subgid range, ${sub!.hostID}+${sub!.size}: ids 0-${sub!.size} inside;` +
    ` an administrator can widen it to 65536 ids in both files, as images expect (nobody is 65534), or run it with --backend vm, whose guest has every id)`
  );
}

function overlaps(a: number, aSize: number, b: number, bSize: number): boolean {
  return a < b + bSize && b < a + aSize;
}

/**
 * Every string of the spec is UTF-8 text: the runtime's JSON reader (container::json) takes no lone surrogate,
 * which is how a name's non-UTF-8 byte is held (src/name-bytes.ts) — a command or variable with one (`a\xffb`,
 * a name from a container's listing) failed there as "invalid JSON at line 1 column 155". Docker's API turns such
 * bytes into U+FFFD; here they are refused, naming the field, rather than changed.
 */
function holdsRawBytes(value: unknown): boolean {
  if (typeof value === "string") return hasRawBytes(value);
  if (Array.isArray(value)) return value.some(holdsRawBytes);
  if (value === null || typeof value !== "object") return false;
  for (const key in value) if (hasRawBytes(key) || holdsRawBytes((value as Record<string, unknown>)[key])) return true;
  return false;
}

/** The field of `value` that `holdsRawBytes` found, named in the error (paths are made only then: every run checks). */
function text(value: unknown, field: string): void {
  const at = (key: string | number) => (typeof key === "number" ? `${field}[${key}]` : field === "" ? key : `${field}.${key}`);
  if (typeof value === "string") {
    if (hasRawBytes(value)) fail(field, `holds bytes that are not UTF-8 (${value.replace(/[\ud800-\udfff]/gu, (c) => (c >= "\udc80" && c <= "\udcff" ? `\\x${(c.charCodeAt(0) & 0xff).toString(16)}` : `\\u${c.charCodeAt(0).toString(16)}`))}): the runtime takes only UTF-8 text here`);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => text(v, at(i)));
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) {
      text(k, at(k));
      text(v, at(k));
    }
  }
}

function absolute(path: unknown, field: string): void {
  if (typeof path !== "string" || !path.startsWith("/")) fail(field, `"${String(path)}" is not an absolute path`);
  if (path.includes("\0")) fail(field, "contains a NUL byte");
}

function id(value: unknown, field: string): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= MAX_ID) fail(field, `${String(value)} is not a valid id`);
}

function positiveInt(value: unknown, field: string): void {
  if (!Number.isInteger(value) || (value as number) <= 0) fail(field, `${String(value)} is not a positive integer`);
}

function nonNegativeInt(value: unknown, field: string): void {
  if (!Number.isInteger(value) || (value as number) < 0) fail(field, `${String(value)} is not a non-negative integer`);
}

function fail(field: string, problem: string): never {
  throw new SpecError(field, problem);
}
