/**
 * Dockerfile syntax (docs.docker.com/reference/dockerfile): parser directives
 * (`# escape=`), comments, line continuations, here-documents, and each
 * instruction's words.
 * Pure: the builder (builder.ts) gives meaning to what this returns. Every
 * error names the line, as docker's "dockerfile parse error on line N" does.
 */
import { BuildError } from "./build-error.js";
import { type Glob, globOf, matchEnds } from "./patterns.js";

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, … */
  keyword: string;
  /** `--name=value` flags before the arguments (COPY --from=…, FROM --platform=…): the last of each name. */
  flags: Map<string, string>;
  /** Every flag in order, repeats included (RUN --mount=… --mount=…). */
  flagList: [string, string][];
  /** The arguments as written, continuation lines joined (the shell form's command). */
  rest: string;
  /** The exec form's words when the arguments are a JSON array of strings. */
  json?: string[];
  /** 1-based line of the instruction's first line. */
  line: number;
  /** The instruction as shown in progress output and history: keyword and arguments on one line. */
  text: string;
  /** RUN, COPY and ADD's here-documents (`<<EOF` … `EOF`), in the order they were opened. */
  heredocs?: Heredoc[];
}

/** A here-document of RUN, COPY or ADD (docker's Dockerfile 1.4 syntax). */
export interface Heredoc {
  /** The delimiter word: COPY's file name. */
  name: string;
  /** Its lines, each ending in a newline (`<<-` strips their leading tabs). */
  body: string;
  /** `<<EOF` unquoted: `$VAR`s in COPY's content expand; `<<"EOF"` or `<<'EOF'`: as written. */
  expand: boolean;
  /** The lines as written, the closing delimiter's included: what RUN hands its shell after the command. */
  raw: string;
}

/**
 * A shell word that opens a here-document (BuildKit's `heredocsFromLine`): it starts with `<<`, `<<-` or an fd's
 * `2<<`, then `EOF`, `"EOF"` or `'EOF'` (a letter or `_` first). Only a word's start counts, so a quoted
 * `"s|<<URL>>|x|"` or `$((1<<2))` is none.
 */
