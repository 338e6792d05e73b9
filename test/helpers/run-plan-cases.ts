/**
 * The run cache's plan cases (test/run-cache-plan.test.ts): a run's files as `Runtime.prepare` writes them (the
 * fields that matter here), and test/fixtures/contract/run-plan.json, made of them — each case's plan (src/containers/run-plan.ts
 * `makePlan` of a first run), a new container's own values, and the files a full run of that container writes.
 * The Rust side (native-rs/addon/src/replay/marks.rs) fills each plan with the own values and must get those files.
 */
import { type Json, makePlan, type PlanShape, type RunFiles } from "../../src/containers/run-plan.js";
import { type ContainerState, stateFileText } from "../../src/containers/state.js";

/** A run's files as objects, before they are written as tsbox writes them (`filesOf`). */
export interface RunObjects {
  spec: { [key: string]: Json };
  inspect: { [key: string]: Json };
  state: ContainerState;
}

export const filesOf = (o: RunObjects): RunFiles => ({ specText: JSON.stringify(o.spec), inspectText: `${JSON.stringify(o.inspect)}\n`, state: o.state });

/** A run's files for `id`, `name` and `command` (after `entrypoint`). */
export function runFiles(id: string, name: string, command: string[], entrypoint: string[] = []): RunObjects {
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

export const helperArgs = (id: string) => ["run", "--bundle", `/data/containers/${id}`, "--record", "--remove", "--front-end"];

export const ID = "3f1c".repeat(16);
export const OTHER = "a07e".repeat(16);

interface Case {
  what: string;
  first: { name: string; command: string[]; entrypoint: string[]; nameGiven: boolean };
  own: { id: string; name: string; created: string; creatorPid: number; creatorStartTime: string | null; command: string[] };
}

const CASES: Case[] = [
  {
    what: "a generated name, a command after an entrypoint, replaced by one that needs escaping",
    first: { name: "brave_turing", command: ["echo", "one"], entrypoint: ["/entry"], nameGiven: false },
    own: { id: OTHER, name: "calm_hopper", created: "2026-12-06T16:00:00.000Z", creatorPid: 200, creatorStartTime: "43", command: ["sh", "-c", 'echo two $& $1 "q" \\ é\t\u0001\n'] },
  },
  {
    what: "a given name and the image's command",
    first: { name: "web", command: [], entrypoint: [], nameGiven: true },
    own: { id: OTHER, name: "web", created: "2026-12-06T16:00:01.000Z", creatorPid: 1, creatorStartTime: null, command: [] },
  },
];

/** The fixture's content. */
export function runPlanFixture(): unknown[] {
  return CASES.map((c) => {
    const firstCommand = c.first.command.length ? c.first.command : ["/bin/sh"];
    const first = runFiles(ID, c.first.name, firstCommand, c.first.entrypoint);
    const plan = makePlan(filesOf(first), helperArgs(ID), c.first.command, c.first.nameGiven) as PlanShape;
    if (typeof plan === "string") throw new Error(`${c.what}: no plan: ${plan}`);
    const next = runFiles(c.own.id, c.own.name, c.own.command.length ? c.own.command : firstCommand, c.first.entrypoint);
    const state = { ...next.state, created: c.own.created, creatorPid: c.own.creatorPid, creatorStartTime: c.own.creatorStartTime } as ContainerState;
    return { what: c.what, plan, own: c.own, files: { specText: JSON.stringify(next.spec), inspectText: `${JSON.stringify(next.inspect)}\n`, stateText: stateFileText(state), helperArgs: helperArgs(c.own.id) } };
  });
}
