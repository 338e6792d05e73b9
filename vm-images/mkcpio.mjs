// Writes an uncompressed newc cpio archive from a list, like the kernel's
// usr/gen_init_cpio but without building it or needing root for device
// nodes. Deterministic: fixed mtime 0, entries in list order, inode numbers
// by position.
//   node vm-images/mkcpio.mjs LIST OUT
// LIST lines: dir PATH MODE | file PATH SRC MODE | slink PATH TARGET | nod PATH MODE c|b MAJOR MINOR
import { readFileSync, writeFileSync } from "node:fs";

const [listPath, outPath] = process.argv.slice(2);
if (!listPath || !outPath) {
  console.error("usage: mkcpio.mjs LIST OUT");
  process.exit(2);
}
const chunks = [];
let ino = 1;
const hex = (n) => n.toString(16).padStart(8, "0");
const pad4 = (n) => (4 - (n % 4)) % 4;

function entry(name, mode, data, { rdevmajor = 0, rdevminor = 0, nlink = 1 } = {}) {
  const nameBuf = Buffer.from(name + "\0");
  const header =
    "070701" + hex(ino++) + hex(mode) + hex(0) + hex(0) + hex(nlink) + hex(0) + hex(data.length) +
    hex(0) + hex(0) + hex(rdevmajor) + hex(rdevminor) + hex(nameBuf.length) + hex(0);
  chunks.push(Buffer.from(header, "ascii"), nameBuf, Buffer.alloc(pad4(110 + nameBuf.length)), data, Buffer.alloc(pad4(data.length)));
}

for (const raw of readFileSync(listPath, "utf8").split("\n")) {
  const line = raw.trim();
  if (line === "" || line.startsWith("#")) continue;
  const [kind, path, ...rest] = line.split(/\s+/);
  const name = path.replace(/^\/+/, "");
  switch (kind) {
    case "dir":
      entry(name, 0o040000 | parseInt(rest[0], 8), Buffer.alloc(0), { nlink: 2 });
      break;
    case "file":
      entry(name, 0o100000 | parseInt(rest[1], 8), readFileSync(rest[0]));
      break;
    case "slink":
      entry(name, 0o120777, Buffer.from(rest[0]));
      break;
    case "nod":
      entry(name, (rest[1] === "b" ? 0o060000 : 0o020000) | parseInt(rest[0], 8), Buffer.alloc(0), {
        rdevmajor: Number(rest[2]),
        rdevminor: Number(rest[3]),
      });
      break;
    default:
      throw new Error(`mkcpio: unknown entry kind ${kind} in: ${line}`);
  }
}
entry("TRAILER!!!", 0, Buffer.alloc(0), { nlink: 1 });
const out = Buffer.concat(chunks);
writeFileSync(outPath, Buffer.concat([out, Buffer.alloc(pad4(out.length) + ((512 - ((out.length + pad4(out.length)) % 512)) % 512))]));
