/**
 * The run cache's plan (src/cli/run-cache/plan.ts, key.ts, record.ts), without containers: a plan made of a run's
 * files gives back exactly those files for that run's own values and a new container's values in their places,
 * and is refused where a value also appears where it would not be replaced; the key tells command lines,
 * environments and directories apart; only runs of replayable flags are recorded.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { instantiate, type Json, makePlan, type PlanShape, type RunFiles } from "../src/cli/run-cache/plan.js";

/** A run's files as objects, before they are written as tsbox writes them (`files`). */
interface RunObjects {
  spec: { [key: string]: Json };
  inspect: { [key: string]: Json };
  state: ContainerState;
}
const files = (o: RunObjects): RunFiles => ({ specText: JSON.stringify(o.spec), inspectText: `${JSON.stringify(o.inspect)}\n`, state: o.state });
const objects = (f: RunFiles): RunObjects => ({ spec: JSON.parse(f.specText), inspect: JSON.parse(f.inspectText), state: f.state });
import { runKeys } from "../src/cli/run-cache/key.js";
import { runRecorder } from "../src/cli/run-cache/record.js";
import { parseRunArgs, type RunRequest } from "../src/cli/run-flags.js";
import type { ContainerState } from "../src/containers/state.js";

const ID = "3f1c".repeat(16);
const OTHER = "a07e".repeat(16);

/** A run's files as `Runtime.prepare` writes them (the fields that matter here), for `id`, `name` and `command`. */
function runFiles(id: string, name: string, command: string[], entrypoint: string[] = []): RunObjects {
  const bundle = `/data/containers/${id}`;
  const args = [...entrypoint, ...command];
  return {
    spec: {
      process: { args, env: ["PATH=/bin", `HOSTNAME=${id.slice(0, 12)}`], cwd: "/" },
      root: { path: `${bundle}/rootfs`, overlay: { lower: ["/data/layers/sha256/ab"], upper: `${bundle}/upper`, work: `${bundle}/work` } },
      hostname: id.slice(0, 12),
      linux: { cgroupsPath: `/tsbox/${id}` },
      network: { dir: `${bundle}/net`, container: { id, name }, hostname: id.slice(0, 12) },
    },
    inspect: { Path: args[0]!, Args: args.slice(1), Config: { Hostname: id.slice(0, 12), Cmd: command, Entrypoint: entrypoint.length ? entrypoint : null, Labels: {} }, HostConfig: { NetworkMode: "none" }, Mounts: [], GraphDriver: { Data: { UpperDir: `${bundle}/upper` } } },
    state: {
      id,
      name,
      image: "busybox",
      imageDigest: "sha256:00",
      command: args,
      backend: "native",
      status: "created",
      created: "2026-12-06T15:00:00.000Z",
      creatorPid: 100,
      creatorStartTime: "42",
      remove: true,
      labels: {},
    } as unknown as ContainerState,
  };
}

const helperArgs = (id: string) => ["run", "--bundle", `/data/containers/${id}`, "--record", "--remove", "--front-end"];

function plan(run: RunObjects, command: string[], nameGiven = false): PlanShape {
  const made = makePlan(files(run), helperArgs(run.state.id), command, nameGiven);
  assert.notEqual(typeof made, "string", `a plan: ${String(made)}`);
  return made as PlanShape;
}

test("a plan gives back its own run's files, and a new container's with its id, name, time and command in place", () => {
  const first = runFiles(ID, "brave_turing", ["echo", "one"], ["/entry"]);
  const shape = plan(first, ["echo", "one"]);
  const own = { id: ID, name: "brave_turing", created: first.state.created, creatorPid: 100, creatorStartTime: "42", command: ["echo", "one"] };
  assert.deepEqual(instantiate(shape, own), { ...files(first), helperArgs: helperArgs(ID) });

  // Another container: what a full run of it would have written.
  const made = instantiate(shape, { id: OTHER, name: "calm_hopper", created: "2026-12-06T16:00:00.000Z", creatorPid: 200, creatorStartTime: "43", command: ["sh", "-c", "echo two $& $1"] });
  const next = { ...objects(made), helperArgs: made.helperArgs };
  const expected = runFiles(OTHER, "calm_hopper", ["sh", "-c", "echo two $& $1"], ["/entry"]);
  assert.deepEqual(next.spec, expected.spec);
  assert.deepEqual(next.inspect, expected.inspect);
  assert.deepEqual(next.state, { ...expected.state, created: "2026-12-06T16:00:00.000Z", creatorPid: 200, creatorStartTime: "43" });
  assert.deepEqual(next.helperArgs, helperArgs(OTHER));
  // The plan holds nothing of the first container's own.
  const text = JSON.stringify(shape);
  for (const own of [ID, ID.slice(0, 12), "brave_turing", "echo", "2026-12-06T15"]) assert.ok(!text.includes(own), `${own} is not in the plan`);
});

test("a plan without a command keeps the image's; a given name is the plan's own", () => {
  const files = runFiles(ID, "web", ["/bin/sh"]);
  const shape = plan(files, [], true);
  assert.equal(shape.command, null);
  assert.equal(shape.name, "web");
  const next = objects(instantiate(shape, { id: OTHER, name: "web", created: "t", creatorPid: 1, creatorStartTime: null, command: [] }));
  assert.deepEqual((next.spec as { process: { args: Json } }).process.args, ["/bin/sh"]);
  assert.equal(next.state.name, "web");
  assert.equal((next.spec as { network: { container: { name: Json } } }).network.container.name, "web");
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
