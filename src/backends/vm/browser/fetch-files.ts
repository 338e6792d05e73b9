/** Fetching the Worker's inputs, with byte counts for the page's progress bar, and digest checks. */
import { concat, hex } from "../core/bytes.js";
import type { Source } from "./protocol.js";

export interface LoadProgress {
  file: string;
  /** Bytes so far and expected, over every file of this load. */
  loaded: number;
  total: number;
}

/** Fetches every source at once (an ArrayBuffer is taken as is); `onProgress` sees the running totals. */
export async function loadFiles<K extends string>(sources: Record<K, Source>, onProgress: (p: LoadProgress) => void): Promise<Record<K, ArrayBuffer>> {
  const sizes = new Map<string, { loaded: number; total: number }>();
  const report = (file: string) => {
    let loaded = 0;
    let total = 0;
    for (const s of sizes.values()) {
      loaded += s.loaded;
      total += s.total;
    }
    onProgress({ file, loaded, total });
  };
  const entries = await Promise.all(
    (Object.entries(sources) as [K, Source][]).map(async ([name, source]) => {
      if (typeof source !== "string") {
        sizes.set(name, { loaded: source.byteLength, total: source.byteLength });
        return [name, source] as const;
      }
      const size = { loaded: 0, total: 0 };
      sizes.set(name, size);
      return [name, await fetchBytes(source, (loaded, total) => ((size.loaded = loaded), (size.total = total), report(name)))] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<K, ArrayBuffer>;
}

/** GET `url` into one ArrayBuffer; `onBytes` after every chunk (total: Content-Length, else bytes so far). */
export async function fetchBytes(url: string, onBytes: (loaded: number, total: number) => void = () => {}): Promise<ArrayBuffer> {
  const res = await fetchAnswer(url);
  if (!res.ok || !res.body) throw new Error(`could not fetch ${url}: HTTP ${res.status}`);
  refuseHtml(res, url);
  const declared = Number(res.headers.get("content-length") ?? 0);
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      // The browser says only "network error": which file, and how far it got.
      throw new Error(`could not fetch ${url}: the download broke off after ${loaded}${declared ? ` of ${declared}` : ""} bytes (${(err as Error).message})`);
    }
    const { done, value } = next;
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onBytes(loaded, Math.max(declared, loaded));
  }
  return concat(chunks, loaded).buffer as ArrayBuffer;
}

/**
 * v86's wasm, compiled. From a URL it is compiled as it arrives
 * (`compileStreaming`), which also lets the browser cache the compiled code
 * for the next visit; a host that labels it other than application/wasm
 * (which compileStreaming refuses) gets it compiled whole.
 */
export async function compileWasm(source: Source): Promise<WebAssembly.Module> {
  const notWasm = (err: unknown) => refusedByCsp(err, typeof source === "string" ? source : "v86.wasm given as bytes");
  if (typeof source !== "string") return WebAssembly.compile(source).catch(notWasm);
  const res = await fetchAnswer(source);
  if (!res.ok) throw new Error(`could not fetch ${source}: HTTP ${res.status}`);
  refuseHtml(res, source);
  const streams = res.headers.get("content-type")?.split(";")[0]?.trim() === "application/wasm" && typeof WebAssembly.compileStreaming === "function";
  return (streams ? WebAssembly.compileStreaming(res) : WebAssembly.compile(await res.arrayBuffer())).catch(notWasm);
}

/**
 * `fetch(url)`'s answer. A fetch that gets none (the browser refused it, or
 * the network did) rejects with a bare "Failed to fetch" that names neither
 * the file nor why; the browser keeps the why to its console, so the likely
 * causes are named instead.
 */
async function fetchAnswer(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch (err) {
    const cross = typeof location !== "undefined" && new URL(url, location.href).origin !== location.origin;
    const causes = [
      ...(cross ? [`its host does not allow this page's origin (CORS: Access-Control-Allow-Origin on ${new URL(url).origin})`] : []),
      "the page's Content-Security-Policy leaves it out of connect-src",
      "the browser is offline or the host cannot be reached",
    ];
    throw new Error(`could not fetch ${url}: the browser got no answer (${(err as Error).message}); likely ${causes.join(", or ")} (the browser's console says which)`);
  }
}

/**
 * A page's CSP without 'wasm-unsafe-eval' refuses every compile; the
 * browser's message names 'unsafe-eval', which would allow far more than the
 * emulator needs, so the fix is named instead. `what`: the module's URL.
 */
function refusedByCsp(err: unknown, what: string): never {
  if (err instanceof Error && /Content.Security.Policy|\bCSP\b/i.test(err.message)) {
    throw new Error(`the page's Content-Security-Policy does not let the emulator compile WebAssembly: add 'wasm-unsafe-eval' to script-src (the browser said: ${err.message})`);
  }
  // Any other refusal is of the file (cut short, another file): say which, the browser's message names none.
  if (err instanceof Error && !err.message.includes(what)) throw new Error(`${what} is not a usable WebAssembly module: ${err.message}`);
  throw err;
}

/**
 * None of the Worker's files is a web page: an HTML answer is a host's
 * fallback page for a path it does not have (single-page apps' `index.html`
 * for every unknown URL), which would otherwise fail later as "Unexpected
 * token '<' … is not valid JSON", naming neither the file nor the cause.
 */
function refuseHtml(res: Response, url: string): void {
  if (res.headers.get("content-type")?.split(";")[0]?.trim().toLowerCase() !== "text/html") return;
  throw new Error(`could not fetch ${url}: the server answered with a web page (text/html), not the file — serve tsbox's dist/browser files there (a single-page app's fallback to index.html answers every path it does not have), or name their folder with the Runtime's \`assets\` option`);
}

export async function fetchJson<T>(source: Source): Promise<T> {
  const bytes = typeof source === "string" ? await fetchBytes(source) : source;
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as T;
  } catch (err) {
    throw new Error(`${typeof source === "string" ? source : "a file given as bytes"} is not JSON: ${(err as Error).message}`);
  }
}

export async function sha256Hex(data: ArrayBuffer | Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest("SHA-256", data as BufferSource)));
}
