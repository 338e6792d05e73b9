/**
 * Runs library-API scenarios in a separate Node process, so the API can be
 * exercised as an unprivileged user too. Prints one JSON object of results.
 *   node --import tsx test/helpers/api-script.ts
 */
import { createServer, type AddressInfo, type Socket } from "node:net";
import { type ImageError, isImageNotFound, type OutputLimitError, Runtime, type TsboxError, UsageError } from "../../src/index.js";

const rt = new Runtime({});
const results: Record<string, unknown> = {};

// output(): collected stdout/stderr and the exit code.
{
  const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"], remove: true });
  results.output = await c.output();
}
// output() again: the first call's result (the streams are read once); past maxBuffer: the container killed, a typed error with what was read.
{
  const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo out; echo err >&2; exit 3"], remove: true });
  const first = await c.output();
  results.outputAgain = { same: JSON.stringify(await c.output()) === JSON.stringify(first), concurrent: (await Promise.all([c.output(), c.output()])).map((o) => o.stdout) };
  // The stderr line well before the flood: two streams relayed through pipes (sockets as stdio) keep no order between them.
  const flood = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo to-stderr >&2; sleep 0.5; exec yes"], remove: true });
  const err = await flood.output({ maxBuffer: 1 << 20 }).then(() => undefined, (e: OutputLimitError) => e);
  results.outputLimit = {
    error: err && { name: err.name, code: err.code, message: err.message, stream: err.stream, stdoutBytes: err.stdout.length, stdoutLines: new Set(err.stdout.split("\n")).size, stderr: err.stderr },
    status: await flood.wait(),
    badOption: await c.output({ maxBuffer: -1 }).catch((e: Error) => `${e.name}: ${e.message}`),
  };
}
// stdin as a Writable, stdout as a Readable.
{
  const c = await rt.run({ image: "busybox", cmd: ["tr", "a-z", "A-Z"], stdin: true, remove: true });
  c.stdin!.end("piped through\n");
  results.stdin = await c.output();
}
// kill(): SIGKILL ends the container with 128+9 and the signal name.
{
  const c = await rt.run({ image: "busybox", cmd: ["sleep", "30"], remove: true });
  const pid = c.pid;
  await c.kill("SIGKILL");
  results.kill = { ...(await c.wait()), pidWasNumber: typeof pid === "number" && pid > 0 };
}
// tty: a real pty with the requested size.
{
  const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "tty; stty size"], tty: { cols: 100, rows: 30 }, remove: true });
  results.tty = await c.output();
}
// await using disposes (kills and removes) a running container.
{
  let id = "";
  {
    await using c = await rt.run({ image: "busybox", cmd: ["sleep", "30"] });
    id = c.id;
  }
  results.disposed = { listed: (await rt.containers()).some((c) => c.id === id) };
}
// a run stopped (SIGTERM, then SIGKILL after the timeout) and started again through its own handle:
// the SIGKILL went to the run's supervisor, which died before it removed the cgroup (the start then
// failed on it, as root); after the start the handle follows the new run (it said not running).
{
  const c = await rt.run({ image: "busybox", cmd: ["sleep", "600"] });
  const first = c.pid;
  // A number is milliseconds (the browser's form): a few are refused as meant for seconds, the container left running.
  results.stopUnits = { refused: await c.stop(2).then(() => "stopped", (e: Error) => `${e.name}: ${e.message}`), running: c.running };
  const stopped = await c.stop({ timeout: 1 });
  await c.start();
  results.restart = { stopped: stopped.exitCode, running: c.running, newPid: c.pid !== first && c.pid > 0 };
  await c.stop({ timeout: 0 });
  results.restart = { ...(results.restart as object), runningAfterStop: c.running };
  await c.remove();
}
// errors are TsboxErrors with docker's exit codes.
try {
  await (await rt.run({ image: "busybox", cmd: ["no-such-command"], remove: true })).wait();
  results.notFound = "no error";
} catch (e) {
  const err = e as { message: string; exitCode: number };
  results.notFound = { message: err.message, exitCode: err.exitCode };
}
// A missing image with pull: "never" is docker's "No such image" (ImageError.notFound), in the library's words.
{
  const err = await rt.run({ image: "no-such-image:1", pull: "never", remove: true }).then(() => undefined, (e: ImageError) => e);
  results.pullNever = { name: err?.name, message: err?.message, notFound: err?.notFound, found: isImageNotFound(err) };
}
// A run that fails to start leaves its container created (docker's): the error names it, for the caller to remove it.
{
  const err = await rt.run({ image: "busybox", cmd: ["no-such-command"], name: "api-failed-start" }).then(() => undefined, (e: TsboxError) => e);
  const left = err?.containerId ? await rt.get(err.containerId) : undefined;
  results.failedStart = { exitCode: err?.exitCode, name: err?.containerName, status: (await left?.state())?.status, sameId: left?.id === err?.containerId };
  await left?.remove();
  const removed = await rt.run({ image: "busybox", cmd: ["no-such-command"], remove: true }).then(() => undefined, (e: TsboxError) => e);
  results.failedStart = { ...(results.failedStart as object), removedNamesNone: removed?.containerId === undefined && !("containerId" in (removed ?? {})) };
}
// Bad options are UsageErrors (instanceof), not only TsboxErrors with code "usage".
{
  const kind = (p: Promise<unknown>) => p.then(() => "ran", (e: unknown) => (e instanceof UsageError ? "UsageError" : String(e)));
  results.usage = [
    await kind(rt.run({} as never)),
    await kind(rt.run({ image: "busybox", cmd: ["true"], user: "no-such-user", remove: true }).then((c) => c.wait())),
    await kind(rt.run({ image: "busybox", cmd: ["true"], workdir: "relative", remove: true })),
    await kind(rt.run({ image: "busybox", cmd: ["true"], env: ["NOEQUALS"], remove: true })),
    await kind(rt.run({ image: "busybox", cmd: ["true"], userns: "host" as never, remove: true })),
  ];
}
// An aborted signal: run and create refuse with its reason and make nothing; a pull that times out says so.
{
  const before = (await rt.containers({ all: true })).length;
  const outcome = (p: Promise<unknown>) => p.then(() => "ran", (e: Error) => `${e.name}: ${e.message}`);
  const aborted = new AbortController();
  aborted.abort();
  const accepted: Socket[] = [];
  const stalled = createServer((s) => void accepted.push(s)).listen(0, "127.0.0.1");
  await new Promise((r) => stalled.once("listening", r));
  const port = (stalled.address() as AddressInfo).port;
  results.aborted = {
    run: await outcome(rt.run({ image: "busybox", cmd: ["true"], remove: true }, { signal: aborted.signal })),
    create: await outcome(rt.create({ image: "busybox", cmd: ["true"] }, { signal: aborted.signal })),
    made: (await rt.containers({ all: true })).length - before,
    pull: await outcome(rt.pull(`127.0.0.1:${port}/stalled:1`, { signal: AbortSignal.timeout(300) })),
  };
  stalled.close();
  for (const s of accepted) s.destroy();
}
console.log(JSON.stringify(results));
