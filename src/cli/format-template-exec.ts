/**
 * Evaluates a parsed `--format` template (format-template-parse.ts) the way
 * Go's text/template does for the values docker formats: plain objects are
 * maps (a missing key prints `<no value>`, or "" in a map of strings),
 * `strictContext` objects are structs (a missing field is an error, as
 * `docker ps --format '{{.Nope}}'` gives), function-valued fields are
 * methods (`{{.Label "k"}}`), and values print as Go's fmt prints them
 * (`true`, `[a b]`, `map[k:v]`, `<nil>`).
 */
import { UsageError } from "../errors.js";
import { type Arg, type Command, type Node, type Pipeline, parseTemplate, type Template } from "./format-template-parse.js";
import { TEMPLATE_FUNCTIONS, type TemplateFunction } from "./format-template-funcs.js";
import { goTypeName, isMap, printValue, structName, truth } from "./format-template-values.js";

export { strictContext } from "./format-template-values.js";


export class TemplateExecError extends UsageError {}

class Break {}
class Continue {}

/** Parses and runs `source` against `data`; errors are one-line UsageErrors in Go's wording. */
/** A `--format` value as a template: docker's `json` keyword means `{{json .}}`. */
export function formatTemplate(format: string): string {
  return format === "json" ? "{{json .}}" : format;
}

export function renderTemplate(source: string | Template, data: unknown, funcs: Record<string, TemplateFunction> = {}): string {
  const template = typeof source === "string" ? parseTemplate(source) : source;
  return new Executor(template, data, { ...TEMPLATE_FUNCTIONS, ...funcs }).run();
}

class Executor {
  private out = "";
  private readonly vars: { name: string; value: unknown }[];

  constructor(
    private readonly template: Template,
    root: unknown,
    private readonly funcs: Record<string, TemplateFunction>,
  ) {
    this.vars = [{ name: "$", value: root }];
  }

  run(): string {
    this.walk(this.template.nodes, this.vars[0]!.value);
    return this.out;
  }

  private walk(nodes: Node[], dot: unknown): void {
    for (const node of nodes) {
      switch (node.kind) {
        case "text":
          this.out += node.text;
          break;
        case "action": {
          const value = this.pipeline(node.pipe, dot, node.pos);
          if (node.pipe.decl.length === 0) this.out += printValue(value);
          break;
        }
        case "if":
        case "with": {
          const mark = this.vars.length;
          const value = this.pipeline(node.pipe, dot, node.pos);
          if (truth(value)) this.walk(node.list, node.kind === "with" ? value : dot);
          else if (node.elseList) this.walk(node.elseList, dot);
          this.vars.length = mark;
          break;
        }
        case "range":
          this.range(node, dot);
          break;
        case "break":
          throw new Break();
        case "continue":
          throw new Continue();
      }
    }
  }

  private range(node: Extract<Node, { kind: "range" }>, dot: unknown): void {
    const mark = this.vars.length;
    // The pipeline's own declaration names the key and element; evaluate without binding.
    const value = this.pipeline({ ...node.pipe, decl: [] }, dot, node.pos);
    let entries: [unknown, unknown][];
    if (Array.isArray(value)) entries = value.map((v, i) => [i, v]);
    else if (isMap(value)) entries = Object.keys(value).sort().map((k) => [k, (value as Record<string, unknown>)[k]]);
    else if (value === null || value === undefined) entries = [];
    else if (typeof value === "number" && Number.isInteger(value) && value >= 0) entries = Array.from({ length: value }, (_v, i) => [i, i]);
    else throw this.fail(node.pos, node.pipe.source, `range can't iterate over ${printValue(value)}`);
    if (entries.length === 0) {
      if (node.elseList) this.walk(node.elseList, dot);
      return;
    }
    for (const [key, element] of entries) {
      const decl = node.pipe.decl;
      if (decl.length === 1) this.vars.push({ name: decl[0]!, value: element });
      if (decl.length === 2) this.vars.push({ name: decl[0]!, value: key }, { name: decl[1]!, value: element });
      try {
        this.walk(node.list, element);
      } catch (err) {
        if (err instanceof Break) break;
        if (!(err instanceof Continue)) throw err;
      } finally {
        this.vars.length = mark;
      }
    }
  }

  private pipeline(pipe: Pipeline, dot: unknown, pos: number): unknown {
    let value: unknown;
    pipe.cmds.forEach((cmd, i) => {
      value = this.command(cmd, dot, i === 0 ? undefined : { value }, pos, pipe.source);
    });
    if (pipe.decl.length > 0) {
      const name = pipe.decl[0]!;
      if (pipe.assign) {
        const slot = [...this.vars].reverse().find((v) => v.name === name);
        if (!slot) throw this.fail(pos, pipe.source, `undefined variable: ${name}`);
        slot.value = value;
      } else {
        this.vars.push({ name, value });
      }
    }
    return value;
  }

