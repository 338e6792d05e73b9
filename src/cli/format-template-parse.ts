/**
 * The parser of docker's `--format` language: Go's text/template, the part
 * docker users write. Actions `{{…}}` with `{{-`/`-}}` trimming and
 * comments; pipelines of commands (`.A.B`, `$`, `$x.F`, literals, function
 * calls, `( … )`) joined by `|`; `$x := …` / `$x = …`; if / else if / else,
 * range (with `$i, $e :=`), with, break, continue, end.
 * Evaluation lives in format-template-exec.ts.
 */
import { UsageError } from "../errors.js";

export type Node =
  | { kind: "text"; text: string }
  | { kind: "action"; pipe: Pipeline; pos: number }
  | { kind: "if" | "with"; pipe: Pipeline; list: Node[]; elseList: Node[] | null; pos: number }
  | { kind: "range"; pipe: Pipeline; list: Node[]; elseList: Node[] | null; pos: number }
  | { kind: "break" | "continue"; pos: number };

export interface Pipeline {
  /** Variables declared (`:=`) or assigned (`=`) by the pipeline. */
  decl: string[];
  assign: boolean;
  cmds: Command[];
  /** The source text, for error messages (Go's `at <.Foo>`). */
  source: string;
}

export interface Command {
  args: Arg[];
}

export type Arg =
  | { kind: "field"; chain: string[] } // .A.B (chain [] is `.`)
  | { kind: "variable"; name: string; chain: string[] } // $x.A
  | { kind: "ident"; name: string } // a function
  | { kind: "pipe"; pipe: Pipeline; chain: string[] } // ( … ).A
  | { kind: "string"; value: string }
  | { kind: "number"; value: number }
  | { kind: "bool"; value: boolean }
  | { kind: "nil" };

export interface Template {
  nodes: Node[];
  source: string;
}

type Token =
  | { t: "ident" | "field" | "variable" | "string" | "number" | "char"; v: string; pos: number; end?: number }
  | { t: "(" | ")" | "|" | ":=" | "=" | "," | "end"; v: string; pos: number; end?: number };

/** `template parsing error: template: :LINE: MESSAGE`, docker's wording. */
export function templateError(source: string, pos: number, message: string): UsageError {
  const line = source.slice(0, pos).split("\n").length;
  return new UsageError(`template parsing error: template: :${line}: ${message}`);
}

export function parseTemplate(source: string): Template {
  const parser = new Parser(source);
  const nodes = parser.list(null);
  return { nodes, source };
}

const KEYWORDS = new Set(["if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"]);

class Parser {
  private pos = 0;
  /** Set by a `-}}`: the next text starts without its leading spaces. */
  private trimNext = false;
  private loops = 0;

  constructor(private readonly src: string) {}

