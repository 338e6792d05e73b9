/**
 * How long a program using the library lives (test/api.test.ts): each mode
 * does its work and returns without closing anything; the test times the exit.
 *   node --import tsx test/helpers/api-lifetime-script.ts MODE
 */
import { Runtime } from "../../src/index.js";

const rt = new Runtime({});
const mode = process.argv[2];
const results: Record<string, unknown> = {};

if (mode === "monitored") {
  // A container with a restart policy outlives this program under its monitor: it must not keep the program
  // running; its output read, or its end awaited, does.
  const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "echo up; exec sleep 600"], restart: "always" });
  const chunks: string[] = [];
  for await (const chunk of c.stdout!) {
    chunks.push(String(chunk));
    break;
  }
  results.id = c.id;
  results.read = chunks.join("");
  const quick = await rt.run({ image: "busybox", cmd: ["sh", "-c", "sleep 1; exit 3"], restart: "on-failure:1" });
  results.waited = (await quick.wait()).exitCode;
  results.quick = quick.id;
  // Its policy starts it again: the object follows the container (it said "not running" and refused exec).
  for (let i = 0; i < 100 && (await quick.state()).status !== "running"; i++) await new Promise((r) => setTimeout(r, 20));
  results.again = { running: quick.running, exec: (await quick.exec(["echo", "again"])).stdout, waited: (await quick.wait()).exitCode };
} else if (mode === "close") {
  // `await rt.close()` settles (it left Node nothing to wait on: exit code 13, the line after it never ran), and the
  // Runtime runs again after it.
  results.first = (await (await rt.run({ image: "busybox", cmd: ["echo", "a"], remove: true })).output()).stdout;
  await rt.close();
  results.again = (await (await rt.run({ image: "busybox", cmd: ["echo", "b"], remove: true })).output()).stdout;
  await rt.close();
} else if (mode === "stop-monitored") {
  // stop() on such a run stops it for good, as `tsbox stop` does: its policy does not bring it back.
  const c = await rt.run({ image: "busybox", cmd: ["sh", "-c", "trap 'exit 143' TERM; echo up; while true; do sleep 0.1; done"], restart: "on-failure" });
  await c.waitForLog("up");
  results.stopped = (await c.stop({ timeout: 5 })).exitCode;
  await new Promise((r) => setTimeout(r, 1500));
  results.status = (await c.state()).status;
  await c.remove();
  // kill() with its stop signal too.
  const k = await rt.run({ image: "busybox", cmd: ["sh", "-c", "trap 'exit 143' TERM; echo up; while true; do sleep 0.1; done"], restart: "always" });
  await k.waitForLog("up");
  await k.kill("SIGTERM");
  results.killed = (await k.wait()).exitCode;
  await new Promise((r) => setTimeout(r, 1500));
  results.killedStatus = (await k.state()).status;
  await k.remove();
}
console.log(JSON.stringify(results));
