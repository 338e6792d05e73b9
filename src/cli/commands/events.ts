import { join } from "node:path";
import { UsageError } from "../../errors.js";
import { EVENTS_FILE, EVENTS_ROTATED, eventActionMatches } from "../../containers/events.js";
import { LineCursor } from "../../line-cursor.js";
import { defaultDataDir } from "../../paths.js";
import { type CliContext, cliWarning } from "../context.js";
import { escapeControls } from "../escape.js";
import { allValues, lastValue, parseFlags } from "../flags.js";
import { labelMatch } from "../list-filters.js";
import { parseTimeArg } from "../time-arg.js";

const USAGE = `Usage: tsbox events [OPTIONS]

Show what happens to containers: create, start, die, oom, pause, unpause,
rename and destroy, as any tsbox process or monitor records them. Without
--since, from now on only; without --until, it keeps printing until Ctrl-C.

Options:
      --since TIME     Events from TIME on (2024-01-02T15:04:05Z, Unix seconds, or 10m ago)
      --until TIME     Events before TIME, then exit
  -f, --filter K=V     container=NAME|ID, event=ACTION, image=IMAGE, label=KEY[=VALUE],
                       type=container; the same key twice matches either value (label:
                       each must hold)
      --format F       A Go template per event ({{.Action}}, {{.Actor.Attributes.name}}, …), or json
`;

const FILTER_KEYS = ["container", "event", "image", "label", "type"];
/** docker's `type=` values (its events.Type). */
const DOCKER_EVENT_TYPES = ["container", "image", "volume", "network", "daemon", "plugin", "node", "service", "secret", "config", "builder"];
const POLL_MS = 100;

interface EventRecord {
  Action: string;
  Type: string;
  from: string;
  Actor: { ID: string; Attributes: Record<string, string> };
}

export async function eventsCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "since", value: true }, { name: "until", value: true }, { name: "filter", short: "f", value: true, repeat: true }, { name: "format", value: true }]);
  if (flags.help) return ctx.stdout.write(USAGE), 0;
  if (flags.positionals.length > 0) throw new UsageError(`"tsbox events" takes no arguments`);
  const since = optionalTime(lastValue(flags, "since"), "--since");
  const until = optionalTime(lastValue(flags, "until"), "--until");
  const matches = eventFilter(allValues(flags, "filter"), cliWarning(ctx));
  const print = await printer(lastValue(flags, "format"), (text) => ctx.stdout.write(text));
  const show = (line: string) => {
    const time = BigInt(/"timeNano":(\d+)/.exec(line)?.[1] ?? "0");
    if (since !== undefined && time < since) return;
    if (until !== undefined && time >= until) return;
    let event: EventRecord;
    try {
      event = JSON.parse(line) as EventRecord;
    } catch {
      return; // a line cut short by a full disk
    }
    if (matches(event)) print(line, event, time);
  };

  const dir = defaultDataDir(ctx.env);
  const current = join(dir, EVENTS_FILE);
  const cursor = new LineCursor(current);
  cursor.open();
  if (since !== undefined) {
    readLines(join(dir, EVENTS_ROTATED)).forEach(show);
    readNew(cursor).forEach(show);
  } else {
    cursor.skipToEnd();
  }
  if (until !== undefined && until <= nowNano()) return 0;
  // Ctrl-C ends it quietly, as docker's does; so does --until's time.
  process.once("SIGINT", () => process.exit(0));
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    readNew(cursor).forEach(show);
    if (until !== undefined && nowNano() >= until) return 0;
  }
}

function optionalTime(value: string | undefined, flag: string): bigint | undefined {
  return value === undefined ? undefined : BigInt(parseTimeArg(value, flag).getTime()) * 1_000_000n;
}

