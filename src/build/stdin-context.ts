/**
 * `tsbox build -`: what stdin holds decides what it is, as docker decides —
 * a tar archive (plain, or compressed with gzip, bzip2, xz or zstd: docker's
 * `archive.DecompressStream`) is the whole context with its Dockerfile
 * inside (`-f` names another path in it), anything else is a Dockerfile and
 * the build has no context. The archive is unpacked by the image layers'
 * unpacker (no entry lands outside the temp dir), and the Dockerfile is read
 * only as a regular file of the archive, never through a link.
 */
import { lstatSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, posix } from "node:path";
import { UsageError } from "../errors.js";
import { decompress, layerLimits, limitExpansion, sniffCompression } from "../image/compression.js";
import { readTar } from "../image/tar.js";
import { unpackLayer } from "../image/unpack.js";
import { ownTempPrefix } from "../temp-names.js";
import { BuildError } from "./build-error.js";

/** Where a `build -` unpacks its context, in the data dir: `.build-stdin-<pid>-…`. */
export const STDIN_PREFIX = ".build-stdin-";

export interface StdinBuild {
  /** The unpacked context, or an empty directory when stdin was a Dockerfile. */
  context: string;
  dockerfileText: string;
  /** Removes the temp dir. */
  cleanup(): void;
}

/** A tar header has "ustar" at byte 257 (POSIX and GNU forms alike). */
function isTar(data: Buffer): boolean {
  return data.length >= 512 && data.toString("latin1", 257, 262) === "ustar";
}

/**
 * `input` is stdin, read as it comes: an archive is unpacked as it streams (a context of any size, as docker's;
 * it was held whole in memory first, and over 4 GiB failed with Node's own error), a Dockerfile read whole.
 * `file` is the `-f` given, if any.
 */
export async function stdinBuild(input: AsyncIterable<Buffer>, file: string | undefined, dataDir: string): Promise<StdinBuild> {
  // Enough of the head to tell a tar (its magic at byte 257) or a compression from a Dockerfile.
  const { kind: compression, head, data } = await sniffCompression(input, 512);
  let read = 0;
  const whole = (async function* () {
    for await (const chunk of data) (read += chunk.length), yield chunk;
  })();
  // A compressed archive is unpacked as it inflates, within the layers' limits (a bomb stops there; its ratio is
  // taken against the compressed bytes read so far).
  const archive: AsyncIterable<Buffer> | undefined =
    compression !== "none"
      ? limitExpansion(decompress(compression, whole), "the context on stdin", () => read, layerLimits())
      : isTar(head)
        ? whole
        : undefined;
  // In the data dir, named by our pid: a build killed meanwhile (SIGKILL) leaves it for the next build's sweep
  // (builder.ts), not in $TMPDIR for good, as large as the context.
  const context = mkdtempSync(join(dataDir, ownTempPrefix(STDIN_PREFIX)));
  const cleanup = () => rmSync(context, { recursive: true, force: true });
  try {
    if (archive === undefined) {
      if (file !== undefined && file !== "-") throw new UsageError("with a Dockerfile on stdin (- as the context) there is no -f");
      const text: Buffer[] = [];
      for await (const chunk of whole) text.push(chunk);
      return { context, dockerfileText: Buffer.concat(text).toString("utf8"), cleanup };
    }
    if (file === "-") throw new UsageError("stdin holds the context (a tar archive): -f names the Dockerfile in it, not -");
    try {
      await unpackLayer(readTar(archive), context, { privileged: false, whiteouts: "oci" });
    } catch (err) {
      throw new BuildError(`cannot read the context archive on stdin: ${(err as Error).message}`, err);
    }
    return { context, dockerfileText: readDockerfile(context, file ?? "Dockerfile"), cleanup };
  } catch (err) {
    cleanup();
    throw err;
  }
}

/** The Dockerfile at `name` in the context: a regular file reached through real directories only. */
function readDockerfile(context: string, name: string): string {
  const parts = posix.normalize(name).split("/").filter((p) => p !== "" && p !== ".");
  if (posix.isAbsolute(name) || parts.includes("..") || parts.length === 0) throw new UsageError(`-f ${name}: the Dockerfile must be a path inside the context archive`);
  let path = context;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      throw new BuildError(`the context archive on stdin has no ${parts.join("/")}`);
    }
    const last = i === parts.length - 1;
    if (last ? !stat.isFile() : !stat.isDirectory()) throw new BuildError(`${parts.slice(0, i + 1).join("/")} in the context archive is not a ${last ? "regular file" : "directory"}`);
  }
  return readFileSync(path, "utf8");
}
