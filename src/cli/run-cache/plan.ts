/**
 * A run plan: the files a `tsbox run` wrote for its container (config.json,
 * inspect.json, state.json) and the helper's arguments, with what is the
 * container's own taken out — its id (in paths, its hostname, HOSTNAME), its
 * generated name, its creation time and creator, and the command after the
 * image. `instantiate` puts a new container's values back in. Nothing here
 * computes a container: the plan is what the full run computed, and the
 * places a value goes are checked on that run (`makePlan` refuses a run where
 * a value also appears where it would not be replaced), so a replayed run
 * writes what the full run would have written.
 */
import { isDeepStrictEqual } from "node:util";
import type { ContainerState } from "../../containers/state.js";

/** What a run's files are made of: parsed config.json, inspect.json and state.json. */
export interface RunFiles {
  spec: Json;
  inspect: Json;
  state: ContainerState;
}

export interface PlanShape {
  /** config.json, inspect.json and the helper's arguments, the id's places marked. */
  spec: Json;
  inspect: Json;
  helperArgs: string[];
  /** state.json without the container's own fields (id, name, created, creator, command). */
  state: ContainerState;
  /** The name `--name` gave (null: each run gets a generated one). */
  name: string | null;
  /** What comes before the command: in the process's args, and in inspect's Path + Args (null: no command given). */
  command: { specHead: string[]; inspectHead: string[] } | null;
}

/** What a replayed container is: its own values. */
export interface OwnValues {
  id: string;
  name: string;
  created: string;
  creatorPid: number;
  creatorStartTime: string | null;
  /** The command after the image (the plan's must have had one too). */
  command: readonly string[];
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ID = "\u0000id\u0000";
const SHORT_ID = "\u0000short-id\u0000";

/**
 * The plan of a run whose files are `files`, or why there is none. `command`: the command given after the image
 * (empty: none); `nameGiven`: whether `--name` chose the name.
 */
export function makePlan(files: RunFiles, helperArgs: readonly string[], command: readonly string[], nameGiven: boolean): PlanShape | string {
  const { id } = files.state;
  const name = files.state.name;
  if (!/^[0-9a-f]{64}$/.test(id) || name === null) return "no id or name";
  const all = [files.spec, files.inspect, [...helperArgs]];
  // The marks must be ours alone (an image's label could hold anything).
  if (strings(all).some((s) => s.includes("\u0000"))) return "a NUL in the files";
  const mark = (v: Json): Json => mapStrings(v, (s) => s.replaceAll(id, ID).replaceAll(id.slice(0, 12), SHORT_ID));
  const spec = mark(files.spec) as { [key: string]: Json };
  const inspect = mark(files.inspect) as { [key: string]: Json };
  const args = mark([...helperArgs]) as string[];
  // What is left of the id after the values were marked is in a key, which `instantiate` would not fill.
  if (strings([spec, inspect, args]).some((s) => s.includes(id.slice(0, 12)))) return "the id in a key";

  // A generated name goes in one place of config.json (the network's record of the container) and nowhere else.
  const container = networkContainer(spec);
  if (!nameGiven) {
    if (container !== undefined && container.name === name) container.name = null;
    if (strings([spec, inspect, args]).some((s) => s.includes(name))) return "the name in an unexpected place";
  }

  let shape: PlanShape["command"] = null;
  if (command.length > 0) {
    const processArgs = (spec.process as { args?: Json } | undefined)?.args;
    const run = [inspect.Path ?? null, ...((inspect.Args as Json[] | undefined) ?? [])];
    const specHead = headBefore(processArgs, command);
    const inspectHead = headBefore(run, command);
    const config = inspect.Config as { Cmd?: Json } | undefined;
    if (!specHead || !inspectHead || !isDeepStrictEqual(config?.Cmd, [...command]) || !isDeepStrictEqual(files.state.command, processArgs)) {
      return "the command in an unexpected place";
    }
    shape = { specHead, inspectHead };
    (spec.process as { args: Json }).args = null;
    inspect.Path = null;
    inspect.Args = null;
    config!.Cmd = null;
  }
  const state: ContainerState = { ...files.state, id: "", name: null, created: "", creatorPid: null, creatorStartTime: null, ...(shape ? { command: [] } : {}) };
  if (strings([state as unknown as Json]).some((s) => s.includes(id.slice(0, 12)))) return "the id in state.json";
  return { spec, inspect, helperArgs: args, state, name: nameGiven ? name : null, command: shape };
}

/** A new container's files and helper arguments from `plan`. */
export function instantiate(plan: PlanShape, own: OwnValues): RunFiles & { helperArgs: string[] } {
  const fill = (v: Json): Json => mapStrings(v, (s) => (s.includes("\u0000") ? s.replaceAll(ID, own.id).replaceAll(SHORT_ID, own.id.slice(0, 12)) : s));
  const spec = fill(plan.spec) as { [key: string]: Json };
  const inspect = fill(plan.inspect) as { [key: string]: Json };
  const helperArgs = fill(plan.helperArgs) as string[];
  const container = networkContainer(spec);
  if (plan.name === null && container !== undefined && container.name === null) container.name = own.name;
  const processArgs = plan.command ? [...plan.command.specHead, ...own.command] : undefined;
  if (plan.command && processArgs) {
    (spec.process as { args: Json }).args = processArgs;
    const run = [...plan.command.inspectHead, ...own.command];
    inspect.Path = run[0]!;
    inspect.Args = run.slice(1);
    (inspect.Config as { Cmd: Json }).Cmd = [...own.command];
  }
  const state: ContainerState = {
    ...plan.state,
    id: own.id,
    name: own.name,
    created: own.created,
    creatorPid: own.creatorPid,
    creatorStartTime: own.creatorStartTime,
    ...(processArgs ? { command: processArgs } : {}),
  };
  return { spec, inspect, state, helperArgs };
}

/** config.json's record of the container for its network files (`network.container`), if it has one. */
function networkContainer(spec: { [key: string]: Json }): { name: Json } | undefined {
  const container = (spec.network as { container?: { name?: Json } } | undefined)?.container;
  return container && typeof container === "object" && "name" in container ? (container as { name: Json }) : undefined;
}

/** `list` without its last `tail.length` items, when it ends with `tail` (all strings). */
function headBefore(list: Json | undefined, tail: readonly string[]): string[] | undefined {
  if (!Array.isArray(list) || list.length < tail.length || list.some((s) => typeof s !== "string")) return undefined;
  const head = list.slice(0, list.length - tail.length) as string[];
  return isDeepStrictEqual(list.slice(head.length), [...tail]) ? head : undefined;
}

function mapStrings(v: Json, f: (s: string) => string): Json {
  if (typeof v === "string") return f(v);
  if (Array.isArray(v)) return v.map((x) => mapStrings(x, f));
  if (v !== null && typeof v === "object") {
    const out: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) out[k] = mapStrings(x, f);
    return out;
  }
  return v;
}

/** Every string in `v`, keys included. */
function strings(v: Json, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) for (const x of v) strings(x, out);
  else if (v !== null && typeof v === "object") {
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      strings(x, out);
    }
  }
  return out;
}
