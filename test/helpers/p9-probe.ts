/**
 * Run as a child process (a blocked open cannot be interrupted from inside
 * the process): serves DIR over 9p from NodeFs and, as a hostile guest
 * would, opens each NAME for reading and for writing and truncates it, then
 * reads what it could open. Prints one JSON object: name → what happened.
 *
 *   node --import tsx test/helpers/p9-probe.ts DIR NAME...
 */
import { O } from "../../src/backends/vm/core/p9/fs.js";
import { NodeFs } from "../../src/backends/vm/node/p9/node-fs.js";
import { P9Server } from "../../src/backends/vm/core/p9/server.js";
import { p9Client } from "./p9-client.js";

const [dir, ...names] = process.argv.slice(2);
const server = new P9Server(new NodeFs());
server.addExport("x", { path: dir!, readonly: false });
const c = p9Client(server);
const out: Record<string, { read: number | string; write: number; truncate: number }> = {};
for (const name of names) {
  const fid = c.walk("x", name);
  let read: number | string = c.errno(() => c.open(fid, O.RDONLY));
  if (read === 0) read = `read ${JSON.stringify(c.read(fid, 64))}`;
  const wfid = c.walk("x", name);
  const write = c.errno(() => c.open(wfid, O.WRONLY));
  const truncate = c.errno(() => c.truncate(c.walk("x", name), 0));
  out[name] = { read, write, truncate };
}
process.stdout.write(JSON.stringify(out) + "\n");
