/**
 * The CLI's foreground run keeps docker's log (`tsbox logs` afterwards)
 * whichever way its output goes. Inherited streams are logged where they
 * pass (the native hand-off's helper, the vm backend's `log` start option);
 * piped ones — a terminal's (`run -t` without `-i`: with it the run is under
 * a monitor, which logs) — pass through this process, which logs them here.
 */
import { Transform, type Readable } from "node:stream";
import type { ContainerProcess } from "../backends/backend.js";
import { LogWriter, type LogStream } from "./log-writer.js";

export function logPipedOutput(proc: ContainerProcess, bundleDir: string, log: { maxSize: number; maxFiles: number }): ContainerProcess {
  let open = (proc.stdout ? 1 : 0) + (proc.stderr ? 1 : 0);
  if (open === 0) return proc;
  let writer: LogWriter | undefined = new LogWriter(bundleDir, log.maxSize, log.maxFiles);
  const logged = (stream: LogStream, source: Readable): Readable => {
    const write = (fn: (w: LogWriter) => void) => {
      try {
        if (writer) fn(writer);
      } catch {
        // (the log's own writes keep going past a full disk: LogWriter marks the log incomplete)
        writer = undefined;
      }
    };
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        write((w) => w.write(stream, chunk));
        done(null, chunk);
      },
      flush(done) {
        write((w) => w.flush(stream));
        if (--open === 0) write((w) => w.close());
        done();
      },
    });
    source.on("error", (err) => tee.destroy(err));
    return source.pipe(tee);
  };
  const stdout = proc.stdout ? logged("stdout", proc.stdout) : null;
  const stderr = proc.stderr ? logged("stderr", proc.stderr) : null;
  // The same process, its output streams the logged ones (its methods keep their own `this`).
  return {
    pid: proc.pid,
    monitorPid: proc.monitorPid,
    stdin: proc.stdin,
    stdout,
    stderr,
    exited: proc.exited,
    kill: (signal) => proc.kill(signal),
    resize: (cols, rows) => proc.resize(cols, rows),
    ...(proc.recorded !== undefined ? { recorded: proc.recorded } : {}),
    ...(proc.endRecorded ? { endRecorded: () => proc.endRecorded!() } : {}),
  };
}
