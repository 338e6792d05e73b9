/**
 * A run plan: the files a `tsbox run` wrote for its container (config.json,
 * inspect.json, state.json) and the helper's arguments, with what is the
 * container's own taken out — its id (in paths, its hostname, HOSTNAME), its
 * generated name, its creation time and creator, and the command after the
 * image. The replay puts a new container's values back in (the addon's
 * native-rs/addon/src/replay/marks.rs: test/fixtures/contract/run-plan.json
 * holds both sides to these marks). Nothing here computes a container: the
 * plan is what the full run computed, and the places a value goes are
 * checked on that run (`makePlan` refuses a run where a value also appears
 * where it would not be replaced), so a replayed run writes what the full
 * run would have written. config.json, inspect.json and state.json are kept
 * as their text, marked: a replay fills them with a few string replacements.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { type ContainerState, stateFileText } from "./state.js";

/** What a run's files are: config.json's and inspect.json's text, and state.json parsed. */
export interface RunFiles {
  specText: string;
  inspectText: string;
  state: ContainerState;
}

export interface PlanShape {
  /** config.json's and inspect.json's text, the container's own values marked. */
  specText: string;
  inspectText: string;
  /** The helper's arguments, the id's places marked. */
  helperArgs: string[];
  /** state.json without the container's own fields (id, name, created, creator, command). */
  state: ContainerState;
  /** state.json's text (as `writeState` writes it), the container's own fields marked. */
  stateText: string;
  /** The name `--name` gave (null: each run gets a generated one). */
  name: string | null;
  /** What comes before the command: in the process's args, and in inspect's Path + Args (null: no command given). */
  command: { specHead: string[]; inspectHead: string[] } | null;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** Marks inside strings (the id) and marks that are a whole value (the name, the command's arrays). */
const ID = "\u0000id\u0000";
const SHORT_ID = "\u0000short-id\u0000";
const NAME = "\u0000name\u0000";
const SPEC_ARGS = "\u0000args\u0000";
const PATH = "\u0000path\u0000";
const ARGS = "\u0000inspect-args\u0000";
const CMD = "\u0000cmd\u0000";
const CREATED = "\u0000created\u0000";
const CREATOR_PID = "\u0000creator-pid\u0000";
const CREATOR_START = "\u0000creator-start\u0000";
/** How a mark reads in JSON text, in a string. */
const inText = (mark: string) => JSON.stringify(mark).slice(1, -1);

/**
 * The plan of a run whose files are `files`, or why there is none. `command`: the command given after the image
 * (empty: none); `nameGiven`: whether `--name` chose the name.
 */
export function makePlan(files: RunFiles, helperArgs: readonly string[], command: readonly string[], nameGiven: boolean): PlanShape | string {
  const { id, name } = files.state;
  if (!/^[0-9a-f]{64}$/.test(id) || name === null) return "no id or name";
  const spec = JSON.parse(files.specText) as JsonObject;
  const inspect = JSON.parse(files.inspectText) as JsonObject;
  // The texts are JSON.stringify's (writeSpec, writeInspectRecord): a plan's are made the same way.
  if (JSON.stringify(spec) !== files.specText || `${JSON.stringify(inspect)}\n` !== files.inspectText) return "files not as tsbox writes them";
  // The marks must be ours alone (an image's label could hold anything).
  if ([files.specText, files.inspectText, ...helperArgs].some((s) => s.includes("\u0000") || s.includes(inText("\u0000")))) return "a NUL in the files";
  const mark = (v: Json): Json => mapStrings(v, (s) => s.replaceAll(id, ID).replaceAll(id.slice(0, 12), SHORT_ID));
  const markedSpec = mark(spec) as JsonObject;
  const markedInspect = mark(inspect) as JsonObject;
  const args = mark([...helperArgs]) as string[];
  // What is left of the id after the values were marked is in a key, which the replay would not fill.
  if (strings([markedSpec, markedInspect, args]).some((s) => s.includes(id.slice(0, 12)))) return "the id in a key";

  // A generated name goes in one place of config.json (the network's record of the container) and nowhere else.
  const container = networkContainer(markedSpec);
  if (!nameGiven) {
    if (container !== undefined && container.name === name) container.name = NAME;
    if (strings([markedSpec, markedInspect, args]).some((s) => s.includes(name))) return "the name in an unexpected place";
  }

  let shape: PlanShape["command"] = null;
  if (command.length > 0) {
    const processArgs = (markedSpec.process as JsonObject | undefined)?.args;
    const specHead = headBefore(processArgs, command);
    const inspectHead = headBefore([markedInspect.Path ?? null, ...((markedInspect.Args as Json[] | undefined) ?? [])], command);
    const config = markedInspect.Config as JsonObject | undefined;
    if (!specHead || !inspectHead || !isDeepStrictEqual(config?.Cmd, [...command]) || !isDeepStrictEqual(files.state.command, processArgs)) {
      return "the command in an unexpected place";
    }
    shape = { specHead, inspectHead };
    (markedSpec.process as JsonObject).args = SPEC_ARGS;
    markedInspect.Path = PATH;
    markedInspect.Args = ARGS;
    config!.Cmd = CMD;
  }
  const state: ContainerState = { ...files.state, id: "", name: null, created: "", creatorPid: null, creatorStartTime: null, ...(shape ? { command: [] } : {}) };
  if (JSON.stringify(state).includes(id.slice(0, 12))) return "the id in state.json";
  // Key order as the full run's: each own field stays where the state had it.
  const markedState = { ...files.state, id: ID, name: NAME, created: CREATED, creatorPid: CREATOR_PID, creatorStartTime: CREATOR_START, ...(shape ? { command: CMD } : {}) };
  return {
    specText: JSON.stringify(markedSpec),
    inspectText: `${JSON.stringify(markedInspect)}\n`,
    helperArgs: args,
    state,
    stateText: stateFileText(markedState as unknown as ContainerState),
    name: nameGiven ? name : null,
    command: shape,
  };
}

/** The bundle's entries a plan makes again (a run that left others — a health check, network files — has none). */
const BUNDLE_ENTRIES = ["config.json", "inspect.json", "rootfs", "state.json", "upper", "work"];

/** A plan and the dirs its container's root is made of (the image's layers and the init layer: all must stay). */
export interface BundlePlan extends PlanShape {
  lower: string[];
}

/**
 * The plan of the container just prepared in `bundleDir` (its files as `Runtime.prepare` wrote them), or why there
 * is none: only a run whose preparation touched nothing outside its bundle, its name and its `create` event has one
 * — its network none or the host's (a bridge leases an address per run), no volume or bind (tmpfs only), nothing
 * in the bundle but its own files. The CLI's run cache and the library's plans (run-plans.ts) both ask this.
 */
export function planOfBundle(bundleDir: string, helperArgs: readonly string[], command: readonly string[], nameGiven: boolean): BundlePlan | string {
  const entries = readdirSync(bundleDir).sort().join(" ");
  if (entries !== BUNDLE_ENTRIES.join(" ")) return `the bundle holds ${entries}`;
  const read = (file: string): string => readFileSync(join(bundleDir, file), "utf8");
  const files = { specText: read("config.json"), inspectText: read("inspect.json"), state: JSON.parse(read("state.json")) as ContainerState };
  const inspect = JSON.parse(files.inspectText) as { HostConfig?: { NetworkMode?: string }; Mounts?: { Type?: string }[] };
  const spec = JSON.parse(files.specText) as { root?: { overlay?: { lower?: unknown[] } } };
  if (!["none", "host"].includes(inspect.HostConfig?.NetworkMode ?? "")) return `network ${inspect.HostConfig?.NetworkMode}`;
  if ((inspect.Mounts ?? []).some((m) => m.Type !== "tmpfs")) return "volumes or binds";
  const shape = makePlan(files, helperArgs, command, nameGiven);
  if (typeof shape === "string") return shape;
  return { ...shape, lower: (spec.root?.overlay?.lower ?? []).filter((dir): dir is string => typeof dir === "string") };
}

/** config.json's record of the container for its network files (`network.container`), if it has one. */
function networkContainer(spec: JsonObject): { name: Json } | undefined {
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
    const out: JsonObject = {};
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
