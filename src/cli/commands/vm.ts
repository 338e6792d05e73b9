import { basename } from "node:path";
import { UsageError } from "../../errors.js";
import { unknownCommand } from "../unknown-command.js";
import type { CliContext } from "../context.js";
import { parseFlags } from "../flags.js";
import { wholeSeconds } from "../../whole-seconds.js";
import { processStartTime } from "../../containers/state.js";
import { stopProcess } from "../../network/processes.js";

const USAGE = `Usage: tsbox vm start | stop [--force] | status [--json]

Manage the long-lived vm guest that vm containers run in, so that exec, logs,
stop and stats from any tsbox process reach them. A run starts it on demand;
then it stops by itself after TSBOX_VM_IDLE seconds (default 300) with no
container and no client (TSBOX_VM_IDLE=0: each process runs a guest of its
own instead). start keeps it until stop; stop refuses while containers run
in it, unless --force (they are killed).
`;

export async function vmCommand(args: string[], ctx: CliContext): Promise<number> {
  const flags = parseFlags(args, [{ name: "json" }, { name: "force", short: "f" }, { name: "idle-seconds", value: true }]);
  const [sub, ...rest] = flags.positionals;
  if (flags.help || sub === undefined) return (sub === undefined && !flags.help ? ctx.stderr : ctx.stdout).write(USAGE), flags.help ? 0 : 125;
  if (rest.length > 0) throw new UsageError(`"tsbox vm ${sub}" takes no arguments`);
  const { connectDaemon, daemonStatus, ensureDaemon } = await import("../../backends/vm/node/session.js");
  const running = () => daemonStatus(ctx.env);
  switch (sub) {
    case "serve": {
      const { serveVm } = await import("../../backends/vm/node/daemon.js");
      const idle = flags.values.get("idle-seconds")?.at(-1);
      await serveVm({ env: ctx.env, ...(idle !== undefined ? { idleSeconds: wholeSeconds(idle, `--idle-seconds ${idle}`, 0) } : {}) });
      await new Promise(() => {}); // until stopped
      return 0;
    }
    case "start": {
      const before = running();
      if (before) {
        // One a run started on demand stays now, as if started here.
        const remote = before.idleSeconds !== undefined ? await connectDaemon(ctx.env) : undefined;
        await remote?.machine.link.request("stay", {}, 10_000);
        await remote?.machine.destroy();
        ctx.stdout.write(`vm already running (pid ${before.pid})\n`);
        return 0;
      }
      const s = await ensureDaemon(ctx.env);
      ctx.stdout.write(`vm running: pid ${s.pid}, ${s.start} in ${s.bootMs} ms, socket ${s.socket}\n`);
      return 0;
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
      else {
        const stays = s.idleSeconds === undefined ? "until tsbox vm stop" : `started on demand: stops after ${s.idleSeconds} s with no container`;
        ctx.stdout.write(`vm: running, pid ${s.pid}, since ${s.started} (${s.start}), ${ping === null ? "NOT answering" : `answers in ${ping.toFixed(1)} ms`}; ${stays}${s.hostLoopback ? "; this host's loopback open to its containers (TSBOX_HOST_LOOPBACK=1)" : ""}\n`);
      }
      // A guest that does not answer is no running vm to a script or health check.
      return s && ping !== null ? 0 : 1;
    }
    case "stop": {
      const s = running();
      if (!s) {
        ctx.stdout.write("vm: not running\n");
        return 0;
      }
      // Containers die with the guest: only with --force.
      const remote = await connectDaemon(ctx.env);
      const live = remote ? await remote.machine.link.request("containers", {}, 10_000).catch(() => undefined) : undefined;
      await remote?.machine.destroy();
      const detached = Array.isArray(live?.detached) ? (live.detached as string[]) : [];
      const foreground = typeof live?.foreground === "number" ? live.foreground : 0;
      if (detached.length + foreground > 0 && !flags.bools.has("force")) {
        const ids = detached.map((b) => basename(b).slice(0, 12));
        const what = [ids.length > 0 ? `${ids.length} detached (${ids.join(", ")})` : "", foreground > 0 ? `${foreground} in the foreground of other tsbox processes` : ""].filter(Boolean).join(" and ");
        ctx.stderr.write(`tsbox: the vm runs ${what}: stop them first, or use tsbox vm stop --force (they are killed)\n`);
        return 1;
      }
      // Until its process has ended, not its status file, which its stop removes first: by then the ends of the
      // containers it killed are recorded (before, `ps` right after `vm stop --force` could still say running).
      const born = processStartTime(s.pid);
      if (born !== null) {
        await stopProcess(s.pid, born, 10_000);
        if (processStartTime(s.pid) === born) process.kill(s.pid, "SIGKILL");
      }
      ctx.stdout.write(`vm stopped (pid ${s.pid})\n`);
      return 0;
    }
    default:
      throw unknownCommand(sub, ["start", "stop", "status"], "vm");
  }
}
