/**
 * Seeded, time-bounded fuzzing for the test suite (no crates, no libraries):
 * a small PRNG, generators of random and mutated bytes, and a loop that runs
 * cases until its time is up. Every run prints its seed; a failing case
 * prints how to run that case alone:
 *
 *   TSBOX_FUZZ_SEED=<seed> TSBOX_FUZZ_CASE=<n> node --import tsx --test test/fuzz-<target>.test.ts
 *
 * TSBOX_FUZZ_SECONDS scales the time of every fuzzer (default: each one's own).
 */

/** xorshift32 seeded by splitmix32: fast, good enough to explore inputs, reproducible. */
export class Rng {
  private s: number;

  constructor(seed: number) {
    let z = (seed >>> 0) + 0x9e3779b9;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    this.s = (z ^ (z >>> 16)) >>> 0 || 1;
  }

  /** A uint32. */
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return n <= 1 ? 0 : this.next() % n;
  }

  /** Small numbers more often than large ones: [0, max]. */
  size(max: number): number {
    const bits = this.int(Math.ceil(Math.log2(max + 1)) + 1);
    return Math.min(max, this.int(2 ** bits));
  }

  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

/** `data` with a few random mutations: bit flips, byte sets, cuts, duplications, insertions, boundary values. */
export function mutate(rng: Rng, data: Buffer, rounds = 1 + rng.int(4)): Buffer {
  let out: Buffer = Buffer.from(data);
  for (let r = 0; r < rounds; r++) {
    if (out.length === 0) {
      out = rng.bytes(1 + rng.int(16));
      continue;
    }
    const at = rng.int(out.length);
    switch (rng.int(7)) {
      case 0:
        out[at] = out[at]! ^ (1 << rng.int(8));
        break;
      case 1:
        out[at] = rng.pick([0, 0xff, 0x7f, 0x80, 0x30, 0x37, 0x20, rng.int(256)]);
        break;
      case 2:
        out = out.subarray(0, at);
        break;
      case 3: {
        const len = rng.size(Math.min(2048, out.length - at));
        out = Buffer.concat([out.subarray(0, at + len), out.subarray(at, at + len), out.subarray(at + len)]);
        break;
      }
      case 4:
        out = Buffer.concat([out.subarray(0, at), rng.bytes(rng.size(512)), out.subarray(at)]);
        break;
      case 5: {
        // A little-endian or octal-text boundary value somewhere.
        const v = rng.pick([0, 1, 0x7fffffff, 0xffffffff, 0x80000000, 65535, 65536]);
        if (at + 4 <= out.length) out.writeUInt32LE(v >>> 0, at);
        break;
      }
      default: {
        const len = rng.size(Math.min(64, out.length - at));
        out.fill(rng.int(256), at, at + len);
      }
    }
  }
  return out;
}

export interface FuzzOptions {
  /** Which fuzzer (for the messages). */
  name: string;
  /** Default seconds (TSBOX_FUZZ_SECONDS overrides). */
  seconds: number;
  /** One case: throw to fail. Gets its own Rng and number. */
  run(rng: Rng, n: number): Promise<void> | void;
  /** Called every few cases: throw to fail (memory bounds, leaks). */
  check?(n: number): Promise<void> | void;
  checkEvery?: number;
}

export interface FuzzResult {
  seed: number;
  cases: number;
}

/** The master seed: TSBOX_FUZZ_SEED, else random. */
export function fuzzSeed(): number {
  const s = process.env.TSBOX_FUZZ_SEED;
  return s !== undefined && s !== "" ? Number(s) >>> 0 : (Math.random() * 0x100000000) >>> 0;
}

/** The seed of case `n` of a run seeded `seed`. */
export function caseSeed(seed: number, n: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 0x27d4eb2d) + Math.imul(n + 1, 0x165667b1)) >>> 0;
}

/** Runs cases until the time is up (or only TSBOX_FUZZ_CASE); a failure names its seed and case. */
export async function fuzz(options: FuzzOptions): Promise<FuzzResult> {
  const seed = fuzzSeed();
  const seconds = Number(process.env.TSBOX_FUZZ_SECONDS) > 0 ? Number(process.env.TSBOX_FUZZ_SECONDS) : options.seconds;
  const only = process.env.TSBOX_FUZZ_CASE;
  process.stderr.write(`fuzz ${options.name}: seed ${seed}, ${only !== undefined ? `case ${only} only` : `${seconds} s`}\n`);
  const deadline = Date.now() + seconds * 1000;
  let n = only !== undefined ? Number(only) : 0;
  let cases = 0;
  for (; only !== undefined ? cases < 1 : Date.now() < deadline; n++, cases++) {
    try {
      await options.run(new Rng(caseSeed(seed, n)), n);
      if (options.check && (cases + 1) % (options.checkEvery ?? 50) === 0) await options.check(n);
    } catch (err) {
      const how = `TSBOX_FUZZ_SEED=${seed} TSBOX_FUZZ_CASE=${n}`;
      throw Object.assign(new Error(`fuzz ${options.name}: case ${n} failed (reproduce with ${how}): ${(err as Error).stack ?? err}`), { cause: err });
    }
  }
  if (options.check) await options.check(n);
  process.stderr.write(`fuzz ${options.name}: ${cases} cases, seed ${seed}\n`);
  return { seed, cases };
}

/** Resolves `p`, or fails when it takes longer than `ms` (a hang). */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms (a hang)`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
