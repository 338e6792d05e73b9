/**
 * `--format` for every listing command, as docker's cli/command/formatter
 * does it: `table` (the command's default columns), `table TEMPLATE` (a
 * header line rendered from the same template, columns aligned by Go's
 * tabwriter with docker's settings), `json` (one `{{json .}}` line per
 * item), or any other template (one rendered line per item). `\t` and `\n`
 * typed literally in a format become tab and newline, as in docker.
 */
import type { Writable } from "node:stream";
import { UsageError } from "../errors.js";
import { formatTemplate, renderTemplate, strictContext } from "./format-template-exec.js";
import { parseTemplate, type Template } from "./format-template-parse.js";

export interface FormatDefaults {
  /** The default `table …` format (what no --format prints). */
  table: string;
  /** Header text per field (`ID` → `CONTAINER ID`); a method's header is a function of its arguments. */
  headers: Record<string, string | ((...args: unknown[]) => string)>;
  /** Docker's struct name for error messages, e.g. `*formatter.ContainerContext`. */
  typeName: string;
  /** What `-q` prints, e.g. `{{.ID}}`. */
  quiet?: string;
}

export interface PreparedFormat {
  table: boolean;
  template: Template;
}

/**
 * `--json` (tsbox's own records, which docker has no flag for) is an output form of its own: with `--format` or
 * `-q`, which also pick one, it is refused rather than one of them silently winning.
 */
export function refuseJsonWith(json: boolean, format: string | undefined, quiet: boolean): void {
  if (json && format !== undefined) throw new UsageError("--json and --format cannot be combined (--format json prints docker's fields)");
  if (json && quiet) throw new UsageError("--json and -q cannot be combined");
}

/** Picks the format docker would: explicit --format, else -q, else the default table. */
export function prepareFormat(format: string | undefined, defaults: FormatDefaults, quiet = false): PreparedFormat {
  let text = format ?? "";
  if (text === "") text = quiet && defaults.quiet ? defaults.quiet : defaults.table;
  text = formatTemplate(text);
  if (text === "table") text = defaults.table;
  const table = text.startsWith("table");
  if (table) text = text.slice("table".length);
  text = text.trim().replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  return { table, template: parseTemplate(text) };
}

/** Renders `items` (struct-like contexts) with a prepared format. */
export function renderFormatted(items: object[], format: PreparedFormat, defaults: FormatDefaults): string {
  let out = "";
  if (format.table) out += renderTemplate(format.template, headerContext(defaults)) + "\n";
  for (const item of items) out += renderTemplate(format.template, item) + "\n";
  return format.table ? tabwrite(out) : out;
}

export function writeFormatted(out: Writable, items: object[], format: string | undefined, defaults: FormatDefaults, quiet = false): void {
  const prepared = prepareFormat(format, defaults, quiet);
  out.write(renderFormatted(items, prepared, defaults));
}

/** The header row: the same template over the column titles. */
function headerContext(defaults: FormatDefaults): object {
  return strictContext(defaults.typeName, { ...defaults.headers });
}

/** Docker's table writer: Go's text/tabwriter with minwidth 10, tabwidth 1, padding 3, padchar ' '. */
export function tabwrite(text: string, minwidth = 10, padding = 3): string {
  const lines = text.split("\n").map((l) => l.split("\t"));
  const out: string[] = [];
  const widths: number[] = [];
  const width = (s: string) => [...s].length;
  const writeLines = (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const cells = lines[i]!;
      out.push(cells.map((c, j) => (j < widths.length && j < cells.length - 1 ? c + " ".repeat(Math.max(0, widths[j]! - width(c))) : c)).join(""));
    }
  };
  // Go's format(): a column's width is taken over each block of consecutive lines that have a cell there.
  const format = (line0: number, line1: number) => {
    const column = widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= lines[i]!.length - 1) continue;
      writeLines(line0, i);
      line0 = i;
      let w = minwidth;
      for (; i < line1 && column < lines[i]!.length - 1; i++) w = Math.max(w, width(lines[i]![column]!) + padding);
      widths.push(w);
      format(line0, i);
      widths.pop();
      line0 = i;
      i--;
    }
    writeLines(line0, line1);
  };
  format(0, lines.length);
  return out.join("\n");
}
