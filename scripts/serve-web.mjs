// `npm run serve:web [-- --port N]`: serves dist/web (npm run build:web) on
// 127.0.0.1 with plain static-file headers (type, length, ETag, Last-Modified), as any static host would.
// Port: --port, else $PORT, else 8080 (0: any free port).
import { createReadStream, existsSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "web");
const arg = process.argv.indexOf("--port");
const port = Number(arg >= 0 ? process.argv[arg + 1] : (process.env.PORT ?? 8080));
const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm" };

if (!existsSync(join(dir, "index.html"))) {
  console.error("serve:web: dist/web is missing: run `npm run build:web` first");
  process.exit(1);
}
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  const file = resolve(join(dir, path.endsWith("/") ? path + "index.html" : path));
  if (!file.startsWith(dir + sep) || !existsSync(file) || !statSync(file).isFile()) return res.writeHead(404).end("not found\n");
  // Validators as static hosts send them: a returning visitor revalidates (304) and the browser keeps its
  // compiled code of the scripts and v86's wasm.
  const st = statSync(file);
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers = { "content-type": TYPES[extname(file)] ?? "application/octet-stream", etag, "last-modified": st.mtime.toUTCString() };
  if (req.headers["if-none-match"] === etag) return res.writeHead(304, headers).end();
  res.writeHead(200, { ...headers, "content-length": st.size });
  createReadStream(file).pipe(res);
});
server.listen(port, "127.0.0.1", () => console.log(`tsbox playground: http://127.0.0.1:${server.address().port}/`));
