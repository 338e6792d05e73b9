/**
 * test/cgroups.test.ts against the vm backend: the same limits, stats,
 * pause/unpause and OOM kills inside the v86 guest, whose agent runs the same
 * container::cgroups code on a pure cgroup v2 hierarchy (TSBOX_BACKEND=vm).
 */
import { test } from "node:test";
import { vmSkip } from "./helpers/vm.js";

if (vmSkip) {
  test("cgroups against the vm backend", { skip: vmSkip }, () => {});
} else {
  process.env.TSBOX_BACKEND = "vm"; // test/helpers/cli.ts passes it to every tsbox it starts
  await import("./cgroups.test.js");
}
