/**
 * docker's management commands, `tsbox container X` and `tsbox image X`:
 * the names docker gives the top-level commands inside each group, run as
 * those commands (one implementation each), plus `container prune`.
 */
import { unknownCommand } from "../unknown-command.js";
import type { CliContext } from "../context.js";
import { groupUsage, isHelp } from "../group-command.js";

type Main = (argv: string[], ctx: CliContext) => Promise<number>;

interface Group {
  usage: string;
  /** `group X` → the top-level command. */
  aliases: Record<string, string>;
}

const same = (...names: string[]) => Object.fromEntries(names.map((n) => [n, n]));

const GROUPS: Record<"container" | "image", Group> = {
  container: {
    usage: `Usage: tsbox container COMMAND

Manage containers: ls (ps), create, run, start, stop, restart, kill, pause,
unpause, wait, rm, rename, exec, attach, logs, top, stats, port, inspect, cp,
diff, commit, export, prune.
`,
    aliases: {
      ...same("ps", "create", "run", "start", "stop", "restart", "kill", "pause", "unpause", "update", "wait", "rm", "rename", "exec", "attach", "logs", "top", "stats", "port", "inspect", "cp", "diff", "commit", "export"),
      ls: "ps",
      list: "ps",
      remove: "rm",
    },
  },
  image: {
    usage: `Usage: tsbox image COMMAND

Manage images: ls (images), pull, push, tag, rm (rmi), inspect, save, load,
import, prune, build, history.
`,
    aliases: { ...same("pull", "push", "tag", "inspect", "save", "load", "import", "build", "history"), ls: "images", list: "images", rm: "rmi", remove: "rmi" },
  },
};

export async function managementCommand(group: keyof typeof GROUPS, args: string[], ctx: CliContext, main: Main): Promise<number> {
  const { usage, aliases } = GROUPS[group];
  const [sub, ...rest] = args;
  if (sub === undefined || isHelp(sub)) return groupUsage(sub, usage, ctx);
  if (group === "container" && sub === "prune") return (await import("./prune.js")).containerPrune(rest, ctx);
  if (group === "image" && sub === "prune") return (await import("./prune.js")).imagePrune(rest, ctx);
  const command = aliases[sub];
  if (!command) throw unknownCommand(sub, [...Object.keys(aliases), "prune"], group);
  return main([command, ...(sub === "inspect" ? ["--type", group] : []), ...rest], ctx);
}
