import type { Readable, Writable } from "node:stream";

/** Writes with backpressure: resolves once `out` took the chunk (or rejects when it failed). */
export function writeTo(out: Writable, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) return reject(new Error("the copy stream was closed"));
    if (out.write(chunk)) return resolve();
    const done = (err?: Error) => {
      out.off("drain", onDrain).off("error", done).off("close", onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error("the copy stream was closed"));
    out.once("drain", onDrain).once("error", done).once("close", onClose);
  });
}

/** A write whose reader is gone (it exited, or closed its end): EPIPE, ECONNRESET on a socket. */
export function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === "EPIPE" || code === "ECONNRESET";
}

/**
 * For input tsbox writes on its own (exec's `stdin`, a pumped stdin): a reader that stops before it read it
 * all is no error, as with execa's `input` and spawnSync's — without a listener its EPIPE would be an
 * uncaught 'error' that ends this process. Other errors go to `onError`.
 */
export function ignoreClosedPipe(stream: Writable, onError: (err: Error) => void = () => {}): void {
  stream.on("error", (err) => {
    if (!isClosedPipe(err)) onError(err);
  });
}

/**
 * A process's output onto this process's own stdout/stderr ("inherit" where no fd can be handed over: the vm
 * guest's, a monitor's attachment). When that reader goes (`tsbox run … | head`, a closed terminal) the relay
 * stops and `gone` runs (by default the output is destroyed, its writer meeting a closed pipe as it would
 * with the fd itself), and the error is no uncaught one that ends this process.
 */
export function relayToOwn(from: Readable, to: Writable, gone: () => void = () => from.destroy()): void {
  const onError = () => {
    to.off("error", onError);
    from.unpipe(to);
    gone();
  };
  to.on("error", onError);
  from.once("close", () => to.off("error", onError));
  from.pipe(to, { end: false });
}
