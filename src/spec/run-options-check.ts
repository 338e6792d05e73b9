/**
 * The shape of `RunOptions` as JavaScript hands it over (no compiler checked
 * it): each option of the right kind, so `cmd: "echo hi"` is a UsageError
 * naming `cmd` rather than the command `e`, and `user: 1000` is not a
 * TypeError from deep inside. Values within a kind (an enum, a memory size,
 * a port) are checked later by the option's own parser.
 */
import { UsageError } from "../errors.js";
import type { ResourceOptions } from "./resources.js";
import type { RunOptions } from "./run-options.js";

type Kind = "pipeOrInherit" | "string" | "strings" | "boolean" | "number" | "object" | "array" | "stringMap" | "stringOrNumber" | "env" | "tty" | "stdin" | "seccomp" | "healthcheck" | "publish";

/** Every option's kind: the mapped type makes a new option fail to compile until it is listed. */
const KINDS: { [K in keyof Required<RunOptions>]: Kind } = {
  image: "string",
  platform: "string",
  pull: "string",
  cmd: "strings",
  entrypoint: "strings",
  env: "env",
  workdir: "string",
  user: "string",
  hostname: "string",
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
const RESOURCE_KINDS: { [K in keyof Required<ResourceOptions>]: Kind } = {
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
};

/** Throws a UsageError naming the first option of the wrong kind (or an unknown one). */
export function checkRunOptionTypes(options: unknown): void {
  if (!isObject(options)) throw new UsageError(`run options: expected an object, got ${describe(options)}`);
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const kind = (KINDS as Record<string, Kind>)[key];
    if (kind === undefined) throw new UsageError(`run options: unknown option ${JSON.stringify(key)}`);
    const [ok, expected] = CHECKS[kind];
    if (!ok(value)) throw new UsageError(`run options: ${key}: expected ${expected}, got ${describe(value)}`);
  }
  if (options.image === undefined) throw new UsageError("run options: image: expected a string, got nothing");
  checkTtySize("run", options.tty);
  if (isObject(options.resources)) checkResourceTypes("run options: resources", options.resources);
  if (isObject(options.log)) {
    // The monitor's own checks, said here (a 0 or negative size was taken, and start() failed with its usage text).
    checkOptionNames("log", options.log, ["maxSize", "maxFiles"]);
    const { maxSize, maxFiles } = options.log;
    if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && (maxSize as number) > 0)) throw new UsageError(`run options: log.maxSize: expected a whole number of bytes above 0, got ${describe(maxSize)}`);
    if (maxFiles !== undefined && !(Number.isSafeInteger(maxFiles) && (maxFiles as number) >= 1)) throw new UsageError(`run options: log.maxFiles: expected a whole number from 1, got ${describe(maxFiles)}`);
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
    throw new UsageError(`${prefix}${name}: expected a whole number from 1 to 65535, got ${value === undefined ? "nothing" : describe(value)}`);
  }
}

/** `tty` of run, exec and spawn (`what`): a `{ cols, rows }` size is checked as one. */
export function checkTtySize(what: string, tty: unknown): void {
  if (isObject(tty)) checkTerminalSize(`${what} options: tty.`, tty.cols, tty.rows);
}

/** Each resource limit of the right kind, no unknown one; `extra` names the caller's other options (update's `restart`). */
export function checkResourceTypes(what: string, options: unknown, extra: Record<string, Kind> = {}): void {
  if (!isObject(options)) throw new UsageError(`${what}: expected an object, got ${describe(options)}`);
  const kinds: Record<string, Kind> = { ...RESOURCE_KINDS, ...extra };
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const kind = kinds[key];
    if (kind === undefined) throw new UsageError(`${what}: unknown option ${JSON.stringify(key)} (${Object.keys(kinds).join(", ")})`);
    const [ok, expected] = CHECKS[kind];
    if (!ok(value)) throw new UsageError(`${what}: ${key}: expected ${expected}, got ${describe(value)}`);
  }
}

/**
 * The option names a verb takes (`Container.exec`, `spawn`, `stop`…): a misspelt one is an error, as in `run`,
 * instead of silently meaning the default (`stop({ timeot: 1 })` waited the default 10 s).
 */
export function checkOptionNames(what: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (!isObject(options)) throw new UsageError(`${what} options: expected an object, got ${describe(options)}`);
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && !allowed.includes(key)) throw new UsageError(`${what} options: unknown option ${JSON.stringify(key)} (${allowed.join(", ")})`);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}
