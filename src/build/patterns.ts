/**
 * The path patterns of a build: Go's `filepath.Match` (COPY's wildcards:
 * `*` and `?` within one path component, `[a-z]` classes, `\` escapes) and
 * `.dockerignore` (the same, plus `**` across components, `!` exceptions,
 * and a match of a directory covering what is inside it; the last matching
 * line decides).
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
