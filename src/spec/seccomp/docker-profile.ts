/**
 * Docker's seccomp profile format (`--security-opt seccomp=PROFILE.json`,
 * moby's profiles/seccomp) and its translation into the OCI `linux.seccomp`
 * the runtime compiles (native-rs/container/src/seccomp). The translation
 * is docker's: `includes`/`excludes` are decided here against the
 * container's capabilities, the architecture and the kernel version, and the
 * architectures become the OCI list. Pure (no Node built-ins): the browser
 * bundle can use it too.
 */
import { UsageError } from "../../errors.js";
import type { LinuxSeccomp, SeccompAction, SeccompArg, SeccompOp, SeccompSyscall } from "../container-spec.js";

export interface DockerSeccompProfile {
  defaultAction: SeccompAction;
  defaultErrnoRet?: number;
  /** The host architecture (SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64) and the others its kernel runs (X86, X32; ARM). */
  archMap?: { architecture: string; subArchitectures: string[] | null }[];
  /** The older form: the architectures themselves. */
  architectures?: string[];
  flags?: string[];
  syscalls?: DockerSeccompSyscall[];
}

export interface DockerSeccompSyscall {
  names?: string[];
  /** The oldest form: one name. */
  name?: string;
  action: SeccompAction;
  errnoRet?: number;
  args?: SeccompArg[] | null;
  comment?: string;
  /** The entry applies only when all of these hold… */
  includes?: DockerCondition;
  /** …and none of these. */
  excludes?: DockerCondition;
}

export interface DockerCondition {
  /** Go architecture names: amd64, 386 (also "x86"), x32, arm64, … */
  arches?: string[];
  caps?: string[];
  /** "4.8": at least this kernel. */
  minKernel?: string;
}

/** What decides the entries with includes/excludes. */
export interface SeccompTarget {
  /** Go's name of the architecture: "amd64", "386" or "arm64". */
  arch: string;
  /** The container's capabilities ("CAP_…"). */
  caps: readonly string[];
  /** The kernel release, e.g. "6.1.0-18-amd64". */
  kernel: string;
}

export const SECCOMP_ACTIONS: readonly SeccompAction[] = [
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_LOG",
];
export const SECCOMP_OPS: readonly SeccompOp[] = ["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_GT", "SCMP_CMP_GE", "SCMP_CMP_MASKED_EQ"];
export const SECCOMP_FLAGS: readonly string[] = ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"];

/** Go arch names for each libseccomp one (docker's table, the x86 and arm part). */
const SCMP_TO_GO: Record<string, string> = {
  SCMP_ARCH_X86_64: "amd64",
  SCMP_ARCH_X86: "386",
  SCMP_ARCH_X32: "x32",
  SCMP_ARCH_AARCH64: "arm64",
  SCMP_ARCH_ARM: "arm",
};

/**
 * Checks a parsed profile (`source` names it in errors: a file, "the seccomp
 * option") and returns it typed. Docker's own loader is as strict.
 */
export function checkDockerProfile(value: unknown, source: string): DockerSeccompProfile {
  const bad = (where: string, what: string): never => {
    throw new UsageError(`invalid seccomp profile ${source}: ${where}: ${what}`);
  };
  if (!isObject(value)) return bad("the profile", "must be a JSON object");
  const p = value as Record<string, unknown>;
  action(p.defaultAction, "defaultAction", bad);
  errno(p.defaultErrnoRet, "defaultErrnoRet", bad);
  if (p.archMap !== undefined && p.archMap !== null) {
    if (!Array.isArray(p.archMap)) bad("archMap", "must be an array");
    (p.archMap as unknown[]).forEach((m, i) => {
      if (!isObject(m) || typeof (m as { architecture?: unknown }).architecture !== "string") bad(`archMap[${i}]`, "needs an architecture");
      const subs = (m as { subArchitectures?: unknown }).subArchitectures;
      if (subs !== undefined && subs !== null) stringList(subs, `archMap[${i}].subArchitectures`, bad);
    });
  }
  if (p.architectures !== undefined && p.architectures !== null) stringList(p.architectures, "architectures", bad);
  if (p.flags !== undefined && p.flags !== null) {
    stringList(p.flags, "flags", bad).forEach((f, i) => SECCOMP_FLAGS.includes(f) || bad(`flags[${i}]`, `unknown flag "${f}"`));
  }
  if (p.syscalls !== undefined && p.syscalls !== null) {
    if (!Array.isArray(p.syscalls)) bad("syscalls", "must be an array");
    (p.syscalls as unknown[]).forEach((s, i) => {
      const at = `syscalls[${i}]`;
      if (!isObject(s)) return bad(at, "must be an object");
      const entry = s as Record<string, unknown>;
      const names = entry.names !== undefined && entry.names !== null ? stringList(entry.names, `${at}.names`, bad) : [];
      if (typeof entry.name === "string") names.push(entry.name);
      if (names.length === 0) bad(at, "names no syscall");
      action(entry.action, `${at}.action`, bad);
      errno(entry.errnoRet, `${at}.errnoRet`, bad);
      if (entry.args !== undefined && entry.args !== null) {
        if (!Array.isArray(entry.args)) bad(`${at}.args`, "must be an array");
        (entry.args as unknown[]).forEach((a, j) => checkArg(a, `${at}.args[${j}]`, bad));
      }
      for (const cond of ["includes", "excludes"] as const) {
        const c = entry[cond];
        if (c === undefined || c === null) continue;
        if (!isObject(c)) bad(`${at}.${cond}`, "must be an object");
        const cc = c as Record<string, unknown>;
        if (cc.arches !== undefined && cc.arches !== null) stringList(cc.arches, `${at}.${cond}.arches`, bad);
        if (cc.caps !== undefined && cc.caps !== null) stringList(cc.caps, `${at}.${cond}.caps`, bad);
        if (cc.minKernel !== undefined && (typeof cc.minKernel !== "string" || !/^\d+(\.\d+)*$/.test(cc.minKernel))) {
          bad(`${at}.${cond}.minKernel`, `"${String(cc.minKernel)}" is not a kernel version`);
        }
      }
    });
  }
  return value as unknown as DockerSeccompProfile;
}

