import type { Container } from "../container.js";
import { type AttachOptions, type Attachment, attachMonitor } from "../containers/monitor-client.js";
import { startContainer } from "../containers/ops/start.js";
import { DetachFilter } from "./detach-keys.js";
import { countInterrupts } from "./interrupt.js";
import { attachTerminal, relayOutput } from "./terminal.js";

/**
 * `start -a` (and `run` as create + `start -a`): the attachment is made once
 * the monitor listens and before the container runs, so no output is missed;
 * a container already running is attached to as it is.
 */
export async function startAttached(container: Container, options: AttachOptions, onWarning?: (message: string) => void): Promise<Attachment> {
  const ctx = container.lifecycleContext();
  const dir = ctx.paths.container(container.id).dir;
  let attachment: Attachment | undefined;
  const started = await startContainer(ctx, container.id, {
    beforeStart: async () => {
      attachment = await attachMonitor(dir, options);
    },
    ...(onWarning ? { onWarning } : {}),
  });
  return started ? attachment! : container.attach(options);
}

/** Signals passed to the container while attached (docker's --sig-proxy). */
const PROXIED: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"];

/**
 * Connects this terminal (or these pipes) to an attachment until the
 * container's run ends; returns its exit code (docker `attach`, `start -a`).
 * With a terminal, `detachKeys` leave it running: exit 1 and "read escape
 * sequence", as docker (`run`: exit 0, nothing said, with `detachQuietly`).
 */
export async function streamAttachment(container: Container, attachment: Attachment, options: { interactive: boolean; sigProxy: boolean; detachKeys?: number[]; detachQuietly?: boolean }): Promise<number> {
  // The third SIGINT/SIGTERM leaves a container that ignores them running under its monitor (docker: exit 1).
  const counted = countInterrupts(() => process.exit(1));
  const forward = (signal: NodeJS.Signals) => {
    void container.kill(signal).catch(() => {});
    counted(signal);
  };
  const proxy = options.sigProxy && !attachment.tty;
  if (proxy) for (const s of PROXIED) process.on(s, forward);
  let restore: (() => void) | undefined;
  let detached: () => void = () => {};
  const detach = new Promise<"detached">((resolve) => (detached = () => resolve("detached")));
  try {
    if (attachment.tty) {
      const keys = options.detachKeys?.length ? { filter: new DetachFilter(options.detachKeys), onDetach: () => detached() } : undefined;
      restore = attachTerminal({ stdin: attachment.stdin, stdout: attachment.stdout, resize: (c, r) => attachment.resize(c, r) }, options.interactive, keys);
    } else {
      if (attachment.stdout) relayOutput(attachment.stdout, process.stdout);
      if (attachment.stderr) relayOutput(attachment.stderr, process.stderr);
      if (options.interactive && attachment.stdin) process.stdin.pipe(attachment.stdin);
    }
    const drained = Promise.all([attachment.stdout, attachment.stderr].map((s) => (s ? new Promise((r) => (s.once("end", r), s.once("close", r))) : undefined)));
    const end = await Promise.race([attachment.ended, detach]);
    if (end === "detached") {
      attachment.close(); // the container keeps running, its stdin open for the next attach
      restore?.();
      restore = undefined;
      // docker's `run` takes the detach as success, its `attach` and `start -a` say so and exit 1.
      if (options.detachQuietly) return 0;
      process.stderr.write("read escape sequence\n");
      return 1;
    }
    await drained;
    return (end ?? (await container.wait())).exitCode;
  } finally {
    restore?.();
    if (options.interactive) {
      process.stdin.unpipe();
      process.stdin.pause();
    }
    for (const s of PROXIED) process.off(s, forward);
  }
}
