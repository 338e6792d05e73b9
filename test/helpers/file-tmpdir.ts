/**
 * Loaded with `--import` by scripts/test.sh's lanes: each test file (a process
 * of its own under `node --test`) gets a temp dir of its own inside its lane's,
 * so files that run at the same time (`--test-concurrency`) do not see each
 * other's temp entries and mounts as leaks (helpers/leaks.ts reads tmpdir()).
 * The runner's own process (no NODE_TEST_CONTEXT) keeps the lane's dir.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

if (process.env.NODE_TEST_CONTEXT) {
  const dir = mkdtempSync(join(tmpdir(), "file-"));
  chmodSync(dir, 0o1777); // the unprivileged test users write here too
  process.env.TMPDIR = dir;
  // What a test left is reported by its leak check; the dir goes with the file's process, unless something is
  // still mounted in it (a recursive removal would go through the mount).
  process.once("exit", () => {
    const mounted = readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4]?.startsWith(`${dir}/`));
    if (!mounted) rmSync(dir, { recursive: true, force: true });
  });
}
