/**
 * The run cache's and the library's plan marks, in tsbox-runtime's trace format (container/src/trace.rs), on the descriptor
 * `TSBOX_TRACE_FD` names: whether a run was replayed, or why a full run left no plan. Off, nothing.
 */
import { readlinkSync, writeSync } from "node:fs";

/** `source`: whose mark ("run-cache", "plan-cache"), its line's first word. */
export function traceMark(env: NodeJS.ProcessEnv, source: string, what: string): void {
  if (!env.TSBOX_TRACE_FD || !/^\d+$/.test(env.TSBOX_TRACE_FD)) return;
  const fd = Number(env.TSBOX_TRACE_FD);
  try {
    // A number the caller left closed may be one of Node's own (its event loop's epoll or eventfd): not a trace's.
    if (readlinkSync(`/proc/self/fd/${fd}`).startsWith("anon_inode:")) return;
    writeSync(fd, `tsbox-trace ${(performance.timeOrigin + performance.now()).toFixed(3)} ${process.pid} ${source}: ${what}\n`);
  } catch {
    // a closed descriptor: no mark
  }
}