  private command(cmd: Command, dot: unknown, piped: { value: unknown } | undefined, pos: number, source: string): unknown {
    const [first, ...rest] = cmd.args;
    const extra = () => [...rest.map((a) => this.arg(a, dot, pos, source)), ...(piped ? [piped.value] : [])];
    switch (first!.kind) {
      case "ident": {
        const fn = this.funcs[first!.name];
        if (!fn) throw new UsageError(`template parsing error: template: :1: function "${first!.name}" not defined`);
        try {
          return fn(...extra());
        } catch (err) {
          if (err instanceof UsageError) throw err;
          throw this.fail(pos, source, `error calling ${first!.name}: ${(err as Error).message}`);
        }
      }
      case "field":
        return this.chain(dot, first!.chain, extra(), pos, source, "");
      case "variable":
        return this.chain(this.variable(first!.name, pos, source), first!.chain, extra(), pos, source, first!.name);
      case "pipe":
        return this.chain(this.pipeline(first!.pipe, dot, pos), first!.chain, extra(), pos, source, "");
      default:
        if (rest.length > 0 || piped) throw this.fail(pos, source, `can't give argument to non-function ${source}`);
        return this.arg(first!, dot, pos, source);
    }
  }

  private arg(arg: Arg, dot: unknown, pos: number, source: string): unknown {
    switch (arg.kind) {
      case "string":
      case "number":
      case "bool":
        return arg.value;
      case "nil":
        return null;
      case "field":
        return this.chain(dot, arg.chain, [], pos, source, "");
      case "variable":
        return this.chain(this.variable(arg.name, pos, source), arg.chain, [], pos, source, arg.name);
      case "pipe":
        return this.chain(this.pipeline(arg.pipe, dot, pos), arg.chain, [], pos, source, "");
      case "ident":
        return this.command({ args: [arg] }, dot, undefined, pos, source);
    }
  }

  private variable(name: string, pos: number, source: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    throw this.fail(pos, source, `undefined variable: ${name}`);
  }

  /** `.A.B` from `value`; arguments go to the last field when it is a method. */
  private chain(value: unknown, fields: string[], args: unknown[], pos: number, source: string, base: string): unknown {
    let current = value;
    for (let i = 0; i < fields.length; i++) {
      const name = fields[i]!;
      const last = i === fields.length - 1;
      current = this.field(current, name, last ? args : [], pos, source, `${base}.${fields.slice(0, i + 1).join(".")}`);
    }
    if (fields.length === 0 && args.length > 0) throw this.fail(pos, source, `can't give argument to non-function ${base || "."}`);
    return current;
  }

  private field(receiver: unknown, name: string, args: unknown[], pos: number, source: string, shown: string): unknown {
    if (receiver === null || receiver === undefined) throw this.fail(pos, source, `nil pointer evaluating interface {}.${name}`);
    if (typeof receiver !== "object" || Array.isArray(receiver)) {
      throw this.fail(pos, source, `can't evaluate field ${name} in type ${goTypeName(receiver)}`);
    }
    const struct = structName(receiver);
    const record = receiver as Record<string, unknown>;
    if (!Object.prototype.hasOwnProperty.call(record, name)) {
      if (struct !== undefined) throw this.fail(pos, source, `can't evaluate field ${name} in type ${struct}`);
      if (args.length > 0) throw this.fail(pos, source, `${shown} is not a method but has arguments`);
      return zeroValue(record);
    }
    const value = record[name];
    if (typeof value === "function") return (value as (...a: unknown[]) => unknown).apply(receiver, args);
    if (args.length > 0) throw this.fail(pos, source, `${name} has arguments but cannot be invoked as function`);
    return value;
  }

  private fail(pos: number, source: string, message: string): TemplateExecError {
    const text = this.template.source;
    const line = text.slice(0, pos).split("\n").length;
    const column = pos - text.lastIndexOf("\n", pos - 1) - 1;
    return new TemplateExecError(`template: :${line}:${column}: executing "" at <${source}>: ${message}`);
  }
}

/**
 * A key a map does not have: Go gives the element type's zero value. Docker's
 * maps of strings (Labels, Options) then print "", anything else `<no value>`.
 */
function zeroValue(map: Record<string, unknown>): unknown {
  const values = Object.values(map);
  return values.length > 0 && values.every((v) => typeof v === "string") ? "" : undefined;
}