function nowNano(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** docker's filters: keys AND, the same key's values OR. */
export function eventFilter(specs: string[], warn: (message: string) => void = () => {}): (e: EventRecord) => boolean {
  const wanted = new Map<string, string[]>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const key = eq < 0 ? spec : spec.slice(0, eq);
    if (eq < 0 || !FILTER_KEYS.includes(key)) throw new UsageError(`invalid filter "${spec}": tsbox events filters by ${FILTER_KEYS.map((k) => `${k}=…`).join(", ")}`);
    const value = spec.slice(eq + 1);
    // docker's other kinds of objects: tsbox records none of their events, which a silent empty stream hid.
    if (key === "type" && value !== "container") {
      if (!DOCKER_EVENT_TYPES.includes(value)) throw new UsageError(`invalid filter "${spec}": the types are ${DOCKER_EVENT_TYPES.join(", ")}`);
      warn(`tsbox records container events only: type=${value} matches none`);
    }
    wanted.set(key, [...(wanted.get(key) ?? []), value]);
  }
  const test: Record<string, (e: EventRecord, v: string) => boolean> = {
    container: (e, v) => e.Actor.ID === v || e.Actor.Attributes.name === v || (v.length >= 12 && e.Actor.ID.startsWith(v)),
    event: (e, v) => eventActionMatches(e.Action, v),
    image: (e, v) => e.from === v || e.from === `${v}:latest`,
    type: (e, v) => e.Type === v,
    // docker's: among the actor's attributes (a container's labels are there).
    label: (e, v) => labelMatch(e.Actor.Attributes, v),
  };
  // Every label filter must hold (docker's MatchKVList); other keys' values are alternatives.
  return (e) => [...wanted].every(([key, values]) => (key === "label" ? values.every((v) => test.label!(e, v)) : values.some((v) => test[key]!(e, v))));
}

/** docker's line: `TIME container ACTION ID (k=v, …)`, or the --format template; json is the line as written. */
async function printer(format: string | undefined, write: (text: string) => void): Promise<(line: string, e: EventRecord, time: bigint) => void> {
  if (format === "json" || format === "{{json .}}") return (line) => write(line + "\n");
  if (format !== undefined) {
    const { formatTemplate, renderTemplate } = await import("../format-template-exec.js");
    const { parseTemplate } = await import("../format-template-parse.js");
    const template = parseTemplate(formatTemplate(format));
    return (_line, e) => write(renderTemplate(template, withGoNames(e)) + "\n");
  }
  return (_line, e, time) => {
    const seconds = new Date(Number(time / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
    const fraction = String(time % 1_000_000_000n).padStart(9, "0");
    // An image's labels are among the attributes: printed raw, an escape sequence reached the terminal and a newline
    // forged an event line.
    const attributes = Object.keys(e.Actor.Attributes)
      .sort()
      .map((k) => `${k}=${e.Actor.Attributes[k]}`)
      .join(", ");
    write(escapeControls(`${seconds}.${fraction}Z ${e.Type} ${e.Action} ${e.Actor.ID} (${attributes})`) + "\n");
  };
}

/**
 * docker's event is a Go struct whose older fields have lowercase JSON keys
 * (`status`, `id`, `from`, `scope`, `time`, `timeNano`): a template names
 * them `.Status`, `.ID`, … (docker's own docs use `{{.Status}}`), while
 * `{{json .}}` prints the keys. So the Go names are there, but not enumerable.
 */
function withGoNames(e: EventRecord): EventRecord {
  const value: Record<string, unknown> = { ...e };
  for (const [go, key] of [["Status", "status"], ["ID", "id"], ["From", "from"], ["Scope", "scope"], ["Time", "time"], ["TimeNano", "timeNano"]] as const) {
    if (key in value) Object.defineProperty(value, go, { value: value[key], enumerable: false });
  }
  return value as unknown as EventRecord;
}

/** The lines of a file there is no need to follow (the rotated one). */
function readLines(file: string): string[] {
  const cursor = new LineCursor(file);
  cursor.open();
  const lines = cursor.readLines();
  cursor.close();
  return lines;
}

/** New lines of the events file; one its writer rotated meanwhile is read to its end first. */
function readNew(cursor: LineCursor): string[] {
  const lines = cursor.readLines();
  if (!cursor.rotated()) return lines;
  lines.push(...cursor.readLines());
  cursor.reopen();
  return [...lines, ...cursor.readLines()];
}