const HEREDOC = /^\d*<<(-?)(["']?)([A-Za-z_][A-Za-z0-9_]*)\2/;

export interface Dockerfile {
  /** `\` (default) or a backtick (`# escape=\``). */
  escape: string;
  instructions: Instruction[];
  /** What docker warns about but builds (an empty continuation line), each naming its line. */
  warnings: string[];
}

const KNOWN = new Set([
  "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT", "VOLUME", "USER",
  "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL",
]);

/** Flags each instruction takes; any other is an error (docker: "unknown flag"). */
const FLAGS: Record<string, string[]> = {
  FROM: ["platform"],
  COPY: ["from", "chown", "chmod", "link", "parents", "exclude"],
  ADD: ["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"],
  HEALTHCHECK: ["interval", "timeout", "start-period", "start-interval", "retries"],
  RUN: ["mount", "network", "security"],
};

export function parseDockerfile(text: string): Dockerfile {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  let escape = "\\";
  let i = 0;
  // Directives: `# key=value` lines at the very top, before anything else (a blank line ends them).
  const seen = new Set<string>();
  for (; i < lines.length; i++) {
    const m = /^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/.exec(lines[i]!);
    if (!m) break;
    const key = m[1]!.toLowerCase();
    if (seen.has(key)) throw new BuildError(`dockerfile parse error on line ${i + 1}: only one ${key} parser directive can be used`);
    seen.add(key);
    if (key === "escape") {
      if (m[2] !== "\\" && m[2] !== "`") throw new BuildError(`dockerfile parse error on line ${i + 1}: invalid escape token '${m[2]}' does not match ` + "` or \\");
      escape = m[2]!;
    }
  }
  const instructions: Instruction[] = [];
  const warnings: string[] = [];
  while (i < lines.length) {
    const raw = lines[i]!;
    if (/^\s*(#|$)/.test(raw)) {
      i++;
      continue;
    }
    const start = i;
    let joined = "";
    let line = raw;
    // Continuation: the escape character last on the line (trailing blanks ignored); comment lines inside are
    // dropped, and so are blank ones, with docker's warning (BuildKit's NoEmptyContinuation).
    for (;;) {
      const trimmed = line.replace(/\s+$/, "");
      if (trimmed.endsWith(escape) && !trimmed.endsWith(escape + escape)) {
        joined += trimmed.slice(0, -1);
        i++;
        const blank: number[] = [];
        for (; i < lines.length && /^\s*(#|$)/.test(lines[i]!); i++) if (!lines[i]!.includes("#")) blank.push(i + 1);
        // (The file's last newline makes no line of its own.)
        if (i < lines.length) for (const n of blank) warnings.push(`line ${n}: empty continuation line (docker: empty continuation lines will become errors in a future release)`);
        if (i >= lines.length) break;
        line = lines[i]!;
        continue;
      }
      joined += line;
      i++;
      break;
    }
    const ins = parseInstruction(joined.trim(), start + 1);
    if (!ins.json && (ins.keyword === "RUN" || ins.keyword === "COPY" || ins.keyword === "ADD")) {
      const heredocs: Heredoc[] = [];
      for (const word of lex(ins.rest, new Map(), "\\", start + 1, { split: true, raw: true })) {
        const m = HEREDOC.exec(word);
        if (!m) continue;
        const [, strip, quote, name] = m as unknown as [string, string, string, string];
        const body: string[] = [];
        const raw: string[] = [];
        for (;;) {
          if (i >= lines.length) throw new BuildError(`dockerfile parse error on line ${start + 1}: unterminated heredoc: no line ${name} closes <<${strip}${quote}${name}${quote}`);
          const text = lines[i++]!;
          raw.push(text);
          const content = strip ? text.replace(/^\t+/, "") : text;
          if (content === name) break;
          body.push(content);
        }
        heredocs.push({ name, body: body.map((l) => `${l}\n`).join(""), expand: quote === "", raw: raw.join("\n") });
      }
      if (heredocs.length > 0) ins.heredocs = heredocs;
    }
    instructions.push(ins);
  }
  return { escape, instructions, warnings };
}

function parseInstruction(text: string, line: number): Instruction {
  const m = /^(\S+)\s*([\s\S]*)$/.exec(text)!;
  const keyword = m[1]!.toUpperCase();
  if (!KNOWN.has(keyword)) {
    // Capped: binary read as a Dockerfile (an empty tar is 10 KB of zeros) made one line of all of it.
    const word = m[1]!.length > 40 ? `${m[1]!.slice(0, 40)}… (${m[1]!.length} characters)` : m[1];
    throw new BuildError(`dockerfile parse error on line ${line}: unknown instruction: ${word}`);
  }
  let rest = m[2]!;
  const flags = new Map<string, string>();
  const flagList: [string, string][] = [];
  if (FLAGS[keyword]) {
    for (;;) {
      const f = /^--([a-z-]+)(?:=(\S*))?(?:\s+|$)/.exec(rest);
      if (!f) break;
      if (!FLAGS[keyword]?.includes(f[1]!)) throw new BuildError(`dockerfile parse error on line ${line}: unknown flag: --${f[1]} (${keyword})`);
      flags.set(f[1]!, f[2] ?? "true");
      flagList.push([f[1]!, f[2] ?? "true"]);
      rest = rest.slice(f[0].length);
    }
  }
  const json = jsonForm(rest);
  const instruction: Instruction = { keyword, flags, flagList, rest, line, text: `${keyword} ${flagList.map(([k, v]) => `--${k}=${v} `).join("")}${rest}`.trim() };
  if (json) instruction.json = json;
  return instruction;
}

/** `["a", "b"]`: the exec form; anything else (including invalid JSON) is the shell form, as docker reads it. */
function jsonForm(rest: string): string[] | undefined {
  if (!rest.startsWith("[")) return undefined;
  try {
    const v = JSON.parse(rest) as unknown;
    if (Array.isArray(v) && v.every((w) => typeof w === "string")) return v as string[];
  } catch {
    // shell form
  }
  return undefined;
}

/**
 * Splits arguments into words the way docker's shell lexer does for ENV,
 * LABEL, ARG, COPY and friends: blanks separate words, quotes group and are
 * removed, the escape character quotes the next one, and `$VAR`, `${VAR}`,
 * `${VAR:-default}` and `${VAR:+alternate}` expand from `vars` (single
 * quotes keep `$` as it is).
 */
export function splitWords(text: string, vars: ReadonlyMap<string, string>, escape = "\\", line = 0): string[] {
  return lex(text, vars, escape, line, { split: true, raw: false });
}

/**
 * The whole argument as one word, blanks kept (BuildKit's `parseString` and
 * `ProcessWord` for WORKDIR, USER and STOPSIGNAL: `WORKDIR /my dir`): quotes
 * removed, escapes and `$VAR`s as `splitWords` reads them.
 */
export function oneWord(text: string, vars: ReadonlyMap<string, string>, escape = "\\", line = 0): string {
  return lex(text, vars, escape, line, { split: false, raw: false })[0] ?? "";
}

/**
 * docker's shell lexer. `split`: blanks outside quotes separate words (else
 * they are part of the one word). `raw`: the words as written, quotes and
 * escapes kept, nothing expanded, an unmatched quote no error (BuildKit's
 * `RawQuotes`/`RawEscapes`, how it finds here-documents).
 */
function lex(text: string, vars: ReadonlyMap<string, string>, escape: string, line: number, mode: { split: boolean; raw: boolean }): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: '"' | "'" | null = null;
  const dollar = (i: number) => (mode.raw ? ((word += "$"), i) : expand(text, i, vars, (s) => (word += s), line, escape));
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      if (c !== "'" || mode.raw) word += c;
      continue;
    }
    if (c === escape && i + 1 < text.length) {
      const next = text[++i]!;
      // Inside double quotes only the quote, the escape and `$` are escapable.
      word += mode.raw ? c + next : quote === '"' && next !== '"' && next !== escape && next !== "$" ? c + next : next;
      inWord = true;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = null;
      if (c === "$") i = dollar(i);
      else if (c !== '"' || mode.raw) word += c;
      continue;
    }
    if (mode.split && /\s/.test(c)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '"' || c === "'") quote = c;
    if (c === "$") i = dollar(i);
    else if ((c !== '"' && c !== "'") || mode.raw) word += c;
  }
  if (quote && !mode.raw) throw new BuildError(`dockerfile parse error on line ${line}: unmatched ${quote} in: ${text}`);
  if (inWord) words.push(word);
  return words;
}

/** `$VAR` forms expanded in one exec-form word, nothing else touched (its quotes are the JSON's, already gone). */
export function expandWord(text: string, vars: ReadonlyMap<string, string>, escape = "\\", line = 0): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === escape && text[i + 1] === "$") out += text[++i];
    else if (c === "$") i = expand(text, i, vars, (s) => (out += s), line, escape);
    else out += c;
  }
  return out;
}

