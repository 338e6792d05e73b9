/**
 * The shape of the library's options as JavaScript hands them over (no compiler checked them): each option of
 * the right kind, and no unknown one — so `cmd: "echo hi"` is a UsageError naming `cmd` rather than the command
 * `e`, `user: 1000` is not a TypeError from deep inside, and `logs({ folow: true })` is not silently no follow.
 * One rule for every verb: each options interface has its `OptionKinds` table beside it (the mapped type makes an
 * option added to the interface fail to compile until it is listed), checked by `checkOptions`. Values within a
 * kind (an enum, a memory size, a port) are checked later by the option's own parser (kind `own`).
 */
import { UsageError } from "../errors.js";
import type { HealthcheckOptions } from "../containers/healthcheck.js";
import type { ResourceOptions } from "./resources.js";
import type { RunOptions } from "./run-options.js";

export type Kind =
  | "pipeOrInherit" | "string" | "strings" | "boolean" | "number" | "object" | "array" | "stringMap" | "stringOrNumber" | "env" | "tty"
  | "stdin" | "seccomp" | "healthcheck" | "publish"
  | "abortSignal" | "function" | "seconds" | "milliseconds" | "count" | "time" | "stdout|stderr" | "bytes" | "stringOrObject"
  /** Checked by the option's own parser where it is used (its message names the option). */
  | "own";

/** Every option of `T` and its kind: listed beside each options interface, so a new option cannot be forgotten. */
export type OptionKinds<T> = { readonly [K in keyof Required<T>]: Kind };

/** Every option's kind: the mapped type makes a new option fail to compile until it is listed. */
const KINDS: OptionKinds<RunOptions> = {
  image: "string",
  platform: "string",
  pull: "string",
  cmd: "strings",
  entrypoint: "strings",
  env: "env",
  workdir: "string",
  user: "string",
  hostname: "string",
  domainname: "string",
  macAddress: "string",
  volumes: "array",
  readOnly: "boolean",
  tty: "tty",
  stdin: "stdin",
  stdout: "pipeOrInherit",
  stderr: "pipeOrInherit",
  remove: "boolean",
  name: "string",
  capAdd: "strings",
  capDrop: "strings",
  seccomp: "seccomp",
  noNewPrivileges: "boolean",
  privileged: "boolean",
  systemPaths: "string",
  ipc: "string",
  pid: "string",
  uts: "string",
  shmSize: "stringOrNumber",
  devices: "array",
  healthcheck: "healthcheck",
  userns: "string",
  resources: "object",
  cgroups: "string",
  cgroupParent: "string",
  oomScoreAdj: "number",
  restart: "string",
  stopSignal: "stringOrNumber",
  stopTimeout: "number",
  log: "object",
  mounts: "array",
  tmpfs: "stringMap",
  imageVolume: "string",
  labels: "stringMap",
  ulimits: "array",
  groupAdd: "strings",
  volumesFrom: "strings",
  expose: "strings",
  sysctls: "stringMap",
  init: "boolean",
  network: "string",
  networks: "strings",
  networkAliases: "strings",
  ip: "string",
  publish: "publish",
  publishAll: "boolean",
  addHosts: "strings",
  dns: "strings",
  dnsSearch: "strings",
  dnsOptions: "strings",
};

