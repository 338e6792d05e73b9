/**
 * test/isolation.test.ts, unchanged, against the vm backend: every
 * container of it runs inside the v86 guest (TSBOX_BACKEND=vm).
 */
import { test } from "node:test";
import { vmSkip } from "./helpers/vm.js";
import { forceBackend } from "./helpers/vm-env.js";

if (vmSkip) {
  test("isolation against the vm backend", { skip: vmSkip }, () => {});
} else {
  forceBackend("vm");
  await import("./isolation.test.js");
}
