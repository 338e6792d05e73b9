/**
 * The run cache's plan (src/containers/run-plan.ts; src/cli/run-cache/key.ts, record.ts), without containers: a plan made of a run's
 * files gives back exactly those files for that run's own values and a new container's values in their places,
 * and is refused where a value also appears where it would not be replaced; the key tells command lines,
 * environments and directories apart; only runs of replayable flags are recorded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { type Json, makePlan, type PlanShape } from "../src/containers/run-plan.js";
import { runKeys } from "../src/cli/run-cache/key.js";
import { basename, join } from "node:path";
import { userInfo } from "node:os";
import { defaultDataDir } from "../src/paths.js";
import { ADJECTIVES, SURNAMES } from "../src/containers/generated-name.js";
import { runRecorder } from "../src/cli/run-cache/record.js";
import { parseRunArgs, type RunRequest } from "../src/cli/run-flags.js";
import { filesOf as files, helperArgs, ID, runFiles, runPlanFixture } from "./helpers/run-plan-cases.js";

test("the plans of test/fixtures/contract/run-plan.json are makePlan's, and its files what a full run of the new container writes", () => {
  // (native-rs/addon/src/replay/marks.rs fills the same plans with the same own values and must get the same files.)
  const fixture = JSON.parse(readFileSync(new URL("./fixtures/contract/run-plan.json", import.meta.url), "utf8")) as unknown;
  assert.deepEqual(fixture, runPlanFixture(), "run the helper's runPlanFixture() into the fixture after a change to plan.ts");
  for (const c of fixture as { plan: PlanShape }[]) {
    // The plan holds nothing of the first container's own.
    const text = JSON.stringify(c.plan);
    for (const own of [ID, ID.slice(0, 12), "brave_turing", "echo", "2026-12-06T15", '"creatorPid":100']) assert.ok(!text.includes(own), `${own} is not in the plan`);
  }
});

test("a plan without a command keeps the image's; a given name is the plan's own", () => {
  const shape = makePlan(files(runFiles(ID, "web", ["/bin/sh"])), helperArgs(ID), [], true) as PlanShape;
  assert.equal(shape.command, null);
  assert.equal(shape.name, "web");
});

test("a run whose values also appear where a plan would not replace them makes no plan", () => {
  const named = runFiles(ID, "brave_turing", ["true"]);
  (named.inspect as { Config: { Labels: Json } }).Config.Labels = { owner: "brave_turing" };
  assert.match(String(makePlan(files(named), helperArgs(ID), ["true"], false)), /name/);

  const moved = runFiles(ID, "brave_turing", ["true"]);
  (moved.spec as { process: { args: Json } }).process.args = ["true", "--wrapped"];
  assert.match(String(makePlan(files(moved), helperArgs(ID), ["true"], false)), /command/);

  const keyed = runFiles(ID, "brave_turing", ["true"]);
  (keyed.inspect as { Config: { Labels: Json } }).Config.Labels = { [ID]: "x" };
  assert.match(String(makePlan(files(keyed), helperArgs(ID), ["true"], false)), /key/);

  const pretty = files(runFiles(ID, "brave_turing", ["true"]));
  assert.match(String(makePlan({ ...pretty, specText: JSON.stringify(JSON.parse(pretty.specText), null, 2) }, helperArgs(ID), ["true"], false)), /as tsbox writes/);

  const nul = runFiles(ID, "brave_turing", ["true"]);
  (nul.inspect as { Config: { Labels: Json } }).Config.Labels = { a: "\u0000id\u0000" };
  assert.match(String(makePlan(files(nul), helperArgs(ID), ["true"], false)), /NUL/);
});

test("the key tells command lines, environments and directories apart, but not a shell's per-command variables", () => {
  const base = { env: { HOME: "/h", PATH: "/bin" }, cwd: "/w", build: "1-2-3" };
  const key = runKeys("/data", base)(["--rm", "busybox"], true);
  assert.match(key.file, /^\/data\/run-cache\/[0-9a-f]{8}-[0-9a-f]{8}\.json$/);
  assert.deepEqual(runKeys("/data", { ...base, env: { ...base.env, _: "/usr/bin/x", SHLVL: "3", HYPERFINE_RANDOMIZED_ENVIRONMENT_OFFSET: "XXX" } })(["--rm", "busybox"], true), key);
  for (const other of [
    runKeys("/data", { ...base, env: { ...base.env, TSBOX_NETWORK: "none" } })(["--rm", "busybox"], true),
    runKeys("/data", { ...base, cwd: "/elsewhere" })(["--rm", "busybox"], true),
    runKeys("/data", { ...base, build: "1-2-4" })(["--rm", "busybox"], true),
    runKeys("/data", base)(["busybox"], true),
    runKeys("/data", base)(["--rm", "busybox"], false),
  ]) {
    assert.notEqual(other.material, key.material);
  }
});

/** A contract fixture (test/fixtures/contract/), which the addon's replay from the bin reads too (native-rs/addon/src/replay). */
const contract = (file: string) => JSON.parse(readFileSync(new URL(`./fixtures/contract/${file}`, import.meta.url), "utf8")) as unknown;

