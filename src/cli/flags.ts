import { UsageError } from "../errors.js";
import type { Platform } from "../image/oci.js";
import { parsePlatform } from "../image/platform.js";

/**
 * A small docker/pflag-compatible flag parser: `--name value`,
 * `--name=value`, `-n value`, `-nvalue`, `-n=value`, clustered booleans
 * (`-it`, `-ite K=V`), `--` to end flags, `--bool=false`.
 */
export interface FlagDef {
  /** Long name without dashes, e.g. "env". */
  name: string;
  short?: string;
  /** Takes a value (else boolean). */
  value?: boolean;
  /** May be given more than once (values collected in order). */
  repeat?: boolean;
}

export interface ParsedFlags {
  /** Booleans by long name. */
  bools: Set<string>;
  /** Booleans given as `=false` (for those whose default is true: `--sig-proxy=false`). */
  cleared: Set<string>;
  /** Values by long name; single-valued flags keep the last one. */
  values: Map<string, string[]>;
  positionals: string[];
  help: boolean;
}

export interface ParseOptions {
  /** Stop at the first positional (docker run: everything after IMAGE is the command). */
  stopAtPositional?: boolean;
}

/** What tsbox offers for a docker flag it does not have, said with the unknown-flag error. */
const INSTEAD: Record<string, string> = {
  link: "docker's legacy links are not in tsbox: put the containers on a network of your own (tsbox network create NET, then --network NET), where they reach each other by name or --network-alias",
};

export function parseFlags(args: string[], defs: FlagDef[], options: ParseOptions = {}): ParsedFlags {
  const byLong = new Map(defs.map((d) => [d.name, d]));
  const byShort = new Map(defs.filter((d) => d.short).map((d) => [d.short!, d]));
  const out: ParsedFlags = { bools: new Set(), cleared: new Set(), values: new Map(), positionals: [], help: false };
  const setValue = (def: FlagDef, value: string) => {
    const list = out.values.get(def.name) ?? [];
    if (def.repeat) list.push(value);
    else list.splice(0, list.length, value);
    out.values.set(def.name, list);
  };
  const setBool = (def: FlagDef, raw: string | undefined, shown: string) => {
    const on = raw === undefined || boolValue(raw, shown);
    if (on) {
      out.bools.add(def.name);
      out.cleared.delete(def.name);
    } else {
      out.bools.delete(def.name);
      out.cleared.add(def.name);
    }
  };

  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      if (name === "help" && !byLong.has("help")) {
        out.help = true;
        continue;
      }
      const def = byLong.get(name);
      if (!def) throw new UsageError(`unknown flag: --${name}${INSTEAD[name] ? `: ${INSTEAD[name]}` : ""}`);
      if (!def.value) setBool(def, inline, `--${name}`);
      else if (inline !== undefined) setValue(def, inline);
      else if (i + 1 < args.length) setValue(def, args[++i]!);
      else throw new UsageError(`flag --${name} needs a value`);
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A cluster of shorthands; a value-taking one eats the rest of the cluster.
      for (let j = 1; j < arg.length; j++) {
        const ch = arg[j]!;
        const def = byShort.get(ch);
        if (!def) {
          if (ch === "h" || (ch === "?" && j === 1)) {
            out.help = true;
            continue;
          }
          throw new UsageError(`unknown shorthand flag: '${ch}' in ${arg}`);
        }
        if (!def.value) {
          if (arg[j + 1] === "=") {
            setBool(def, arg.slice(j + 2), `-${ch}`);
            break;
          }
          setBool(def, undefined, `-${ch}`);
          continue;
        }
        let rest = arg.slice(j + 1);
        if (rest.startsWith("=")) rest = rest.slice(1);
        if (rest !== "" || arg[j + 1] === "=") setValue(def, rest);
        else if (i + 1 < args.length) setValue(def, args[++i]!);
        else throw new UsageError(`flag -${ch} needs a value`);
        break;
      }
      continue;
    }
    out.positionals.push(arg);
    if (options.stopAtPositional) {
      out.positionals.push(...args.slice(i + 1));
      break;
    }
  }
  return out;
}

/** pflag's boolean values: Go's strconv.ParseBool (`--rm=1`, `-t=0`, `--init=T`, `--detach=True`). */
const BOOL_VALUES = new Map([..."1 t T TRUE true True".split(" ").map((v) => [v, true] as const), ..."0 f F FALSE false False".split(" ").map((v) => [v, false] as const)]);

function boolValue(raw: string, shown: string): boolean {
  const value = BOOL_VALUES.get(raw);
  if (value === undefined) throw new UsageError(`invalid value "${raw}" for flag ${shown}: expected true or false (or 1, 0, t, f)`);
  return value;
}

export function lastValue(flags: ParsedFlags, name: string): string | undefined {
  const list = flags.values.get(name);
  return list?.[list.length - 1];
}

/**
 * docker's integer flag value (`--pids-limit 10`): a whole number, which a JS number must hold exactly (past
 * 2^53 it silently became another, or "unlimited"). `arg`: the whole argument when the number is part of it.
 */
export function intArgument(text: string, flag: string, arg = text): number {
  if (!/^[-+]?\d+$/.test(text.trim())) throw new UsageError(`invalid argument "${arg}" for "--${flag}" flag: expected an integer`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`invalid argument "${arg}" for "--${flag}" flag: strconv.ParseInt: parsing "${text}": value out of range`);
  return n;
}

export function allValues(flags: ParsedFlags, name: string): string[] {
  return flags.values.get(name) ?? [];
}

/** `--platform os/arch[/variant]`, parsed (one rule for every command that takes it). */
export function platformFlag(flags: ParsedFlags): Platform | undefined {
  const text = lastValue(flags, "platform");
  return text === undefined ? undefined : parsePlatform(text);
}
