/**
 * Run as a test identity (a child process): a container that attacks
 * `exec -u NAME`, which reads the running container's /etc/passwd on the
 * host. Prints one JSON object.
 *
 *   node --import tsx test/helpers/exec-user-probe.ts HOST_DIR
 *
 * HOST_DIR holds a passwd naming the user "evil" (uid 4242): a name that
 * exists nowhere in the container, so resolving it means the host file was
 * read. The container (1) keeps swapping its /etc/passwd between a regular
 * file and a symlink to HOST_DIR/passwd while "evil" is asked for again and
 * again, then (2) makes /etc/passwd a 600 MiB sparse file.
 */
import { Runtime } from "../../src/index.js";

const hostDir = process.argv[2]!;
const rt = new Runtime({});
const failure = (err: unknown) => (err as Error).message;

const swap = [
  "cp /etc/passwd /tmp/real",
  `ln -s ${hostDir}/passwd /tmp/link`,
  "echo ready",
  "while :; do cp -P /tmp/link /etc/passwd.new; mv /etc/passwd.new /etc/passwd; cp /tmp/real /etc/passwd.new; mv /etc/passwd.new /etc/passwd; done",
].join("; ");
const results: Record<string, unknown> = {};
{
  await using c = await rt.run({ image: "busybox", cmd: ["sh", "-c", swap], remove: true });
  const out = c.stdout!;
  await new Promise<void>((resolve) => out.once("data", () => resolve()));
  out.resume();
  const outcomes: string[] = [];
  for (let i = 0; i < 40; i++) {
    try {
      const r = await c.exec(["id", "-u"], { user: "evil" });
      outcomes.push(`resolved: ${r.stdout.trim()}`);
    } catch (err) {
      outcomes.push(failure(err));
    }
  }
  results.swap = [...new Set(outcomes)];
}
{
  await using c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "truncate -s 600M /etc/passwd; echo ready; sleep 600"], remove: true });
  const out = c.stdout!;
  await new Promise<void>((resolve) => out.once("data", () => resolve()));
  const t0 = Date.now();
  try {
    await c.exec(["id", "-u"], { user: "evil" });
    results.huge = "resolved";
  } catch (err) {
    results.huge = failure(err);
  }
  results.hugeMs = Date.now() - t0;
}
process.stdout.write(JSON.stringify(results) + "\n");
