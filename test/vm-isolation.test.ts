/**
 * test/isolation.test.ts, unchanged, against the vm backend: every
 * container of it runs inside the v86 guest (TSBOX_BACKEND=vm).
 */
import { test } from "node:test";
import { vmSkip } from "./helpers/vm.js";

if (vmSkip) {
  test("isolation against the vm backend", { skip: vmSkip }, () => {});
} else {
  process.env.TSBOX_BACKEND = "vm"; // test/helpers/cli.ts passes it to every tsbox it starts
  await import("./isolation.test.js");
}
