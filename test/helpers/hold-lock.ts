/**
 * A test holding one of tsbox's flock(2) locks (a network's, the image index's) as a process of the identity's
 * own (util-linux `flock`), so that racing commands queue on it in a known state and go once it is released.
 */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CliResult } from "./cli.js";
import type { Identity } from "./identities.js";

/** The lines of /proc/locks about a lock file ("->": a process waiting for it). */
export function lockLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const ino = statSync(path).ino;
  return readFileSync("/proc/locks", "utf8").split("\n").filter((l) => l.includes(`:${ino} `));
}

/** How many processes wait in flock(2) for `path` (a lock tsbox takes by polling is not among them). */
export function lockWaiters(path: string): number {
  return lockLines(path).filter((l) => l.includes("->")).length;
}

/**
 * Takes `path`'s lock through `spawn` (the identity's argv runner: a netns one, say) and resolves once it is held;
 * the function it resolves to releases it and waits for the holder to end.
 */
export async function holdLock(who: Identity, path: string, spawn: (argv: string[]) => Promise<CliResult>): Promise<() => Promise<void>> {
  const release = join(who.scratch, `release-${Date.now()}-${process.pid}`);
  writeFileSync(release, "");
  const holder = spawn(["flock", path, "sh", "-c", `while [ -e ${release} ]; do sleep 0.02; done`]);
  const done = async () => {
    rmSync(release, { force: true });
    await holder;
  };
  for (let i = 0; i < 1000 && !lockLines(path).some((l) => !l.includes("->")); i++) await new Promise((r) => setTimeout(r, 10));
  if (!lockLines(path).some((l) => !l.includes("->"))) {
    await done();
    throw new Error(`the test could not take the lock ${path}`);
  }
  return done;
}
