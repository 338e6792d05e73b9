/**
 * The functions a `--format` template can call: Go's text/template
 * builtins (and, or, not, len, index, slice, print, printf, println, eq, ne,
 * lt, le, gt, ge, html, js, urlquery) and the ones docker adds (json, join, split, title,
 * lower, upper, pad, truncate).
 */
import { formatNumber, goTypeName, printValue, structName, truth, typedNilJson } from "./format-template-values.js";

export type TemplateFunction = (...args: unknown[]) => unknown;

export const TEMPLATE_FUNCTIONS: Record<string, TemplateFunction> = {
  and: (...args) => {
    need(args, 1, "and");
    for (const a of args) if (!truth(a)) return a;
    return args[args.length - 1];
  },
  or: (...args) => {
    need(args, 1, "or");
    for (const a of args) if (truth(a)) return a;
    return args[args.length - 1];
  },
  not: (...args) => (exactly(args, 1, "not"), !truth(args[0])),
  len: (...args) => {
    exactly(args, 1, "len");
    const v = args[0];
    if (typeof v === "string") return Buffer.byteLength(v);
    if (Array.isArray(v)) return v.length;
    if (typeof v === "object" && v !== null) return Object.keys(v).length;
    throw new Error(`len of type ${goTypeName(v)}`);
  },
  index: (...args) => {
    need(args, 1, "index");
    let v = args[0];
    for (const key of args.slice(1)) {
      if (Array.isArray(v) || typeof v === "string") {
        if (typeof key !== "number" || !Number.isInteger(key)) throw new Error(`cannot index slice/array with type ${goTypeName(key)}`);
        if (key < 0 || key >= v.length) throw new Error(`index out of range: ${key}`);
        v = typeof v === "string" ? Buffer.from(v)[key] : v[key];
      } else if (typeof v === "object" && v !== null) {
        const map = v as Record<string, unknown>;
        const k = String(key);
        v = Object.prototype.hasOwnProperty.call(map, k) ? map[k] : Object.values(map).every((x) => typeof x === "string") ? "" : undefined;
      } else if (v === null || v === undefined) {
        throw new Error("index of untyped nil");
      } else {
        throw new Error(`can't index item of type ${goTypeName(v)}`);
      }
    }
    return v;
  },
  slice: (...args) => {
    need(args, 1, "slice");
    const v = args[0];
    if (typeof v !== "string" && !Array.isArray(v)) throw new Error(`can't slice item of type ${goTypeName(v)}`);
    const [from = 0, to = v.length] = args.slice(1) as number[];
    if (from < 0 || to > v.length || from > to) throw new Error(`index out of range: ${from}:${to}`);
    return v.slice(from, to);
  },
  print: (...args) => goSprint(args),
  println: (...args) => args.map((a) => printValue(a)).join(" ") + "\n",
  printf: (...args) => {
    need(args, 1, "printf");
    return sprintf(String(args[0]), args.slice(1));
  },
  eq: (...args) => {
    need(args, 2, "eq");
    return args.slice(1).some((b) => compare(args[0], b, "eq") === 0);
  },
  ne: (...args) => (exactly(args, 2, "ne"), compare(args[0], args[1], "ne") !== 0),
  lt: (...args) => (exactly(args, 2, "lt"), ordered(args[0], args[1], "lt") < 0),
  le: (...args) => (exactly(args, 2, "le"), ordered(args[0], args[1], "le") <= 0),
  gt: (...args) => (exactly(args, 2, "gt"), ordered(args[0], args[1], "gt") > 0),
  ge: (...args) => (exactly(args, 2, "ge"), ordered(args[0], args[1], "ge") >= 0),
  // docker's additions (cli/templates/templates.go)
  json: (...args) => (exactly(args, 1, "json"), goJson(args[0])),
  join: (...args) => {
    exactly(args, 2, "join");
    if (!Array.isArray(args[0])) throw new Error(`wrong type for value; expected []string; got ${goTypeName(args[0])}`);
    return args[0].map((v) => printValue(v)).join(String(args[1]));
  },
  split: (...args) => (exactly(args, 2, "split"), String(args[0]).split(String(args[1]))),
  title: (...args) => (exactly(args, 1, "title"), String(args[0]).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase())),
  lower: (...args) => (exactly(args, 1, "lower"), String(args[0]).toLowerCase()),
  upper: (...args) => (exactly(args, 1, "upper"), String(args[0]).toUpperCase()),
  pad: (...args) => (exactly(args, 3, "pad"), " ".repeat(Number(args[1])) + String(args[0]) + " ".repeat(Number(args[2]))),
  truncate: (...args) => {
    exactly(args, 2, "truncate");
    const chars = [...String(args[0])];
    return chars.length > Number(args[1]) ? chars.slice(0, Number(args[1])).join("") : String(args[0]);
  },
  // Go's escapers, of their arguments as print joins them (text/template's evalArgs).
  html: (...args) => goSprint(args).replace(/[\0"'&<>]/g, (c) => HTML_ESCAPES[c]!),
  js: (...args) => goSprint(args).replace(/[\\'"<>&=]|[\0-\x1f]/g, (c) => JS_ESCAPES[c] ?? `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`),
  // url.QueryEscape: UTF-8 bytes, unreserved characters kept, a space as "+".
  urlquery: (...args) => encodeURIComponent(goSprint(args)).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%20/g, "+"),
};

const HTML_ESCAPES: Record<string, string> = { "\0": "\uFFFD", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;" };
const JS_ESCAPES: Record<string, string> = { "\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D" };

function need(args: unknown[], n: number, name: string): void {
  if (args.length < n) throw new Error(`wrong number of args for ${name}: want at least ${n} got ${args.length}`);
}

function exactly(args: unknown[], n: number, name: string): void {
  if (args.length !== n) throw new Error(`wrong number of args for ${name}: want ${n} got ${args.length}`);
}

function compare(a: unknown, b: unknown, name: string): number {
  if (a === b) return 0;
  const basic = (v: unknown) => v === null || v === undefined || ["string", "number", "boolean"].includes(typeof v);
  if (!basic(a) || !basic(b)) throw new Error(`incompatible types for comparison`);
  if (a !== null && b !== null && a !== undefined && b !== undefined && typeof a !== typeof b) throw new Error(`incompatible types for comparison`);
  void name;
  return 1;
}

function ordered(a: unknown, b: unknown, name: string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  throw new Error(`incompatible types for comparison in ${name}`);
}

/** Go's fmt.Sprint: a space between operands when neither is a string. */
function goSprint(args: unknown[]): string {
  let out = "";
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== "string" && typeof args[i - 1] !== "string") out += " ";
    out += printValue(a);
  });
  return out;
}

