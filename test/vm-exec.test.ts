/**
 * test/exec.test.ts, unchanged, against the vm backend: the containers and
 * the processes exec'd into them run inside the v86 guest (TSBOX_BACKEND=vm),
 * through the agent's `exec` op.
 */
import { test } from "node:test";
import { vmSkip } from "./helpers/vm.js";

if (vmSkip) {
  test("exec against the vm backend", { skip: vmSkip }, () => {});
} else {
  process.env.TSBOX_BACKEND = "vm"; // test/helpers/cli.ts passes it to every scenario process
  await import("./exec.test.js");
}
