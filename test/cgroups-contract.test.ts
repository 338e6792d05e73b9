/**
 * The cgroup contract between tsbox-runtime / the vm agent and the backends,
 * without containers: the stats JSON (test/fixtures/contract/stats.json, which
 * native-rs/container's contract_stats test writes exactly) and the `exited`
 * status event's oomKilled when an older helper omits it.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parseContainerStats } from "../src/backends/container-stats.js";
import { parseStatusLine } from "../src/backends/native/status-events.js";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/contract/stats.json", import.meta.url), "utf8")) as unknown;

describe("cgroup contract", () => {
  it("parses the stats fixture unchanged", () => {
    assert.deepEqual(parseContainerStats(fixture, "test"), fixture);
  });

  it("takes null where a figure is unknown, and refuses a missing or mistyped one", () => {
    const f = structuredClone(fixture) as { memory: Record<string, unknown>; cpu: Record<string, unknown> };
    f.memory.peak = null;
    f.memory.limit = null;
    f.cpu.throttledUsec = null;
    const s = parseContainerStats(f, "test");
    assert.equal(s.memory.peak, null);
    assert.equal(s.cpu.throttledUsec, null);
    f.memory.usage = null;
    assert.throws(() => parseContainerStats(f, "tsbox-runtime stats"), /tsbox-runtime stats gave malformed stats \(memory\.usage\)/);
    assert.throws(() => parseContainerStats({ memory: {} }, "x"), /malformed stats/);
    assert.throws(() => parseContainerStats("{}", "x"), /not an object/);
  });

  it("reads oomKilled from the exited event (false when an older helper omits it)", () => {
    assert.deepEqual(parseStatusLine('{"event":"exited","exitCode":137,"signal":null,"oomKilled":true}'), {
      event: "exited",
      exitCode: 137,
      signal: null,
      oomKilled: true,
    });
    assert.equal((parseStatusLine('{"event":"exited","exitCode":0,"signal":null}') as { oomKilled: boolean }).oomKilled, false);
  });
});