/**
 * encoding/json without HTML escaping, as docker's `json` function. Objects
 * keep their key order (docker's typed structs); a listing's row context
 * has its keys sorted, as docker marshals it through a map.
 */
export function goJson(value: unknown): string {
  const replacer = (_k: string, v: unknown): unknown => {
    if (typeof v === "function") return undefined;
    const nil = typedNilJson(v);
    if (nil !== undefined) return nil === "null" ? null : undefined;
    if (structName(v) === undefined) return v;
    const record = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().map((k) => [k, record[k]]));
  };
  return JSON.stringify(value === undefined ? null : value, replacer) ?? "null";
}

/** Go's fmt.Sprintf for the verbs people use in formats: %v %s %d %q %t %f %e %g %x %X %o %c %%, flags -+ 0#, width, precision. */
export function sprintf(format: string, args: unknown[]): string {
  let argIndex = 0;
  return (
    format.replace(/%([-+ 0#]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])/g, (whole, flags: string, widthText: string | undefined, precText: string | undefined, verb: string) => {
      if (verb === "%") return "%";
      const width = widthText === "*" ? Number(args[argIndex++]) : widthText !== undefined ? Number(widthText) : undefined;
      const precision = precText === "*" ? Number(args[argIndex++]) : precText !== undefined ? Number(precText) : whole.includes(".") ? 0 : undefined;
      if (argIndex >= args.length) return `%!${verb}(MISSING)`;
      const arg = args[argIndex++];
      let text = formatVerb(verb, arg, flags, precision);
      if (width !== undefined && text.length < width) {
        if (flags.includes("-")) text = text.padEnd(width);
        else if (flags.includes("0") && /[dfeEgGxXob]/.test(verb) && typeof arg === "number") {
          const sign = /^[+-]/.test(text) ? text[0]! : "";
          text = sign + text.slice(sign.length).padStart(width - sign.length, "0");
        } else text = text.padStart(width);
      }
      return text;
    }) + (argIndex < args.length ? `%!(EXTRA ${args.slice(argIndex).map((a) => `${goTypeName(a)}=${printValue(a)}`).join(", ")})` : "")
  );
}

function formatVerb(verb: string, arg: unknown, flags: string, precision: number | undefined): string {
  const sign = (n: number, text: string) => (n >= 0 && flags.includes("+") ? "+" + text : n >= 0 && flags.includes(" ") ? " " + text : text);
  const bad = () => `%!${verb}(${goTypeName(arg)}=${printValue(arg)})`;
  switch (verb) {
    case "v":
      return flags.includes("+") || flags.includes("#") ? printValue(arg) : printValue(arg);
    case "s": {
      if (typeof arg !== "string" && (typeof arg !== "object" || arg === null)) return typeof arg === "number" || typeof arg === "boolean" ? bad() : printValue(arg);
      const text = printValue(arg);
      return precision !== undefined ? [...text].slice(0, precision).join("") : text;
    }
    case "q":
      if (typeof arg === "string") return JSON.stringify(arg);
      if (typeof arg === "number" && Number.isInteger(arg)) return `'${String.fromCodePoint(arg)}'`;
      return bad();
    case "t":
      return typeof arg === "boolean" ? String(arg) : bad();
    case "d":
      return typeof arg === "number" && Number.isInteger(arg) ? sign(arg, formatNumber(arg)) : bad();
    case "c":
      return typeof arg === "number" ? String.fromCodePoint(arg) : bad();
    case "x":
    case "X":
    case "o":
    case "b": {
      const base = verb === "o" ? 8 : verb === "b" ? 2 : 16;
      let text: string;
      if (typeof arg === "number" && Number.isInteger(arg)) text = sign(arg, arg.toString(base));
      else if (typeof arg === "string" && base === 16) text = Buffer.from(arg).toString("hex");
      else return bad();
      if (flags.includes("#") && base === 16) text = "0x" + text;
      return verb === "X" ? text.toUpperCase() : text;
    }
    case "f":
    case "F":
      return typeof arg === "number" ? sign(arg, arg.toFixed(precision ?? 6)) : bad();
    case "e":
    case "E": {
      if (typeof arg !== "number") return bad();
      const text = arg.toExponential(precision ?? 6).replace(/e([+-])(\d)$/, "e$10$2");
      return sign(arg, verb === "E" ? text.toUpperCase() : text);
    }
    case "g":
    case "G":
      return typeof arg === "number" ? sign(arg, precision !== undefined ? String(Number(arg.toPrecision(Math.max(precision, 1)))) : formatNumber(arg)) : bad();
    default:
      return `%!${verb}(${goTypeName(arg)}=${printValue(arg)})`;
  }
}
