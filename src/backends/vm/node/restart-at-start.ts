/**
 * What Docker Desktop does as its VM comes up: the containers of policy `always`, and `unless-stopped` ones the
 * user did not stop, run again. The vm daemon (daemon.ts) runs this once, as its guest serves, in its
 * background: the command that started the guest does not wait for it. It is the boot recipe of README
 * (`tsbox start --all --filter restart-policy=…`) run by the daemon, so docker's rule has one home
 * (cli/commands/start.ts, `endRecorded`), and each start is an ordinary one: its lock (a racing `start` of the
 * same container runs it once), its state and its `start` event. A separate process, because a start reaches
 * the guest through the daemon's socket, as any client's.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { errorMessage } from "../../../errors.js";
import { thisNodeRunner } from "../../../node-runner.js";
import { packageRoot } from "../../../package-root.js";
import { DataPaths, defaultDataDir } from "../../../paths.js";

/**
 * Those that ran before (exited): not a container still "created", which the command that started the guest
 * may be creating and starting itself, or a `create` left for the user to start.
 */
export const RESTART_AT_START_ARGS = ["start", "--all", "--filter", "restart-policy=always", "--filter", "restart-policy=unless-stopped", "--filter", "status=exited"];

/**
 * Starts them (in the data dir of the daemon's environment: the one of the command that started it); resolves
 * once done, having said on `log` (vm.log) which came back and which failed. `started` gets the process, which
 * the daemon's stop ends. Never rejects.
 */
export async function restartAtStart(env: NodeJS.ProcessEnv, log: (line: string) => void, started: (child: ChildProcess) => void): Promise<void> {
  let child: ChildProcess;
  try {
    // No containers here (a first run's daemon, another data dir's user): no process, and no data dir made.
    if (!existsSync(new DataPaths(defaultDataDir(env)).containers)) return;
    const node = await thisNodeRunner(env);
    child = spawn(node.command, [join(packageRoot(), "bin", "tsbox.js"), ...RESTART_AT_START_ARGS], { env: { ...node.env, TSBOX_BACKEND: "vm" }, stdio: ["ignore", "pipe", "pipe"] });
  } catch (err) {
    return log(`restarting containers at the vm's start: ${errorMessage(err)}`);
  }
  started(child);
  let out = "";
  let errors = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (errors += d));
  await new Promise<void>((resolve) => {
    child.on("error", (err) => {
      errors += `${err.message}\n`;
      resolve();
    });
    child.on("close", () => resolve());
  });
  const names = out.split("\n").filter(Boolean);
  if (names.length > 0) log(`restarted at the vm's start (restart policy): ${names.join(", ")}`);
  for (const line of errors.split("\n").filter(Boolean)) log(`restarting containers at the vm's start: ${line.replace(/^tsbox: /, "")}`);
}
