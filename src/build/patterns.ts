/**
 * The path patterns of a build: Go's `filepath.Match` (COPY's wildcards:
 * `*` and `?` within one path component, `[a-z]` classes, `\` escapes) and
 * `.dockerignore` (the same, plus `**` across components, `!` exceptions,
 * and a match of a directory covering what is inside it; the last matching
 * line decides); and the shell's patterns of Dockerfile 1.7's `${VAR#pattern}`
 * and kin (`*` crossing `/`, matched without backtracking: `Glob`).
 */
import { posix } from "node:path";

/** A regular expression for one Go-style pattern; `globstar` lets `**` span components. */
function toRegExp(pattern: string, globstar: boolean): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      if (globstar && pattern[i + 1] === "*") {
        i++;
        // `**/` matches zero or more directories; a trailing `**` everything below.
        if (pattern[i + 1] === "/") {
          i++;
          re += "(?:.*/)?";
        } else re += ".*";
      } else re += "[^/]*";
    } else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) {
        re += "\\[";
        continue;
      }
      let body = pattern.slice(i + 1, end);
      if (body.startsWith("^") || body.startsWith("!")) body = "^" + body.slice(1);
      re += `[${body.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else if (c === "\\" && i + 1 < pattern.length) {
      re += escapeRe(pattern[++i]!);
    } else re += escapeRe(c);
  }
  return new RegExp(`^${re}$`);
}

const escapeRe = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/** Whether a pattern has wildcards (else COPY takes it as a plain path). */
export function hasWildcards(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Go's filepath.Match of a whole relative path, component by component (`*` never crosses `/`). */
export function matchPath(pattern: string, path: string): boolean {
  return toRegExp(pattern, false).test(path);
}

interface IgnoreRule {
  re: RegExp;
  exception: boolean;
}

/** `.dockerignore`: which context paths (relative, `/`-separated, no leading `./`) a build does not see. */
export class IgnoreRules {
  private readonly rules: IgnoreRule[];

  constructor(text: string) {
    this.rules = [];
    for (let line of text.split(/\r?\n/)) {
      if (line.startsWith("#")) continue;
      line = line.trim();
      if (line === "") continue;
      const exception = line.startsWith("!");
      if (exception) line = line.slice(1).trim();
      line = posix.normalize(line).replace(/^(\.?\/)+/, "").replace(/\/+$/, "");
      if (line === "" || line === ".") continue;
      this.rules.push({ re: toRegExp(line, true), exception });
    }
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** Whether `path` is left out: the last rule that matches it, or one of its parent directories, decides. */
  ignores(path: string): boolean {
    const parts = path.split("/");
    let ignored = false;
    for (const rule of this.rules) {
      for (let n = parts.length; n > 0; n--) {
        if (rule.re.test(parts.slice(0, n).join("/"))) {
          ignored = !rule.exception;
          break;
        }
      }
    }
    return ignored;
  }

  /** Whether an exception could bring back something inside the ignored directory `dir` (then it is walked). */
  mayReinclude(dir: string): boolean {
    return this.rules.some((r) => r.exception && (r.re.source.startsWith(`^${escapeRe(dir + "/")}`) || r.re.source.includes(".*")));
  }
}

/** A shell pattern, one element per character it matches (a star: any run of them). */
export type Glob = ({ literal: string } | { any: true } | { star: true } | { set: string; negated: boolean })[];

/** Pattern text (unquoted) as a Glob: the shell's `*`, `?` and `[…]` (`[!…]`, `[^…]` negated, ranges `a-z`). */
export function globOf(text: string): Glob {
  const out: Glob = [];
  for (let n = 0; n < text.length; n++) {
    const c = text[n]!;
    const close = c === "[" ? text.indexOf("]", n + 2) : -1;
    if (c === "*") out.push({ star: true });
    else if (c === "?") out.push({ any: true });
    else if (close > 0) {
      const inside = text.slice(n + 1, close);
      const negated = inside.startsWith("!") || inside.startsWith("^");
      out.push({ set: negated ? inside.slice(1) : inside, negated });
      n = close;
    } else out.push({ literal: c });
  }
  return out;
}

function inSet(set: string, c: string): boolean {
  for (let n = 0; n < set.length; n++) {
    if (set[n + 1] === "-" && n + 2 < set.length) {
      if (c >= set[n]! && c <= set[n + 2]!) return true;
      n += 2;
    } else if (set[n] === c) return true;
  }
  return false;
}

/**
 * For each index e of `value` (from `from` on), whether `value.slice(from, e)` matches `pattern` whole: one pass
 * of the pattern's states over the characters (no backtracking, so no pattern takes long: `*a*a*a*b` over a long
 * value hung a regular expression's match).
 */
export function matchEnds(pattern: Glob, value: string, from: number): boolean[] {
  const ends: boolean[] = new Array(value.length + 1).fill(false);
  // States: how much of the pattern is matched; a star may match nothing, so its state also holds the next.
  const close = (states: Set<number>) => {
    for (const s of [...states]) for (let t = s; t < pattern.length && "star" in pattern[t]!; t++) states.add(t + 1);
    return states;
  };
  let states = close(new Set([0]));
  for (let e = from; ; e++) {
    if (states.has(pattern.length)) ends[e] = true;
    if (e === value.length || states.size === 0) break;
    const c = value[e]!;
    const next = new Set<number>();
    for (const s of states) {
      const p = pattern[s];
      if (p === undefined) continue;
      if ("star" in p) next.add(s);
      else if ("any" in p || ("literal" in p && p.literal === c) || ("set" in p && inSet(p.set, c) !== p.negated)) next.add(s + 1);
    }
    states = close(next);
  }
  return ends;
}
