/**
 * docker's detach keys (src/cli/detach-keys.ts), with no container: the
 * `--detach-keys` grammar, and the filter that holds back what may begin the
 * sequence and passes it on when it was not. lifecycle.test.ts detaches a
 * real terminal.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_DETACH_KEYS, DetachFilter, parseDetachKeys } from "../src/cli/detach-keys.js";

describe("detach keys", () => {
  it("parse docker's grammar: characters and ctrl- keys", () => {
    assert.deepEqual(parseDetachKeys(DEFAULT_DETACH_KEYS), [0x10, 0x11]);
    assert.deepEqual(parseDetachKeys("ctrl-a,b,ctrl-Z"), [1, 98, 26]);
    assert.deepEqual(["@", "[", "\\", "]", "^", "_"].map((c) => parseDetachKeys(`ctrl-${c}`)[0]), [0, 27, 28, 29, 30, 31]);
    for (const bad of ["ctrl-9", "ctrl-", "ctrl-ab", "", "ab", "ctrl-p,,ctrl-q"]) assert.throws(() => parseDetachKeys(bad), /invalid detach keys/, bad);
  });

  it("hold what may begin the sequence, pass it on when it was not, and drop the sequence itself", () => {
    const f = new DetachFilter([0x10, 0x11]);
    const bytes = (s: string) => Buffer.from(s, "latin1");
    const pass = (r: { pass: Uint8Array; detach: boolean }) => [Buffer.from(r.pass).toString("latin1"), r.detach];
    assert.deepEqual(pass(f.push(bytes("ls\n"))), ["ls\n", false]);
    assert.deepEqual(pass(f.push(bytes("a\x10"))), ["a", false], "held");
    assert.deepEqual(pass(f.push(bytes("x"))), ["\x10x", false], "not the sequence: both go on");
    assert.deepEqual(pass(f.push(bytes("\x10\x10"))), ["\x10", false], "the second may begin it again");
    assert.deepEqual(pass(f.push(bytes("\x11after"))), ["", true], "complete across writes; what follows is not sent");
    assert.deepEqual(pass(new DetachFilter([0x03]).push(bytes("ab\x03c"))), ["ab", true], "one key");
  });
});
