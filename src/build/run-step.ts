/**
 * RUN: the command in a container of the stage's image (its ENV, the ARGs
 * in scope, WORKDIR and USER; never the image's ENTRYPOINT), its output
 * shown as it comes; then its writable layer, deletions as whiteouts, is
 * the new image's layer. The container is removed whatever happens.
 */
import { DISPOSABLE_LAYER, type Runtime } from "../runtime.js";
import type { MountOption } from "../spec/run-options.js";
import type { Instruction } from "./dockerfile.js";
import type { BuildOptions, Stage } from "./builder.js";
import { BuildError } from "./build-error.js";
import { commitStep } from "./commit-step.js";
import { mountStubs, stageLayerDirs } from "./mount-stubs.js";
import { stepContainer } from "./step-containers.js";
import { isTsboxError } from "../errors.js";

export interface RunStepRequest {
  argv: string[];
  env: string[];
  annotations: Record<string, string>;
  /** RUN --mount's (run-mounts.ts): not part of the step's layer. */
  mounts?: MountOption[];
  /** RUN --network: this step's network instead of the build's. */
  network?: string;
}

export async function runStep(rt: Runtime, stage: Stage, ins: Instruction, req: RunStepRequest, options: BuildOptions, say: (text: string) => void): Promise<{ manifestDigest: string; configDigest: string }> {
  if (!stage.image) throw new BuildError(`line ${ins.line}: RUN has nothing to run: this stage is FROM scratch with no files yet`);
  const step = stepContainer();
  const c = await rt.run({
    ...step,
    image: stage.image.configDigest,
    entrypoint: req.argv,
    env: req.env,
    workdir: stage.config.WorkingDir || "/",
    user: stage.config.User || "0",
    ...((req.network ?? options.network) !== undefined ? { network: req.network ?? options.network } : {}),
    ...(req.mounts?.length ? { mounts: req.mounts } : {}),
    stdout: "pipe",
    stderr: "pipe",
  }, { onWarning: (w) => say(`[warning] ${w}\n`), [DISPOSABLE_LAYER]: true }).catch(async (err: unknown) => {
    // A start that failed is recorded (exited, 125): not a container to leave behind.
    await rt.removeContainer(step.name, { force: true, volumes: true }).catch(() => {});
    // A failed step, as any other (exit 1), with why it could not start and where (an unknown USER too).
    if (isTsboxError(err) && err.code !== "usage") throw new BuildError(`line ${ins.line}: process "${req.argv.join(" ")}" did not complete successfully: ${err.message}`);
    if (isTsboxError(err)) throw new BuildError(`line ${ins.line}: ${err.message}`, err);
    throw err;
  });
  const onAbort = () => void c.kill("SIGKILL").catch(() => {});
  options.signal?.addEventListener("abort", onAbort);
  try {
    const pump = async (stream: NodeJS.ReadableStream | null) => {
      if (stream) for await (const chunk of stream) say(String(chunk));
    };
    const [status] = await Promise.all([c.wait(), pump(c.stdout), pump(c.stderr)]);
    options.signal?.throwIfAborted();
    if (status.exitCode !== 0) {
      throw new BuildError(`line ${ins.line}: process "${req.argv.join(" ")}" did not complete successfully: exit code: ${status.exitCode}${status.oomKilled ? " (killed: out of memory)" : ""}`);
    }
    // The mounts' targets the image lacked were made for them: out of the layer when the step left them empty.
    const stubs = req.mounts?.length ? mountStubs(await stageLayerDirs(rt, stage), req.mounts.map((m) => m.target)) : undefined;
    return await commitStep(rt, stage, c.id, `RUN ${req.argv.join(" ")} # tsbox build`, req.annotations, options.signal, stubs);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    await rt.removeContainer(c.id, { force: true, volumes: true }).catch(() => {});
  }
}