test("the key is test/fixtures/contract/run-key.json's, by which the addon finds a plan (replay/key.rs)", () => {
  type Case = { input: { env: [string, string][]; cwd: string; build: string; uid: number; gid: number; prefix: string[]; hasCommand: boolean }; material: string; file: string };
  for (const c of contract("run-key.json") as Case[]) {
    const { env, prefix, hasCommand, ...rest } = c.input;
    const key = runKeys("/data", { ...rest, env: Object.fromEntries(env) })(prefix, hasCommand);
    assert.equal(key.material, c.material);
    assert.equal(basename(key.file), c.file);
  }
});

test("the data dir is test/fixtures/contract/data-dir.json's, where the addon's replay says one (replay/data_dir.rs)", () => {
  type Case = { why: string; env: Record<string, string>; cwd: string; othersHome?: boolean; dataDir: string | null };
  for (const c of contract("data-dir.json") as Case[]) {
    // (Another user's HOME needs a real one: the addon's own test has that case.)
    if (c.othersHome) continue;
    // null: the addon leaves it to the CLI, which takes the passwd file's home.
    assert.equal(defaultDataDir(c.env, c.cwd), c.dataDir ?? join(userInfo().homedir, ".local", "share", "tsbox"), c.why);
  }
});

test("the generated names' words are test/fixtures/contract/generated-names.json's (the addon's replay names too: replay/names.rs)", () => {
  assert.deepEqual(contract("generated-names.json"), { adjectives: ADJECTIVES, surnames: SURNAMES });
});

test("only runs of replayable flags are recorded", () => {
  const request = (...args: string[]) => parseRunArgs(args, {}) as RunRequest;
  const recorder = (...args: string[]) => runRecorder(args, request(...args), "/nonexistent", {});
  assert.ok(recorder("--rm", "-e", "A=1", "--network", "none", "-w", "/tmp", "busybox", "true"));
  assert.ok(recorder("--rm", "--security-opt", "seccomp=unconfined", "busybox"));
  for (const args of [
    ["-v", "/tmp:/x", "busybox", "true"],
    ["--env-file", "/dev/null", "busybox", "true"],
    ["--label-file", "/dev/null", "busybox", "true"],
    ["--pull", "always", "busybox", "true"],
    ["--ipc", "container:web", "busybox", "true"],
    ["--network", "container:web", "busybox", "true"],
    ["-p", "80:80", "busybox", "true"],
    ["--userns", "auto", "busybox", "true"],
    ["--backend", "vm", "busybox", "true"],
  ]) {
    assert.equal(recorder(...args), undefined, args.join(" "));
  }
  assert.equal(runRecorder(["busybox"], request("busybox"), "/nonexistent", { TSBOX_RUN_CACHE: "0" }), undefined);
});
