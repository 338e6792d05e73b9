// `npm run serve:web [-- --port N]`: serves dist/web (npm run build:web) on
// 127.0.0.1 with plain static-file headers (type, length, ETag, Last-Modified), as any static host would.
// Port: --port, else $PORT, else 8080 (0: any free port).
import { existsSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fileUnder, requestPath, sendFile } from "./static-files.mjs";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "web");
const arg = process.argv.indexOf("--port");
const port = Number(arg >= 0 ? process.argv[arg + 1] : (process.env.PORT ?? 8080));

if (!existsSync(join(dir, "index.html"))) {
  console.error("serve:web: dist/web is missing: run `npm run build:web` first");
  process.exit(1);
}
const server = createServer((req, res) => {
  const path = requestPath(req);
  if (path === undefined) return res.writeHead(400).end("bad request\n");
  const file = fileUnder(dir, path.endsWith("/") ? path + "index.html" : path);
  if (!file) return res.writeHead(404).end("not found\n");
  sendFile(req, res, file);
});
server.listen(port, "127.0.0.1", () => console.log(`tsbox playground: http://127.0.0.1:${server.address().port}/`));
