// Files served as a static host serves them: one rule for `npm run serve:web`, the playground's served-snapshot
// step (web/snapshot.ts) and the tests' and bench's server (test/helpers/browser.ts). Plain JavaScript, so that
// serve:web runs with node alone; static-files.d.mts types it for TypeScript.
import { createReadStream, existsSync, statSync } from "node:fs";
import { extname, join, resolve, sep } from "node:path";

export const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".json": "application/json",
  ".wasm": "application/wasm",
};

/** The request's URL path, decoded; undefined when it does not decode (answer 400, not a crashed server). */
export function requestPath(req) {
  try {
    return decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
  } catch {
    return undefined;
  }
}

/** `rel` (a URL path, decoded) as a regular file under `dir`; undefined for anything else, or outside `dir`. */
export function fileUnder(dir, rel) {
  const root = resolve(dir);
  const file = resolve(join(root, rel));
  return file.startsWith(root + sep) && existsSync(file) && statSync(file).isFile() ? file : undefined;
}

/**
 * Sends `file` with its type, length and validators (ETag, Last-Modified), or 304 to a request that has it
 * already: a returning visitor revalidates, and the browser keeps its compiled code of the scripts and wasm.
 */
export function sendFile(req, res, file) {
  const st = statSync(file);
  const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
  const headers = { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream", etag, "last-modified": st.mtime.toUTCString() };
  if (req.headers["if-none-match"] === etag) return void res.writeHead(304, headers).end();
  res.writeHead(200, { ...headers, "content-length": st.size });
  createReadStream(file).pipe(res);
}
