/**
 * The Worker's entry (bundled as dist/browser/tsbox-vm-worker.js): one
 * guest per Worker, driven by the page's messages (protocol.ts).
 */
import type { PageMessage, WorkerFailure, WorkerMessage } from "./protocol.js";
import { WorkerVm } from "./worker-vm.js";

const scope = globalThis as unknown as {
  postMessage(message: WorkerMessage): void;
  onmessage: ((event: MessageEvent<PageMessage>) => void) | null;
};
const post = (message: WorkerMessage) => scope.postMessage(message);

let vm: Promise<WorkerVm> | undefined;

// v86 starts a helper Worker from a blob: URL; a page whose CSP's worker-src lacks blob: blocks it, and the guest
// then stalls with nothing said. Said at once, with the fix, instead.
(globalThis as unknown as EventTarget).addEventListener?.("securitypolicyviolation", (event) => {
  const e = event as SecurityPolicyViolationEvent;
  if (!/^(worker|script|child)-src/.test(e.effectiveDirective) || !e.blockedURI.startsWith("blob")) return;
  const message = `the page's Content-Security-Policy (${e.effectiveDirective}) blocked the emulator's helper Worker (a blob: URL): allow it with worker-src 'self' blob:`;
  post({ type: "fatal", error: { message, code: "runtime", exitCode: 125 } });
});

scope.onmessage = ({ data: msg }) => {
  if (msg.type === "start") {
    if (vm) return post({ type: "start-failed", error: { message: "this Worker already runs a vm" } });
    vm = WorkerVm.start(msg, post);
    vm.catch((err: unknown) => post({ type: "start-failed", error: failure(err) }));
    return;
  }
  if (!vm) return;
  void vm.then((guest) => {
    const failed = (id: number) => (err: unknown) => post({ type: "run-failed", id, error: failure(err) });
    switch (msg.type) {
      case "run":
        return guest.run(msg.id, msg.request).catch(failed(msg.id));
      case "exec":
        return guest.exec(msg.id, msg.container, msg.request).catch(failed(msg.id));
      case "stdin":
        return guest.writeStdin(msg.id, msg.data);
      case "stdin-end":
        return guest.endStdin(msg.id);
      case "kill":
        return guest.kill(msg.id, msg.signal);
      case "resize":
        return guest.resize(msg.id, msg.cols, msg.rows);
      case "ack":
        return guest.ack(msg.id, msg.stream, msg.bytes);
      case "hang-up":
        return guest.hangUp(msg.id, msg.stream);
      case "call":
        return guest.call(msg.method, msg.args as never, (event) => post({ type: "call-progress", call: msg.call, event })).then(
          (value) => post({ type: "reply", call: msg.call, ok: true, value }),
          (err: unknown) => post({ type: "reply", call: msg.call, ok: false, error: failure(err) }),
        );
    }
  }, () => {});
};

function failure(err: unknown): WorkerFailure {
  const e = err as { message?: unknown; code?: unknown; exitCode?: unknown; name?: unknown; reason?: unknown; notFound?: unknown };
  return {
    message: typeof e?.message === "string" ? e.message : String(err),
    ...(typeof e?.code === "string" ? { code: e.code } : {}),
    ...(typeof e?.exitCode === "number" ? { exitCode: e.exitCode } : {}),
    ...(typeof e?.name === "string" ? { name: e.name } : {}),
    ...(typeof e?.reason === "string" ? { reason: e.reason } : {}),
    ...(e?.notFound === true ? { notFound: true } : {}),
  };
}
