/**
 * The TS↔Rust contract, TypeScript's half (fast tier: no containers, no
 * guest). The same fixtures are checked by `cargo test` (contract_* tests in
 * native-rs): see test/fixtures/contract/README.md.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { containerErrorCode } from "../src/errors.js";
import { parseStatusLine } from "../src/backends/native/status-events.js";
import { encodeFrame, FrameDecoder, FrameType, HEADER, AGENT_MAX_PAYLOAD } from "../src/backends/vm/core/frame.js";
import { AGENT_OPS } from "../src/backends/vm/core/agent-protocol.js";
import type { ContainerSpec } from "../src/spec/container-spec.js";
import specFull from "./fixtures/contract/spec-full.json" with { type: "json" };

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./fixtures/contract/${name}`, import.meta.url), "utf8")) as T;

/**
 * Every key of T, optional ones too, all the way down (array elements
 * included); values themselves are not constrained. Assigning the fixture to
 * `Keys<ContainerSpec>` makes `tsc --noEmit` fail when the TS type gains a
 * field the fixture (and so Rust's check of it) does not have.
 */
type Keys<T> = T extends readonly (infer E)[] ? Keys<E>[] : T extends object ? { [K in keyof T]-?: Keys<NonNullable<T[K]>> } : unknown;
const everyField: Keys<ContainerSpec> = specFull;

test("spec-full.json names every ContainerSpec field (compile-time) and is a JSON object", () => {
  assert.equal(typeof everyField, "object");
  assert.ok(Object.keys(specFull.linux).length > 0);
});

test("error kinds: the TsboxError code and exit code of every kind the Rust side reports", () => {
  const kinds = fixture<Record<string, { exitCode: number; tsboxCode: string }>>("error-kinds.json");
  for (const [kind, { tsboxCode }] of Object.entries(kinds)) assert.equal(containerErrorCode(kind), tsboxCode, kind);
});

test("status events: the lines tsbox-runtime and the agent's supervisors write parse to the documented events", () => {
  for (const c of fixture<{ line: string; event: unknown }[]>("status-events.json")) assert.deepEqual(parseStatusLine(c.line), c.event);
});

test("frames: the wire format of the agent protocol", () => {
  const doc = fixture<{
    types: Record<string, number>;
    header: number;
    agentMaxInPayload: number;
    frames: { type: number; channel: number; payloadHex: string; wireHex: string }[];
    rejected: { wireHex: string; channel: number }[];
  }>("frames.json");
  assert.deepEqual({ ...FrameType }, doc.types);
  assert.equal(HEADER, doc.header);
  assert.equal(AGENT_MAX_PAYLOAD, doc.agentMaxInPayload);
  for (const f of doc.frames) {
    const payload = Buffer.from(f.payloadHex, "hex");
    assert.equal(Buffer.from(encodeFrame(f.type, f.channel, payload)).toString("hex"), f.wireHex);
    const items = new FrameDecoder(AGENT_MAX_PAYLOAD).push(Buffer.from(f.wireHex, "hex"));
    assert.deepEqual(items, [{ kind: "frame", frame: { type: f.type, channel: f.channel, payload } }]);
  }
  for (const r of doc.rejected) {
    const items = new FrameDecoder(AGENT_MAX_PAYLOAD).push(Buffer.from(r.wireHex, "hex"));
    assert.equal(items.length, 1);
    assert.equal(items[0]!.kind, "rejected");
    assert.equal(items[0]!.kind === "rejected" && items[0]!.channel, r.channel);
  }
});

test("agent ops: what AgentProtocol may send is what the agent serves", () => {
  assert.deepEqual([...AGENT_OPS], fixture<string[]>("agent-ops.json"));
});
