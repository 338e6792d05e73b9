/**
 * The native backend's pty: what a terminal attached late may still ask of it.
 */
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { Pty } from "../src/backends/native/pty.js";

const sizeOf = (slave: number) => spawnSync("stty", ["size"], { stdio: [slave, "pipe", "pipe"], encoding: "utf8" }).stdout.trim();

it("a resize after the pty closed touches nothing, not even the pty given its fd number next", async () => {
  // CI (stop 47): a run -t container that ended before the CLI sent the first size failed the run with
  // "resizing the pty: Inappropriate ioctl for device"; the closed master's number was another file's.
  const first = await Pty.open(80, 24);
  const master = (first as unknown as { master: number }).master;
  first.close();
  await first.hungUp;
  const next = await Pty.open(100, 30);
  try {
    // Before: EBADF, or ENOTTY when the number was a file's, thrown; or, as here, the next pty resized.
    first.resize(10, 5);
    if ((next as unknown as { master: number }).master === master) assert.equal(sizeOf(next.slave), "30 100");
  } finally {
    next.close();
  }
});
