/** What the CLI test cases share: a command that must succeed (or exit with a given code), and the cleanup before the leak check. */
import assert from "node:assert/strict";
import type { Identity } from "./identities.js";
import { type CliResult, tsbox } from "./cli.js";

/** Runs `tsbox ARGS` as `who` and asserts its exit code (0 unless `expect`). */
export async function tsboxExpect(who: Identity, args: string[], opts: { stdin?: string; expect?: number } = {}): Promise<CliResult> {
  const r = await tsbox(who, args, opts.stdin !== undefined ? { stdin: opts.stdin } : {});
  assert.equal(r.code, opts.expect ?? 0, `tsbox ${args.join(" ")}: ${r.stderr}`);
  return r;
}

/** Removes what a failed case may have left of an identity's containers and volumes. */
export async function removeContainersAndVolumes(who: Identity): Promise<void> {
  const left = (await tsbox(who, ["ps", "-aq", "--no-trunc"])).stdout.split("\n").filter(Boolean);
  if (left.length > 0) await tsbox(who, ["rm", "-f", "-v", ...left]);
  await tsbox(who, ["volume", "prune", "-a", "-f"]);
}
