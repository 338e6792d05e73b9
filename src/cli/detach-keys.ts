/**
 * docker's detach keys: the key sequence that leaves an attached terminal
 * (`attach`, `start -ai`) with the container still running, ctrl-p ctrl-q
 * unless `--detach-keys` names another.
 */
import { UsageError } from "../errors.js";

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

/** The bytes of a `--detach-keys` value: comma-separated keys, each a character or `ctrl-X` (docker's grammar). */
export function parseDetachKeys(spec: string): number[] {
  const bad = () => new UsageError(`invalid detach keys (${spec}): expected keys like ctrl-p,ctrl-q (a character, or ctrl- and one of a-z @ [ \\ ] ^ _)`);
  return spec.split(",").map((key) => {
    if (key.length === 1) return key.charCodeAt(0);
    const m = /^ctrl-(.)$/.exec(key);
    if (!m) throw bad();
    const c = m[1]!.toLowerCase();
    if (c >= "a" && c <= "z") return c.charCodeAt(0) - 96;
    const special = "@[\\]^_".indexOf(c);
    if (special < 0) throw bad();
    return special === 0 ? 0 : 26 + special;
  });
}

/**
 * Finds the sequence in what the terminal types: bytes that may begin it are
 * held until the next key tells (docker holds them too), then passed on if
 * it was not the sequence.
 */
export class DetachFilter {
  private held = 0;

  constructor(private readonly keys: number[]) {}

  /** What to pass on, and whether the sequence is complete (what follows it is dropped). */
  push(chunk: Uint8Array): { pass: Uint8Array; detach: boolean } {
    const out: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.held]) {
        this.held++;
        if (this.held === this.keys.length) return { pass: Uint8Array.from(out), detach: true };
        continue;
      }
      // Not the sequence after all: what was held goes on, and this byte may start it again.
      out.push(...this.keys.slice(0, this.held));
      this.held = 0;
      if (byte === this.keys[0]) this.held = 1;
      else out.push(byte);
    }
    return { pass: Uint8Array.from(out), detach: false };
  }
}