/**
 * Expands the variable at text[i] (a `$`); returns the index of its last character. The word of
 * `${VAR:-word}` / `${VAR:+word}` / `${VAR:?message}` (and their forms without `:`, for an unset VAR only) is read
 * as docker's lexer reads it: up to its own `}`, its own `$VAR`s
 * and `${…}`s expanded (`${A:-${B}x}`), the escape character quoting the next one.
 */
function expand(text: string, i: number, vars: ReadonlyMap<string, string>, emit: (s: string) => void, line: number, escape = "\\"): number {
  const simple = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1));
  if (simple) {
    emit(vars.get(simple[0]) ?? "");
    return i + simple[0].length;
  }
  if (text[i + 1] !== "{") {
    emit("$");
    return i;
  }
  const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 2))?.[0];
  let j = i + 2 + (name?.length ?? 0);
  if (name !== undefined && text[j] === "}") {
    emit(vars.get(name) ?? "");
    return j;
  }
  if (name !== undefined && (text[j] === "#" || text[j] === "%" || text[j] === "/")) return trimOrReplace(text, i, j, name, vars, emit, line, escape);
  // `:-` `:+` `:?` treat an empty value as unset; `-` `+` `?` only an unset one (BuildKit's lexer).
  const colon = text[j] === ":";
  const op = text[colon ? j + 1 : j];
  if (name === undefined || (op !== "-" && op !== "+" && op !== "?")) {
    const close = text.indexOf("}", i + 2);
    if (close < 0) throw new BuildError(`dockerfile parse error on line ${line}: missing '}' in: ${text}`);
    throw new BuildError(`dockerfile parse error on line ${line}: bad substitution \${${text.slice(i + 2, close)}}`);
  }
  let word = "";
  for (j += colon ? 2 : 1; j < text.length && text[j] !== "}"; j++) {
    const c = text[j]!;
    if (c === escape && j + 1 < text.length) word += text[++j];
    else if (c === "$") j = expand(text, j, vars, (s) => (word += s), line, escape);
    else word += c;
  }
  if (j >= text.length) throw new BuildError(`dockerfile parse error on line ${line}: missing '}' in: ${text}`);
  const value = vars.get(name);
  const set = value !== undefined && (!colon || value !== "");
  if (op === "?" && !set) throw new BuildError(`dockerfile parse error on line ${line}: ${name}: ${word || "is not allowed to be unset"}`);
  emit(op === "-" ? (set ? value! : word) : op === "+" ? (set ? word : "") : (value ?? ""));
  return j;
}