/** `resources` (and `Container.update`): a misspelt limit (`memroy`) was no limit at all. */
const RESOURCE_KINDS: OptionKinds<ResourceOptions> = {
  memory: "stringOrNumber",
  memorySwap: "stringOrNumber",
  memoryReservation: "stringOrNumber",
  cpus: "number",
  cpuShares: "number",
  cpuPeriod: "number",
  cpuQuota: "number",
  cpusetCpus: "string",
  pidsLimit: "number",
  blkioWeight: "number",
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStrings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
const isStringMap = (v: unknown) => isObject(v) && Object.values(v).every((s) => typeof s === "string");

const CHECKS: Record<Kind, [(v: unknown) => boolean, string]> = {
  pipeOrInherit: [(v) => v === "pipe" || v === "inherit", '"pipe" or "inherit"'],
  string: [(v) => typeof v === "string", "a string"],
  strings: [isStrings, "an array of strings"],
  boolean: [(v) => typeof v === "boolean", "true or false"],
  number: [(v) => typeof v === "number", "a number"],
  object: [isObject, "an object"],
  array: [Array.isArray, "an array"],
  stringMap: [isStringMap, "an object of strings"],
  stringOrNumber: [(v) => typeof v === "string" || typeof v === "number", "a string or a number"],
  env: [(v) => isStrings(v) || isStringMap(v), 'an array of "KEY=VALUE" strings or an object of strings'],
  tty: [(v) => typeof v === "boolean" || isObject(v), "true, false or { cols, rows }"],
  stdin: [(v) => typeof v === "boolean" || v === "inherit", 'true, false or "inherit"'],
  seccomp: [(v) => typeof v === "string" || isObject(v), "a string or a profile object"],
  healthcheck: [(v) => v === false || isObject(v), "an object or false"],
  publish: [(v) => Array.isArray(v) && v.every((p) => typeof p === "string" || isObject(p)), "an array of strings or port objects"],
  abortSignal: [(v) => v instanceof AbortSignal, "an AbortSignal"],
  function: [(v) => typeof v === "function", "a function"],
  // stop's: negative waits for ever (docker's -1).
  seconds: [(v) => typeof v === "number" && !Number.isNaN(v), "a number of seconds"],
  // An interval: 0 or less was a busy loop.
  milliseconds: [(v) => typeof v === "number" && Number.isFinite(v) && v > 0, "a number of milliseconds above 0"],
  count: [(v) => Number.isSafeInteger(v) && (v as number) >= 0, "a whole number from 0"],
  time: [(v) => v instanceof Date || typeof v === "string" || typeof v === "number", "a Date, an ISO 8601 string or Unix seconds"],
  "stdout|stderr": [(v) => v === "stdout" || v === "stderr", '"stdout" or "stderr"'],
  bytes: [(v) => typeof v === "string" || v instanceof Uint8Array, "a string or a Uint8Array"],
  stringOrObject: [(v) => typeof v === "string" || isObject(v), "a string or an object"],
  own: [() => true, ""],
};

/** `log`: their bounds are checked below. */
const LOG_KINDS: OptionKinds<NonNullable<RunOptions["log"]>> = { driver: "own", maxSize: "own", maxFiles: "own" };

/** The kinds of `healthcheck`'s fields (milliseconds; effectiveHealthcheck checks their ranges). */
const HEALTHCHECK_KINDS: OptionKinds<HealthcheckOptions> = {
  test: "own",
  interval: "number",
  timeout: "number",
  startPeriod: "number",
  startInterval: "number",
  retries: "number",
};

/** Whether Node's `run` takes an option of this name (the browser's `run` tells a typo from what a page lacks). */
export function isRunOption(key: string): boolean {
  return Object.hasOwn(KINDS, key);
}

/** Throws a UsageError naming the first option of the wrong kind (or an unknown one). */
export function checkRunOptionTypes(options: unknown): void {
  if (!isObject(options)) throw new UsageError(`run options: expected an object, got ${describeValue(options)}`);
  // (the 60 names are not listed: the declarations' RunOptions are)
  checkEntries("run options", options, KINDS, false);
  if (options.image === undefined) throw new UsageError("run options: image: expected a string, got nothing");
  if (isObject(options.resources)) checkResourceTypes("run options: resources", options.resources);
  if (isObject(options.healthcheck)) checkEntries("run options: healthcheck", options.healthcheck, HEALTHCHECK_KINDS);
  if (isObject(options.log)) {
    // The monitor's own checks, said here (a 0 or negative size was taken, and start() failed with its usage text).
    checkEntries("run options: log", options.log, LOG_KINDS);
    const { driver, maxSize, maxFiles } = options.log;
    if (driver !== undefined && driver !== "json-file" && driver !== "none") throw new UsageError(`run options: log.driver: expected "json-file" or "none", got ${describeValue(driver)}`);
    if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && (maxSize as number) > 0)) throw new UsageError(`run options: log.maxSize: expected a whole number of bytes above 0, got ${describeValue(maxSize)}`);
    if (maxFiles !== undefined && !(Number.isSafeInteger(maxFiles) && (maxFiles as number) >= 1)) throw new UsageError(`run options: log.maxFiles: expected a whole number from 1, got ${describeValue(maxFiles)}`);
  }
}

/**
 * A terminal's size (`tty: { cols, rows }`, `resize(cols, rows)`): whole numbers 1..65535, as a pty's winsize
 * holds them. `prefix` names where the two are ("resize: ", "run options: tty."). Unchecked, the spec's validator
 * named `process.consoleSize`, the addon threw a bare Error, and NaN or 1.7 became a size.
 */
export function checkTerminalSize(prefix: string, cols: unknown, rows: unknown): void {
  for (const [name, value] of [["cols", cols], ["rows", rows]] as const) {
    if (Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535) continue;
    throw new UsageError(`${prefix}${name}: expected a whole number from 1 to 65535, got ${value === undefined ? "nothing" : describeValue(value)}`);
  }
}

