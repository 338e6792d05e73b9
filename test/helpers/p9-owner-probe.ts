/**
 * Run as an unprivileged user (the override is the host user's to give):
 * serves DIR over 9p from NodeFs, writable and read-only, and does what the
 * guest kernel lets container root do there. DIR holds (made by the test):
 * ro.txt (0444, ours), theirs.txt (0444, root's), rodir/ (0555, ours, with
 * f), secret (0000, ours), link -> rodir. Prints one JSON object.
 *
 *   node --import tsx test/helpers/p9-owner-probe.ts DIR
 */
import { statSync } from "node:fs";
import { join } from "node:path";
import { O } from "../../src/backends/vm/core/p9/fs.js";
import { NodeFs } from "../../src/backends/vm/node/p9/node-fs.js";
import { P9Server } from "../../src/backends/vm/core/p9/server.js";
import { withOwnerAccess } from "../../src/backends/vm/node/p9/owner-access.js";
import { p9Client } from "./p9-client.js";

const dir = process.argv[2]!;
const server = new P9Server(new NodeFs());
server.addExport("rw", { path: dir, readonly: false });
server.addExport("ro", { path: dir, readonly: true });
const c = p9Client(server);
const mode = (rel: string) => (statSync(join(dir, rel)).mode & 0o7777).toString(8);

const ro = c.walk("rw", "ro.txt");
const writeOwn = c.errno(() => c.open(ro, O.WRONLY | O.APPEND));
if (writeOwn === 0) c.write(ro, "w\n");
const rodir = c.walk("rw", "rodir");
const create = c.errno(() => c.create(rodir, "new"));
const unlink = c.errno(() => c.unlinkat(c.walk("rw", "rodir"), "f"));
const out = {
  writeOwn,
  truncateOwn: c.errno(() => c.truncate(c.walk("rw", "ro.txt"), 2)),
  writeTheirs: c.errno(() => c.open(c.walk("rw", "theirs.txt"), O.WRONLY)),
  create,
  unlink,
  readSecret: c.errno(() => c.open(c.walk("rw", "secret"), O.RDONLY)),
  // A read-only export is never changed, not even a mode for a moment.
  readSecretReadOnly: c.errno(() => c.open(c.walk("ro", "secret"), O.RDONLY)),
  // Never through a symlink: a link itself, or a path whose inode is elsewhere by now.
  viaLink: attempt(() => withOwnerAccess(join(dir, "link"), 0o200, () => "granted", new Error("refused"))),
  viaLinkedDir: attempt(() => withOwnerAccess(`${join(dir, "link")}/.`, 0o200, () => "granted", new Error("refused"))),
  modes: { ro: mode("ro.txt"), theirs: mode("theirs.txt"), rodir: mode("rodir"), secret: mode("secret") },
};
process.stdout.write(JSON.stringify(out) + "\n");

function attempt(fn: () => string): string {
  try {
    return fn();
  } catch (err) {
    return (err as Error).message;
  }
}