  /**
   * Nodes up to the end of input (`until` null) or to a keyword action that
   * closes a block (`end`, `else`): returns them and leaves that action's
   * keyword in `closer`.
   */
  list(until: "block" | null): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      const open = this.src.indexOf("{{", this.pos);
      let text = this.src.slice(this.pos, open < 0 ? undefined : open);
      if (this.trimNext) text = text.replace(/^[ \t\r\n]+/, "");
      this.trimNext = false;
      const trimLeft = open >= 0 && /^-[ \t\r\n]/.test(this.src.slice(open + 2, open + 4));
      if (trimLeft) text = text.replace(/[ \t\r\n]+$/, "");
      if (text !== "") nodes.push({ kind: "text", text });
      if (open < 0) {
        if (until) throw templateError(this.src, this.src.length, "unexpected EOF");
        this.pos = this.src.length;
        return nodes;
      }
      const start = open + 2 + (trimLeft ? 2 : 0);
      // A comment is an action of its own: {{/* … */}}.
      const inner = this.src.slice(start).replace(/^[ \t\r\n]*/, "");
      if (inner.startsWith("/*")) {
        const close = this.src.indexOf("*/", start);
        if (close < 0) throw templateError(this.src, start, "unclosed comment");
        this.pos = close + 2;
        this.closeAction();
        continue;
      }
      this.pos = start;
      const tokens = this.actionTokens();
      const first = tokens[0];
      if (!first) throw templateError(this.src, start, "missing value for command");
      if (first.t === "ident" && KEYWORDS.has(first.v)) {
        const node = this.keyword(first.v, tokens.slice(1), first.pos);
        if (node === "end" || node === "else") {
          if (!until) throw templateError(this.src, first.pos, `unexpected {{${node}}}`);
          this.closer = node;
          this.closerTokens = tokens.slice(1);
          return nodes;
        }
        nodes.push(node);
        continue;
      }
      nodes.push({ kind: "action", pipe: this.pipeline(tokens, start), pos: start });
    }
  }

  private closer: "end" | "else" | undefined;
  private closerTokens: Token[] = [];

  private keyword(word: string, rest: Token[], pos: number): Node | "end" | "else" {
    switch (word) {
      case "end":
        if (rest.length > 0) throw templateError(this.src, pos, "unexpected token in end");
        return "end";
      case "else":
        return "else";
      case "if":
      case "with":
      case "range":
        return this.block(word, rest, pos);
      case "break":
      case "continue":
        if (this.loops === 0) throw templateError(this.src, pos, `{{${word}}} outside {{range}}`);
        return { kind: word, pos };
      default:
        throw templateError(this.src, pos, `{{${word}}} is not supported here`);
    }
  }

  private block(kind: "if" | "with" | "range", tokens: Token[], pos: number): Node {
    const pipe = this.pipeline(tokens, pos, kind === "range");
    if (kind === "range") this.loops++;
    const list = this.list("block");
    if (kind === "range") this.loops--;
    let elseList: Node[] | null = null;
    if (this.closer === "else") {
      const rest = this.closerTokens;
      // `{{else if …}}` / `{{else with …}}` chain: one nested block that owns the `end`.
      if (rest.length > 0 && rest[0]!.t === "ident" && (rest[0]!.v === "if" || rest[0]!.v === "with") && kind !== "range") {
        elseList = [this.block(rest[0]!.v as "if" | "with", rest.slice(1), rest[0]!.pos)];
        return { kind, pipe, list, elseList, pos } as Node;
      }
      if (rest.length > 0) throw templateError(this.src, rest[0]!.pos, "unexpected token in else");
      elseList = this.list("block");
      if ((this.closer as string) !== "end") throw templateError(this.src, pos, "expected end; found else");
    }
    return { kind, pipe, list, elseList, pos } as Node;
  }

  /** Skips to the `}}` (or `-}}`) closing an action. */
  private closeAction(): void {
    const m = /^[ \t\r\n]*(-?)}}/.exec(this.src.slice(this.pos));
    if (!m) throw templateError(this.src, this.pos, "unclosed action");
    if (m[1] === "-") this.trimNext = true;
    this.pos += m[0].length;
  }

  /** The tokens of one action, consuming its closing delimiter. */
  private actionTokens(): Token[] {
    const tokens: Token[] = [];
    const src = this.src;
    for (;;) {
      while (/[ \t\r\n]/.test(src[this.pos] ?? "")) {
        // ` -}}` ends the action with trimming.
        if (src.startsWith("-}}", this.pos + 1) && /[ \t\r\n]/.test(src[this.pos]!)) break;
        this.pos++;
      }
      if (this.pos >= src.length) throw templateError(src, this.pos, "unclosed action");
      const rest = src.slice(this.pos);
      if (rest.startsWith("}}") || /^[ \t\r\n]-}}/.test(rest)) {
        this.closeAction();
        return tokens;
      }
      const pos = this.pos;
      const ch = rest[0]!;
      let m: RegExpExecArray | null;
      if (ch === '"') {
        m = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
        if (!m) throw templateError(src, pos, "unterminated quoted string");
        tokens.push({ t: "string", v: unquote(m[0], src, pos), pos });
      } else if (ch === "`") {
        const end = rest.indexOf("`", 1);
        if (end < 0) throw templateError(src, pos, "unterminated raw quoted string");
        m = [rest.slice(0, end + 1)] as unknown as RegExpExecArray;
        tokens.push({ t: "string", v: rest.slice(1, end), pos });
      } else if (ch === "'") {
        m = /^'(?:[^'\\]|\\.)+'/.exec(rest);
        if (!m) throw templateError(src, pos, "malformed character constant");
        tokens.push({ t: "number", v: String(unquote(`"${m[0].slice(1, -1)}"`, src, pos).codePointAt(0)), pos });
      } else if ((m = /^:=/.exec(rest))) tokens.push({ t: ":=", v: ":=", pos });
      else if ((m = /^[()|=,]/.exec(rest))) tokens.push({ t: m[0] as "(", v: m[0], pos });
      else if ((m = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(rest))) tokens.push({ t: "field", v: m[0], pos });
      else if ((m = /^\.(?![0-9])/.exec(rest))) tokens.push({ t: "field", v: ".", pos });
      else if ((m = /^\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest))) tokens.push({ t: "variable", v: m[0], pos });
      else if ((m = /^[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d+(?:[eE][+-]?\d+)?)/.exec(rest))) tokens.push({ t: "number", v: m[0], pos });
      else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) tokens.push({ t: "ident", v: m[0], pos });
      else throw templateError(src, pos, `unexpected "${ch}" in command`);
      this.pos += m[0].length;
      tokens[tokens.length - 1]!.end = this.pos;
    }
  }

  /** A pipeline from an action's tokens: optional declaration, then commands joined by `|`. */
  private pipeline(tokens: Token[], pos: number, rangeDecl = false): Pipeline {
    const decl: string[] = [];
    let assign = false;
    let i = 0;
    // `$x :=`, `$x =`, and for range `$i, $e :=`.
    const declEnd = tokens.findIndex((t) => t.t === ":=" || t.t === "=");
    if (declEnd > 0 && tokens.slice(0, declEnd).every((t) => t.t === "variable" || t.t === ",")) {
      const vars = tokens.slice(0, declEnd).filter((t) => t.t === "variable");
      if (vars.some((v) => v.v.includes("."))) throw templateError(this.src, pos, "unexpected field in declaration");
      if (vars.length > (rangeDecl ? 2 : 1)) throw templateError(this.src, pos, "too many declarations");
      decl.push(...vars.map((v) => v.v));
      assign = tokens[declEnd]!.t === "=";
      i = declEnd + 1;
    }
    const cmds: Command[] = [];
    let args: Arg[] = [];
    const finish = () => {
      if (args.length === 0) throw templateError(this.src, pos, "missing value for command");
      cmds.push({ args });
      args = [];
    };
    while (i < tokens.length) {
      const t = tokens[i]!;
      if (t.t === "|") {
        finish();
        i++;
        continue;
      }
      const [arg, next] = this.operand(tokens, i);
      args.push(arg);
      i = next;
    }
    finish();
    const last = tokens[tokens.length - 1];
    const source = this.src.slice(tokens[0]?.pos ?? pos, last?.end ?? pos).trim();
    return { decl, assign, cmds, source };
  }

  private operand(tokens: Token[], i: number): [Arg, number] {
    const t = tokens[i]!;
    switch (t.t) {
      case "field":
        return [{ kind: "field", chain: t.v === "." ? [] : t.v.slice(1).split(".") }, i + 1];
      case "variable": {
        const [name, ...chain] = t.v.split(".");
        return [{ kind: "variable", name: name!, chain }, i + 1];
      }
      case "string":
        return [{ kind: "string", value: t.v }, i + 1];
      case "number": {
        const n = Number(t.v.replace(/_/g, ""));
        if (!Number.isFinite(n)) throw templateError(this.src, t.pos, `bad number syntax: "${t.v}"`);
        return [{ kind: "number", value: n }, i + 1];
      }
      case "ident":
        if (t.v === "true" || t.v === "false") return [{ kind: "bool", value: t.v === "true" }, i + 1];
        if (t.v === "nil") return [{ kind: "nil" }, i + 1];
        if (KEYWORDS.has(t.v)) throw templateError(this.src, t.pos, `unexpected <${t.v}> in command`);
        return [{ kind: "ident", name: t.v }, i + 1];
      case "(": {
        let depth = 0;
        let j = i;
        for (; j < tokens.length; j++) {
          if (tokens[j]!.t === "(") depth++;
          else if (tokens[j]!.t === ")" && --depth === 0) break;
        }
        if (j >= tokens.length) throw templateError(this.src, t.pos, "unclosed left paren");
        const pipe = this.pipeline(tokens.slice(i + 1, j), t.pos);
        // `(…).A.B` right after the paren.
        const after = tokens[j + 1];
        if (after && after.t === "field" && after.pos === tokens[j]!.pos + 1 && after.v !== ".") {
          return [{ kind: "pipe", pipe, chain: after.v.slice(1).split(".") }, j + 2];
        }
        return [{ kind: "pipe", pipe, chain: [] }, j + 1];
      }
      default:
        throw templateError(this.src, t.pos, `unexpected "${t.v}" in operand`);
    }
  }
}

function unquote(quoted: string, src: string, pos: number): string {
  try {
    // Go takes raw control characters but a newline inside a quoted string (a tab `\t` became in a listing's
    // format, as docker-cli's replacement); JSON does not: those are escaped for it first.
    const raw = quoted.replace(/[\u0000-\u0009\u000b-\u001f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    return JSON.parse(raw.replace(/\\x([0-9a-fA-F]{2})/g, "\\u00$1").replace(/\\([abfv'])/g, (_m, c: string) => ({ a: "\\u0007", b: "\\b", f: "\\f", v: "\\u000b", "'": "'" })[c]!)) as string;
  } catch {
    throw templateError(src, pos, `invalid syntax in ${quoted}`);
  }
}
