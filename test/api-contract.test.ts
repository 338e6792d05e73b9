/**
 * The shared surface of `tsbox` (Node) and `tsbox/browser`: one script,
 * written only against what both promise, runs unchanged under Node with
 * the native backend, under Node with the vm backend, and in Chromium
 * (the vm backend in a Web Worker). Each run reports what it saw; the three
 * reports must equal one expectation. The script is plain JS text, so the
 * page runs exactly what Node runs.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { Runtime } from "../src/index.js";
import { ContainerError, TsboxError } from "../src/errors.js";
import { VmBackend } from "../src/backends/vm/node/vm-backend.js";
import { bundleBrowser, chromiumSkip, launchChromium, serveVmPage, type StaticServer, VmPage } from "./helpers/browser.js";
import { vmSkip } from "./helpers/vm.js";

/** The script: an async function body with `rt` (a Runtime) and `errors` ({ TsboxError, ContainerError }) in scope. */
const CONTRACT = String.raw`
  const report = {};
  const fail = (e) => ({ tsbox: e instanceof errors.TsboxError, container: e instanceof errors.ContainerError, code: e.code, exitCode: e.exitCode });

  // run resolves once the command runs; output() collects it and the exit.
  const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"] });
  report.run = { running: typeof c.running, id: /^[0-9a-f]{64}$/.test(c.id), pid: c.pid > 0 };
  report.output = await c.output();
  report.wait = await c.wait();
  report.afterExit = c.running;
  await c.remove();

  // Output streams are async-iterable as bytes.
  const s = await rt.run({ image: "busybox", cmd: ["echo", "bytes"] });
  let text = "", allBytes = true;
  for await (const chunk of s.stdout) { allBytes &&= chunk instanceof Uint8Array; text += new TextDecoder().decode(chunk); }
  report.stream = { allBytes, text };
  await s.wait();
  await s.remove();

  // A command that cannot run: run rejects, exec resolves with 127.
  report.runMissing = await rt.run({ image: "busybox", cmd: ["no-such-command"] }).then(() => "ran", fail);

  // exec and spawn in a running container, its env and hostname.
  const box = await rt.run({ image: "busybox", cmd: ["sleep", "60"], hostname: "contract", env: { WHO: "box" } });
  report.exec = await box.exec(["sh", "-c", "hostname; echo $WHO; cat"], { stdin: "piped\n" });
  report.execMissing = (await box.exec(["no-such-command"])).exitCode;
  // Past maxBuffer: the process killed, a typed error with what was read (head's 5000 would be more).
  report.execLimit = await box.exec(["sh", "-c", "yes | head -c 5000"], { maxBuffer: 1000 }).then(() => "resolved", (e) => ({ ...fail(e), stream: e.stream, read: [e.stdout.length, e.stderr] }));
  const p = await box.spawn(["sleep", "60"]);
  report.spawn = { running: p.running, pid: p.pid > 0, killed: p.kill("SIGKILL") };
  report.spawnWait = await p.wait();
  report.removeRunning = await box.remove().then(() => "removed", fail);
  // sleep, PID 1 of its namespace, ignores SIGTERM: stop kills it after the timeout.
  report.stop = await box.stop(500);
  report.lateExec = await box.exec(["true"]).then(() => "ran", fail);
  await box.remove();

  // Disposal kills and removes.
  const d = await rt.run({ image: "busybox", cmd: ["sleep", "60"] });
  await d[Symbol.asyncDispose]();
  report.disposed = { running: d.running, status: await d.wait() };
  return report;
`;

const EXPECTED = {
  run: { running: "boolean", id: true, pid: true },
  output: { exitCode: 3, stdout: "out\n", stderr: "err\n" },
  wait: { exitCode: 3, signal: null },
  afterExit: false,
  stream: { allBytes: true, text: "bytes\n" },
  runMissing: { tsbox: true, container: false, code: "not_found", exitCode: 127 },
  exec: { exitCode: 0, signal: null, stdout: "contract\nbox\npiped\n", stderr: "" },
  execMissing: 127,
  execLimit: { tsbox: true, container: false, code: "max_buffer", exitCode: 125, stream: "stdout", read: [1000, ""] },
  spawn: { running: true, pid: true, killed: true },
  spawnWait: { exitCode: 137, signal: "SIGKILL" },
  removeRunning: { tsbox: true, container: true, code: "container", exitCode: 125 },
  stop: { exitCode: 137, signal: "SIGKILL" },
  lateExec: { tsbox: true, container: true, code: "container", exitCode: 125 },
  disposed: { running: false, status: { exitCode: 137, signal: "SIGKILL" } },
};

type Rt = { run: unknown };
const runContract = (rt: Rt) => new Function("rt", "errors", `return (async () => {${CONTRACT}})();`)(rt, { TsboxError, ContainerError }) as Promise<Record<string, unknown>>;

/** `wait()` on Node may carry fields the browser does not know yet (oomKilled): compare the shared ones. */
function shared(report: Record<string, any>): Record<string, unknown> {
  const status = (s: any) => s && { exitCode: s.exitCode, signal: s.signal };
  return { ...report, wait: status(report.wait), stop: status(report.stop), spawnWait: status(report.spawnWait), disposed: report.disposed && { ...report.disposed, status: status(report.disposed.status) } };
}

describe("the shared API contract", () => {
  let dataDir: string;
  before(() => (dataDir = mkdtempSync(join(tmpdir(), "tsbox-contract-"))));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it("holds on Node with the native backend", async () => {
    // Only lo (helpers/cli.ts): a root bridge would be made in the machine's own network namespace.
    const report = await runContract(new Runtime({ backend: "native", dataDir: join(dataDir, "native"), network: "none" }));
    assert.deepEqual(shared(report), EXPECTED);
  });

  it("holds on Node with the vm backend", { skip: vmSkip }, async () => {
    const backend = new VmBackend({ idleMs: 60_000 });
    try {
      const report = await runContract(new Runtime({ backend, dataDir: join(dataDir, "vm") }));
      assert.deepEqual(shared(report), EXPECTED);
    } finally {
      await backend.shutdown();
    }
  });

  describe("in Chromium (tsbox/browser)", { skip: chromiumSkip || vmSkip }, () => {
    let server: StaticServer;
    let browser: Browser;
    before(async () => {
      bundleBrowser();
      server = await serveVmPage();
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await server?.close();
    });

    it("holds in a page", async () => {
      const page = await VmPage.open(browser, server);
      const booted = await page.boot({ storage: false });
      assert.ok(booted.ok, booted.error);
      const report = await page.eval(`const errors = tsbox; return (async () => {${CONTRACT}})();`);
      assert.deepEqual(shared(report), EXPECTED);
      await page.close();
    });
  });
});