/**
 * Dockerfile 1.7's `${VAR#pattern}` `${VAR##pattern}` (the shortest / longest prefix matching the shell pattern
 * removed), `${VAR%pattern}` `${VAR%%pattern}` (suffix), `${VAR/pattern/text}` (the first match replaced)
 * `${VAR//pattern/text}` (every match), from text[j] (the operator) on; returns the index of the closing `}`.
 * Patterns are the shell's: `*`, `?`, `[…]` (`[!…]` negated), the escape character quoting the next one; their
 * `$VAR`s expanded (and globbing, as the shell's).
 */
function trimOrReplace(text: string, i: number, j: number, name: string, vars: ReadonlyMap<string, string>, emit: (s: string) => void, line: number, escape: string): number {
  const op = text[j] === text[j + 1] ? text.slice(j, j + 2) : text[j]!;
  const pattern: Glob = [];
  let replacement = "";
  let inPattern = true;
  let k = j + op.length;
  for (; k < text.length && text[k] !== "}"; k++) {
    const c = text[k]!;
    const close = c === "[" && inPattern ? text.indexOf("]", k + 2) : -1;
    if (c === "/" && inPattern && op.startsWith("/")) inPattern = false;
    else if (close > 0 && close < text.indexOf("}", k)) {
      pattern.push(...globOf(text.slice(k, close + 1)));
      k = close;
    } else if (c === escape && k + 1 < text.length) {
      k++;
      if (inPattern) pattern.push({ literal: text[k]! });
      else replacement += text[k];
    } else if (c === "$") k = expand(text, k, vars, (s) => (inPattern ? pattern.push(...globOf(s)) : (replacement += s)), line, escape);
    else if (inPattern) pattern.push(...globOf(c));
    else replacement += c;
  }
  if (k >= text.length) throw new BuildError(`dockerfile parse error on line ${line}: missing '}' in: ${text}`);
  const value = vars.get(name) ?? "";
  let result = value;
  if (op === "#" || op === "##") {
    const ends = matchEnds(pattern, value, 0);
    const end = op === "#" ? ends.indexOf(true) : ends.lastIndexOf(true);
    if (end >= 0) result = value.slice(end);
  } else if (op === "%" || op === "%%") {
    // A suffix is a prefix of the reversed value matching the reversed pattern.
    const ends = matchEnds([...pattern].reverse(), [...value].reverse().join(""), 0);
    const length = op === "%" ? ends.indexOf(true) : ends.lastIndexOf(true);
    if (length >= 0) result = value.slice(0, value.length - length);
  } else if (pattern.length > 0) {
    // The longest match at the leftmost place one starts (the shell's), then on after it for `//`.
    result = "";
    let at = 0;
    let replaced = false;
    while (at <= value.length) {
      const end = replaced && op === "/" ? -1 : matchEnds(pattern, value, at).lastIndexOf(true);
      if (end > at) {
        result += replacement;
        replaced = true;
        at = end;
      } else {
        if (at < value.length) result += value[at];
        at++;
      }
    }
  }
  emit(result);
  return k;
}

/**
 * `KEY=VALUE …` (ENV, LABEL, ARG with values), or ENV's and LABEL's old
 * `KEY the rest` form; values expanded with `vars` as they were before this
 * instruction (docker: `ENV a=1 b=$a` gives b the earlier a).
 */
export function keyValuePairs(ins: Instruction, vars: ReadonlyMap<string, string>, escape: string, allowOldForm: boolean): [string, string][] {
  const words = splitWords(ins.rest, vars, escape, ins.line);
  if (words.length === 0) throw new BuildError(`dockerfile parse error on line ${ins.line}: ${ins.keyword} requires at least one argument`);
  if (!words[0]!.includes("=")) {
    if (!allowOldForm || words.length < 2) throw new BuildError(`dockerfile parse error on line ${ins.line}: ${ins.keyword} names must be followed by =VALUE: ${ins.rest}`);
    // The old form: the first word is the key, the rest of the line (expanded, blanks kept) the value.
    const key = words[0]!;
    const after = ins.rest.trimStart().slice(ins.rest.trimStart().search(/\s/)).trim();
    // One word as BuildKit's ProcessWord reads it: `ENV A b  "c  d"` is `b  c  d` (words joined by one blank lost them).
    return [[key, oneWord(after, vars, escape, ins.line)]];
  }
  return words.map((w) => {
    const eq = w.indexOf("=");
    if (eq <= 0) throw new BuildError(`dockerfile parse error on line ${ins.line}: ${ins.keyword} expects KEY=VALUE, got: ${w}`);
    return [w.slice(0, eq), w.slice(eq + 1)];
  });
}
