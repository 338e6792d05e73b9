/**
 * A container's bundle files with its own values (ids, name, times, pids) replaced by placeholders: what a replayed
 * run (the CLI's run cache, the library's plans) must write the same as a full run of the same command.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

export function normalizedBundle(dataDir: string, id: string): Record<string, unknown> {
  const dir = join(dataDir, "containers", id);
  const state = JSON.parse(readFileSync(join(dir, "state.json"), "utf8")) as Record<string, unknown>;
  const own: [string, string][] = [
    [id, "<id>"],
    [id.slice(0, 12), "<short-id>"],
    [String(state.name), "<name>"],
  ];
  const text = (file: string) => own.reduce((t, [from, to]) => t.split(from).join(to), readFileSync(join(dir, file), "utf8"));
  const normalState = JSON.parse(text("state.json")) as Record<string, unknown>;
  for (const key of ["created", "started", "finished", "pid", "monitorPid", "monitorStartTime", "creatorPid", "creatorStartTime"]) {
    if (normalState[key] !== null) normalState[key] = `<${key}>`;
  }
  return { config: JSON.parse(text("config.json")), inspect: JSON.parse(text("inspect.json")), state: normalState };
}
