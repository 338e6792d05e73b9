import type { Writable } from "node:stream";

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

