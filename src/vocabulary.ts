/**
 * How a message names one of tsbox's options: as the library's option
 * (`network: "none"`, `force: true`) or, in the CLI's process, as its flag
 * (`--network none`, `--force`). One wording for both callers: a message says
 * `option("network", "none")`, and the CLI says once, as it starts, that its
 * process speaks in flags (a library caller set options, not flags).
 */
let flags = false;

/** Called by the CLI's entry point: this process's messages name flags. */
export function speakInFlags(): void {
  flags = true;
}

/** The CLI's flags whose name is not the option's in kebab case. */
const FLAG_NAMES: Record<string, string> = { remove: "rm" };

/** A hint in this process's words: `cli`'s (commands and flags) or `library`'s (calls and options). */
export function inCallersWords(cli: string, library: string): string {
  return flags ? cli : library;
}

/** `name` (a library option, e.g. `network`) with its value, in this process's words; without one, the option itself. */
export function option(name: string, value?: string | boolean): string {
  if (flags) {
    const flag = `--${FLAG_NAMES[name] ?? name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    return value === undefined || value === true ? flag : `${flag} ${String(value)}`;
  }
  return value === undefined ? `the ${name} option` : `${name}: ${typeof value === "string" ? JSON.stringify(value) : String(value)}`;
}