/** Docker's translation: the OCI `linux.seccomp` for a container on `target`. */
export function toOciSeccomp(profile: DockerSeccompProfile, target: SeccompTarget): LinuxSeccomp {
  const arches = architectures(profile, target.arch);
  const syscalls: SeccompSyscall[] = [];
  for (const s of profile.syscalls ?? []) {
    if (!applies(s, target)) continue;
    const names = [...(s.names ?? []), ...(s.name ? [s.name] : [])];
    syscalls.push({
      names,
      action: s.action,
      ...(s.errnoRet !== undefined ? { errnoRet: s.errnoRet } : {}),
      ...(s.args && s.args.length > 0 ? { args: s.args.map((a) => ({ index: a.index, value: a.value, valueTwo: a.valueTwo ?? 0, op: a.op })) } : {}),
    });
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet !== undefined ? { defaultErrnoRet: profile.defaultErrnoRet } : {}),
    architectures: arches,
    ...(profile.flags && profile.flags.length > 0 ? { flags: [...profile.flags] } : {}),
    syscalls,
  };
}

/** The host's entry of archMap with its sub-architectures, else `architectures` as given. */
function architectures(profile: DockerSeccompProfile, goArch: string): string[] {
  const native = Object.entries(SCMP_TO_GO).find(([, go]) => go === goArch)?.[0];
  if (profile.archMap && native) {
    const entry = profile.archMap.find((m) => m.architecture === native);
    if (entry) return [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  return [...(profile.architectures ?? [])];
}

/** Docker's rule: every `includes` condition holds and no `excludes` one does. */
function applies(s: DockerSeccompSyscall, target: SeccompTarget): boolean {
  // Profiles name 386 "x86" too.
  const isTarget = (a: string) => a === target.arch || (a === "x86" && target.arch === "386");
  const inc = s.includes;
  if (inc) {
    if (inc.arches && inc.arches.length > 0 && !inc.arches.some(isTarget)) return false;
    if (inc.caps && !inc.caps.every((c) => target.caps.includes(c))) return false;
    if (inc.minKernel && compareVersions(target.kernel, inc.minKernel) < 0) return false;
  }
  const exc = s.excludes;
  if (exc) {
    if (exc.arches && exc.arches.some(isTarget)) return false;
    if (exc.caps && exc.caps.some((c) => target.caps.includes(c))) return false;
    if (exc.minKernel && compareVersions(target.kernel, exc.minKernel) >= 0) return false;
  }
  return true;
}

/** "6.1.0-18-amd64" against "4.8": numeric parts only, as docker compares them. */
export function compareVersions(kernel: string, min: string): number {
  const parts = (v: string) => (/^(\d+(?:\.\d+)*)/.exec(v)?.[1] ?? "0").split(".").map(Number);
  const a = parts(kernel);
  const b = parts(min);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function isObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function stringList(v: unknown, where: string, bad: (w: string, what: string) => never): string[] {
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) bad(where, "must be an array of strings");
  return [...(v as string[])];
}

function action(v: unknown, where: string, bad: (w: string, what: string) => never): void {
  if (v === "SCMP_ACT_NOTIFY") bad(where, "SCMP_ACT_NOTIFY needs a listener tsbox does not have");
  if (typeof v !== "string" || !SECCOMP_ACTIONS.includes(v as SeccompAction)) bad(where, `"${String(v)}" is not a seccomp action`);
}

function errno(v: unknown, where: string, bad: (w: string, what: string) => never): void {
  if (v !== undefined && v !== null && (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 4095)) bad(where, `${String(v)} is not an errno`);
}

function checkArg(a: unknown, where: string, bad: (w: string, what: string) => never): void {
  if (!isObject(a)) return bad(where, "must be an object");
  const arg = a as Record<string, unknown>;
  if (!Number.isInteger(arg.index) || (arg.index as number) < 0 || (arg.index as number) > 5) bad(`${where}.index`, "must be 0 to 5");
  for (const k of ["value", "valueTwo"] as const) {
    const v = arg[k];
    if (k === "valueTwo" && v === undefined) continue;
    // JSON numbers above 2^53 are not exact in JavaScript: refuse them rather than compare the wrong value.
    if (!Number.isSafeInteger(v) || (v as number) < 0) bad(`${where}.${k}`, `${String(v)} is not an integer from 0 to 2^53`);
  }
  if (typeof arg.op !== "string" || !SECCOMP_OPS.includes(arg.op as SeccompOp)) bad(`${where}.op`, `"${String(arg.op)}" is not a comparison`);
}
