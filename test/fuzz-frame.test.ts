/**
 * Fuzzing the host side of the agent protocol (src/backends/vm/core/frame.ts and
 * the link above it, agent-protocol.ts) as a hostile guest would drive it:
 * streams of valid frames (oversized ones too), garbage and mutations, cut
 * into random chunks. The decoder never throws, never buffers more than one
 * frame, returns exactly the valid frames of a clean stream; the link never
 * throws, never buffers more than a channel's window, and fires no event it
 * does not know. The agent's decoder (native-rs/agent/src/frame.rs) is
 * fuzzed the same way by `cargo test`. Seeded: see test/helpers/fuzz.ts.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { AgentLink } from "../src/backends/vm/node/agent-link.js";
import { encodeFrame, FrameDecoder, FrameType, HEADER } from "../src/backends/vm/core/frame.js";
import { fuzz, mutate, type Rng } from "./helpers/fuzz.js";

const MAX = 64 * 1024;

interface Expected {
  type: number;
  channel: number;
  payload: Buffer;
}

function randomFrame(rng: Rng): Expected {
  const type = rng.chance(0.9) ? 1 + rng.int(5) : rng.int(256);
  const size = rng.chance(0.05) ? MAX + 1 + rng.size(100_000) : rng.size(rng.chance(0.1) ? MAX : 512);
  return { type, channel: rng.chance(0.8) ? rng.int(8) : rng.next(), payload: rng.bytes(size) };
}

function* pieces(rng: Rng, data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; ) {
    const n = 1 + rng.size(Math.min(8192, data.length - at));
    yield data.subarray(at, at + n);
    at += n;
  }
}

it("frame decoder: random, mutated and oversized frames in random pieces", { timeout: 600_000 }, async () => {
  await fuzz({
    name: "frame-decoder",
    seconds: 10,
    run(rng) {
      const frames = Array.from({ length: 1 + rng.int(20) }, () => randomFrame(rng));
      let stream: Buffer = Buffer.concat(frames.map((f) => Buffer.from(encodeFrame(f.type, f.channel, f.payload))));
      const clean = rng.chance(0.5);
      if (!clean) {
        if (rng.chance(0.5)) stream = mutate(rng, stream);
        if (rng.chance(0.3)) stream = Buffer.concat([rng.bytes(rng.size(300)), stream, rng.bytes(rng.size(300))]);
      }
      const d = new FrameDecoder(MAX);
      const got: Expected[] = [];
      for (const piece of pieces(rng, stream)) {
        for (const item of d.push(piece)) {
          if (item.kind !== "frame") continue;
          assert.ok(item.frame.payload.length <= MAX, "no payload over the limit");
          assert.ok(item.frame.type >= FrameType.ctrl && item.frame.type <= FrameType.error, "only known types");
          got.push({ type: item.frame.type, channel: item.frame.channel, payload: item.frame.payload });
        }
        const held = (d as unknown as { buf: Uint8Array }).buf.length;
        assert.ok(held <= HEADER + MAX, `the decoder holds ${held} bytes`);
      }
      if (clean) {
        const valid = frames.filter((f) => f.payload.length <= MAX && f.type >= 1 && f.type <= 5);
        assert.deepEqual(got, valid, "a clean stream decodes to exactly its valid frames");
      }
    },
  });
});

it("agent link: a hostile guest's frames never throw, never overrun a window, fire no unknown event", { timeout: 600_000 }, async () => {
  const fired: string[] = [];
  await fuzz({
    name: "agent-link",
    seconds: 10,
    run(rng) {
      const link = new AgentLink({ send: () => {} });
      link.on("protocol-error", () => {});
      for (const e of ["error", "close", "exit", "data"]) link.on(e, () => fired.push(e));
      const outputs = Array.from({ length: 3 }, () => link.openOutput());
      for (const o of outputs) o.readable.on("error", () => {});
      const inputs = Array.from({ length: 2 }, () => link.openInput());
      const pending = link.request("ping", {}, 60_000).then(
        () => {},
        () => {},
      );
      for (let i = rng.int(60); i > 0; i--) {
        let bytes: Uint8Array;
        switch (rng.int(5)) {
          case 0:
            bytes = encodeFrame(FrameType.data, rng.pick([...outputs.map((o) => o.channel), rng.int(10)]), rng.bytes(rng.size(MAX)));
            break;
          case 1:
            bytes = encodeFrame(FrameType.credit, rng.pick([0, ...inputs.map((p) => p.channel)]), rng.chance(0.8) ? rng.bytes(4) : rng.bytes(rng.int(9)));
            break;
          case 2: {
            const body = rng.pick([{ id: 1, ok: true }, { id: 1, ok: false, error: rng.pick([null, 5, { kind: 7 }]) }, { event: rng.pick(["ready", "error", "close", "exit", "__proto__"]) }, { id: rng.next() }, []]);
            bytes = encodeFrame(FrameType.ctrl, 0, rng.chance(0.8) ? Buffer.from(JSON.stringify(body)) : rng.bytes(rng.size(64)));
            break;
          }
          case 3:
            bytes = encodeFrame(rng.pick([FrameType.eof, FrameType.error]), rng.int(10), rng.bytes(rng.size(64)));
            break;
          default:
            bytes = mutate(rng, Buffer.from(encodeFrame(rng.int(8), rng.int(10), rng.bytes(rng.size(128)))));
        }
        for (const piece of pieces(rng, Buffer.from(bytes))) link.receive(piece);
        // Credit is granted back while the Readable is under its highWaterMark (16 KiB): window + that, at most.
        for (const o of outputs) assert.ok(o.readable.readableLength <= 80 * 1024, `a channel buffers ${o.readable.readableLength} bytes`);
      }
      link.close(new Error("done"));
      return pending;
    },
  });
  assert.deepEqual(fired, [], "no event the link does not know was fired");
});
