/**
 * The cgroup contract between tsbox-runtime / the vm agent and the backends,
 * without containers: the stats JSON (test/fixtures/contract/stats.json, which
 * native-rs/container's contract_stats test writes exactly) and the `exited`
 * status event's oomKilled when an older helper omits it; the stats the CLI
 * reads from cgroup files itself (test/fixtures/contract/cgroup-stats.json,
 * which native-rs/container's contract_cgroup_stats test reads too).
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseContainerStats } from "../src/backends/container-stats.js";
import { parseStatusLine } from "../src/backends/native/status-events.js";
import { readCgroupStats, statsOf } from "../src/backends/native/cgroup-stats.js";
import { cgroupSettings } from "../src/spec/resources.js";

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

  it("reads a container's stats from its cgroup files as tsbox-runtime stats does (cgroup-stats.json)", () => {
    const doc = JSON.parse(readFileSync(new URL("./fixtures/contract/cgroup-stats.json", import.meta.url), "utf8")) as {
      cases: { name: string; version: "v1" | "v2"; files: Record<string, string>; stats: unknown }[];
    };
    assert.ok(doc.cases.length >= 3);
    for (const c of doc.cases) {
      const root = mkdtempSync(join(tmpdir(), "tsbox-cgroup-stats-"));
      try {
        const dirs: Record<string, string> = {};
        for (const [path, text] of Object.entries(c.files)) {
          mkdirSync(dirname(join(root, path)), { recursive: true });
          writeFileSync(join(root, path), text);
          const controller = path.split("/")[0]!;
          dirs[controller] = join(root, controller);
        }
        assert.deepEqual(statsOf({ version: c.version, dirs }), c.stats, c.name);
        // Through the bundle's record, as NativeBackend.stats finds it.
        writeFileSync(join(root, "cgroup.json"), JSON.stringify({ version: c.version, dirs }));
        assert.deepEqual(readCgroupStats(root), c.stats, c.name);
        assert.deepEqual(parseContainerStats(c.stats, "fixture"), c.stats);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
    assert.equal(readCgroupStats(join(tmpdir(), "tsbox-no-such-bundle")), undefined);
  });
});

describe("docker's memory+swap default", () => {
  const settings = (resources: object, swap: boolean) => cgroupSettings("c", { resources }, {}, { cpus: 2, pidMax: 4_194_304 }, swap).resources?.memory;
  it("where the host swaps, -m alone gets memory+swap of twice it; an explicit --memory-swap stays", () => {
    // Before stop 40 a -m container could swap without bound.
    assert.deepEqual(settings({ memory: "32m" }, true), { limit: 32 << 20, swap: 64 << 20 });
    assert.deepEqual(settings({ memory: "32m", memorySwap: "48m" }, true), { limit: 32 << 20, swap: 48 << 20 });
    assert.deepEqual(settings({ memory: "32m", memorySwap: -1 }, true), { limit: 32 << 20, swap: -1 });
  });
  it("where it does not (no swap to limit, and no file to write), none", () => {
    assert.deepEqual(settings({ memory: "32m" }, false), { limit: 32 << 20 });
  });
});