/** Each resource limit of the right kind, no unknown one; `extra` names the caller's other options (update's `restart`). */
export function checkResourceTypes(what: string, options: unknown, extra: Record<string, Kind> = {}): void {
  if (!isObject(options)) throw new UsageError(`${what}: expected an object, got ${describeValue(options)}`);
  checkEntries(what, options, { ...RESOURCE_KINDS, ...extra });
}

/**
 * A verb's options (`logs`, `stop`, `networks.create`…) against its table: a misspelt one is an error, as in `run`,
 * instead of silently meaning the default (`stop({ timeot: 1 })` waited the default 10 s), and one of the wrong
 * kind names itself (`stop({ timeout: "abc" })` waited the default too). `undefined` (no options) passes.
 */
export function checkOptions<T>(what: string, options: unknown, kinds: OptionKinds<T>, internal: readonly (keyof T & string)[] = []): void {
  if (options === undefined) return;
  if (!isObject(options)) throw new UsageError(`${what} options: expected an object, got ${describeValue(options)}`);
  checkEntries(`${what} options`, options, kinds as Record<string, Kind>, true, internal);
}

/**
 * A browser verb's options: Node's table (a misspelt or mistyped one is refused as there, not taken as the default),
 * and each of Node's options a page cannot have refused by name with `unsupported`'s reason, never ignored.
 */
export function checkPageOptions<T>(what: string, options: unknown, kinds: OptionKinds<T>, unsupported: Partial<Record<keyof T, string>> = {}): void {
  checkOptions(what, options, kinds);
  for (const [key, why] of Object.entries(unsupported) as [string, string][]) {
    if ((options as Record<string, unknown> | undefined)?.[key] !== undefined) throw new UsageError(`${what} option "${key}" is not supported in the browser: ${why}`);
  }
}

/** A map of strings (labels, driver options), whose keys are the caller's. */
export function checkStringMap(what: string, value: unknown): void {
  if (!isStringMap(value)) throw new UsageError(`${what}: expected an object of strings, got ${describeValue(value)}${isObject(value) ? " with a value that is no string" : ""}`);
}

/** `checkOptions` by names alone (the browser's verbs, whose option types are Node's). */
export function checkOptionNames(what: string, options: unknown, allowed: readonly string[]): void {
  checkOptions(what, options, Object.fromEntries(allowed.map((name): [string, Kind] => [name, "own"])));
}

/** `internal`: options the CLI passes that a library caller has no use for, accepted but not offered in the hint. */
function checkEntries(what: string, options: Record<string, unknown>, kinds: { readonly [key: string]: Kind }, listNames = true, internal: readonly string[] = []): void {
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const kind = Object.hasOwn(kinds, key) ? kinds[key] : undefined;
    if (kind === undefined) throw new UsageError(`${what}: unknown option ${JSON.stringify(key)}${listNames ? ` (${Object.keys(kinds).filter((k) => !internal.includes(k)).join(", ")})` : ""}`);
    const [ok, expected] = CHECKS[kind];
    if (!ok(value)) throw new UsageError(badMember(`${what}: ${key}`, kind, value) ?? `${what}: ${key}: expected ${expected}, got ${describeValue(value)}`);
    // A size is checked as one: it reached the spec's validator (process.consoleSize) or the addon's raw errors.
    if (kind === "tty" && isObject(value)) checkTerminalSize(`${what}: ${key}.`, value.cols, value.rows);
  }
}

/** A collection of strings (`env`, `labels`, `cmd`…) refused for one member: that member named (`env.N: expected a string, got number 5`). */
function badMember(where: string, kind: Kind, value: unknown): string | undefined {
  if (kind !== "env" && kind !== "stringMap" && kind !== "strings") return undefined;
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [`[${i}]`, v]) : isObject(value) ? Object.entries(value).map(([k, v]) => [`.${k}`, v]) : [];
  const bad = entries.find(([, v]) => typeof v !== "string");
  return bad && `${where}${bad[0]}: expected a string, got ${describeValue(bad[1])}`;
}

/**
 * A value as an error names it (`the string "x"`, `number 5`, `an object`, `an AbortSignal`: a class's instance by
 * its class, so `stop({ signal: controller.signal })` says what it got).
 */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === "function") return "a function";
  if (typeof v !== "object") return `${typeof v} ${String(v)}`;
  const made = Object.getPrototypeOf(v) === null ? undefined : (v as object).constructor?.name;
  return !made || made === "Object" ? "an object" : `${/^[AEIOU]/.test(made) ? "an" : "a"} ${made}`;
}
