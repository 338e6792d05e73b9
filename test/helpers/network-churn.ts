/**
 * Runs many short containers with networks through the library API, a few
 * at a time (test/network.test.ts checks nothing is left afterwards).
 *   node --import tsx test/helpers/network-churn.ts COUNT NETWORK
 * Half go on the default bridge, half on NETWORK; each publishes a port.
 * Prints one JSON object: exit codes and the addresses seen.
 */
import { Runtime } from "../../src/index.js";

const count = Number(process.argv[2] ?? 100);
const network = process.argv[3] ?? "bridge";
const rt = new Runtime({});
const codes: number[] = [];
const addresses = new Set<string>();
let next = 0;
async function worker(): Promise<void> {
  while (next < count) {
    const i = next++;
    const c = await rt.run({
      image: "busybox",
      cmd: ["sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"],
      network: i % 2 === 0 ? "bridge" : network,
      publish: ["127.0.0.1::80"],
      remove: true,
    });
    const out = await c.output();
    codes.push(out.exitCode);
    addresses.add(out.stdout.trim());
  }
}
await Promise.all([worker(), worker(), worker(), worker()]);
console.log(JSON.stringify({ codes: codes.filter((c) => c !== 0), runs: codes.length, distinctAddresses: addresses.size }));
