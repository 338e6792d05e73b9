import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../../errors.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";

const USAGE = `Usage: tsbox vm start | stop | status [--json]

Manage a long-lived vm guest. While it runs, \`tsbox run --backend vm\` uses it
instead of starting a guest of its own (restored from the snapshot) per run.
`;

interface Status {
  pid: number;
  socket: string;
  started: string;
  start: string;
  bootMs: number;
}

export async function vmCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "json" }]);
  const [sub, ...rest] = flags.positionals;
  if (flags.help || sub === undefined) return (sub === undefined && !flags.help ? ctx.stderr : ctx.stdout).write(USAGE), flags.help ? 0 : 125;
  if (rest.length > 0) throw new UsageError(`"tsbox vm ${sub}" takes no arguments`);
  const { daemonPaths, connectDaemon } = await import("../../backends/vm/session.js");
  const paths = daemonPaths(ctx.env);
  const running = (): Status | undefined => {
    try {
      const s = JSON.parse(readFileSync(paths.status, "utf8")) as Status;
      process.kill(s.pid, 0);
      return s;
    } catch {
      return undefined;
    }
  };
  switch (sub) {
    case "serve": {
      const { serveVm } = await import("../../backends/vm/daemon.js");
      await serveVm({ env: ctx.env });
      await new Promise(() => {}); // until stopped
      return 0;
    }
    case "start": {
      const before = running();
      if (before) {
        ctx.stdout.write(`vm already running (pid ${before.pid})\n`);
        return 0;
      }
      mkdirSync(paths.dir, { recursive: true });
      const log = openSync(join(paths.dir, "vm.log"), "a");
      const child = spawn(process.execPath, [process.argv[1]!, "vm", "serve"], { detached: true, stdio: ["ignore", log, log], env: ctx.env });
      child.unref();
      for (let i = 0; i < 1200; i++) {
        const s = running();
        if (s && existsSync(s.socket)) {
          ctx.stdout.write(`vm running: pid ${s.pid}, ${s.start} in ${s.bootMs} ms, socket ${s.socket}\n`);
          return 0;
        }
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      ctx.stderr.write(`tsbox: the vm did not start (see ${join(paths.dir, "vm.log")})\n`);
      return 125;
    }
    case "status": {
      const s = running();
      let ping: number | null = null;
      if (s) {
        const remote = await connectDaemon(ctx.env);
        if (remote) {
          const t0 = performance.now();
          const stats = await remote.machine.link.request("stats", {}, 10_000).catch(() => undefined);
          if (stats) ping = performance.now() - t0;
          await remote.machine.destroy();
        }
      }
      if (flags.bools.has("json")) ctx.stdout.write(JSON.stringify({ running: !!s, ...s, answering: ping !== null, pingMs: ping }, null, 2) + "\n");
      else if (!s) ctx.stdout.write("vm: not running\n");
      else ctx.stdout.write(`vm: running, pid ${s.pid}, since ${s.started} (${s.start}), ${ping === null ? "NOT answering" : `answers in ${ping.toFixed(1)} ms`}\n`);
      return s ? 0 : 1;
    }
    case "stop": {
      const s = running();
      if (!s) {
        ctx.stdout.write("vm: not running\n");
        return 0;
      }
      process.kill(s.pid, "SIGTERM");
      for (let i = 0; i < 100 && running(); i++) await new Promise((r) => setTimeout(r, 100));
      if (running()) process.kill(s.pid, "SIGKILL");
      ctx.stdout.write(`vm stopped (pid ${s.pid})\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown vm command ${sub} (start, stop or status)`);
  }
}
