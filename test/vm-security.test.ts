/**
 * test/security.test.ts against the vm backend (TSBOX_BACKEND=vm): the
 * escapes that make sense inside the guest, tried by an i386 build of the
 * probe, through the guest agent running the same container crate.
 */
import { test } from "node:test";
import { vmSkip } from "./helpers/vm.js";

if (vmSkip) {
  test("security against the vm backend", { skip: vmSkip }, () => {});
} else {
  process.env.TSBOX_BACKEND = "vm"; // test/helpers/cli.ts passes it to every tsbox it starts
  await import("./security.test.js");
}
