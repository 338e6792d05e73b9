/**
 * COPY and ADD: the sources (context files, here-documents, another stage's
 * or image's files, ADD's local tar archives unpacked, ADD's URLs downloaded) as one tar
 * stream written into a stopped container of the stage's image by the copy
 * helper of `tsbox cp` (paths resolve inside its root, through its own
 * symlinks, never the host's), whose writable layer becomes the step's
 * layer. docker's rules: a directory source copies its contents; more than
 * one source needs a destination ending in `/`; missing directories are
 * made; context files belong to root, another stage's or image's keep their
 * owners, unless `--chown` says otherwise.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { fsName } from "../name-bytes.js";
import { mkdtemp, open, rm } from "node:fs/promises";
import { join, posix } from "node:path";
import { PassThrough, Readable, type Writable } from "node:stream";
import type { Runtime } from "../runtime.js";
import type { ContainerFiles, PathStat } from "../containers/copy.js";
import { copyFromContainer, copyToContainer, eachRecord } from "../containers/copy.js";
import { assertAsked, type CopyRecord, writeTarEnd, writeTarEntry } from "../containers/copy-records.js";
import { CopyHelperError, spawnCopyHelper } from "../backends/native/copy-helper.js";
import { type ArchiveCompression, archiveCompression, decompress, MissingToolError } from "../image/compression.js";
import { readTar, type TarEntry } from "../image/tar.js";
import { errorMessage, isTsboxError } from "../errors.js";
import type { Instruction } from "./dockerfile.js";
import type { Stage } from "./builder.js";
import { BuildError } from "./build-error.js";
import { commitStep, storeLayerStep } from "./commit-step.js";
import type { ContextSource } from "./context.js";
import { lookupOwner, type Owner } from "./owner.js";
import { hasWildcards, matchPath } from "./patterns.js";
import { stepContainer } from "./step-containers.js";
import { bodyChunks } from "../image/registry/body.js";
import { ownTempPrefix } from "../temp-names.js";
import { getFollowing } from "../http-fetch.js";

interface CopyBase {
  ins: Instruction;
  /** Absolute, WORKDIR applied. */
  dest: string;
  /** The destination was written as a directory (a trailing `/`, or `.`). */
  destIsDir: boolean;
  chown?: string;
  /** What gave `chown` in errors: `--chown` (default) or WORKDIR's `USER`. */
  chownOf?: "USER";
  chmod?: number;
  /** The history entry (default the instruction as written). */
  createdBy?: string;
  /** What, besides the chain so far, decides the step's result. */
  cacheKey: string;
}

export type CopyRequest = CopyBase &
  (
    | { kind: "context" | "add"; sources: ContextSource[]; heredocs?: { name: string; content: string }[] }
    | { kind: "image"; image: string; paths: string[] }
    | { kind: "urls"; urls: string[] }
  );

/** What one source puts under the destination: a file (named by the copy's rules) or a tree. */
interface Unit {
  isDir: boolean;
  /** A file's own name (its basename), used when the destination is a directory. */
  name: string;
  /** Entries named relative to the unit ("" is a file unit's file); owners kept only when `ownersKept`. */
  entries: () => AsyncIterable<TarEntry>;
  ownersKept?: boolean;
  /** What the unit holds on disk goes once the step is done. */
  dispose?: () => Promise<void>;
  /** A download's content (`sha256:…`): what the steps after an ADD of URLs are keyed on. */
  checksum?: string;
}

/** A step's image; for an ADD of URLs, `fetched` names what it fetched (the names and contents of its files). */
export interface CopyResult {
  manifestDigest: string;
  configDigest: string;
  fetched?: string;
}

export async function copyStep(rt: Runtime, stage: Stage, req: CopyRequest, annotations: Record<string, string>, say: (text: string) => void, signal?: AbortSignal): Promise<CopyResult> {
  const containers: string[] = [];
  let units: Unit[] = [];
  const container = async (image: string) => {
    const c = await rt.create({ ...stepContainer(), image, entrypoint: ["true"], network: "none" });
    containers.push(c.id);
    return rt.containerFiles(c.id);
  };
  try {
    const files = stage.image ? await container(stage.image.configDigest) : undefined;
    const owner = req.chown !== undefined ? await lookupOwner(rt, stage, req.chown, req.ins.line, req.chownOf) : { uid: 0, gid: 0 };
    units = await unitsOf(req, (image) => container(image), rt.dataDir, say);
    if (units.length > 1 && !req.destIsDir) throw new BuildError(`line ${req.ins.line}: when using ${req.ins.keyword} with more than one source file, the destination must be a directory and end with a /`);
    const destStat: PathStat = files ? await files.stat(req.dest) : { exists: false };
    const existingDir = destStat.exists && (destStat.type === "dir" || destStat.targetType === "dir");
    if (destStat.exists && !existingDir && units.some((u) => u.isDir)) throw new BuildError(`line ${req.ins.line}: cannot copy a directory onto the file ${req.dest}`);
    const destIsDir = req.destIsDir || existingDir || units.some((u) => u.isDir);
    const targetDir = destIsDir ? req.dest : posix.dirname(req.dest);
    // The nearest directory that exists: where the stream is unpacked; the ones below it are made.
    let base = targetDir;
    const missing: string[] = [];
    while (base !== "/") {
      const st = files ? await files.stat(base) : { exists: false };
      if (st.exists) {
        if (st.type !== "dir" && st.targetType !== "dir") throw new BuildError(`line ${req.ins.line}: ${base} is not a directory in the image`);
        break;
      }
      missing.unshift(base);
      base = posix.dirname(base);
    }
    const rel = (p: string) => posix.relative(base, p);
    const createdBy = req.createdBy ?? `${req.ins.text} # tsbox build`;
    const produce = async (out: Writable) => {
      const now = Math.floor(Date.now() / 1000);
      for (const dir of missing) await writeTarEntry(out, entry(rel(dir) + "/", "directory", 0o755, owner, now));
      for (const unit of units) {
        const at = unit.isDir ? rel(targetDir) : rel(destIsDir ? posix.join(targetDir, unit.name) : req.dest);
        for await (const e of unit.entries()) {
          const name = e.path === "" ? at : posix.join(at, e.path);
          if (name === "" || name === ".") continue; // the destination directory itself exists already
          const own = unit.ownersKept && req.chown === undefined ? { uid: e.uid, gid: e.gid } : owner;
          const linkname = e.type === "hardlink" ? posix.join(rel(targetDir), e.linkname) : e.linkname;
          await writeTarEntry(out, { ...e, path: e.type === "directory" ? name + "/" : name, linkname, uid: own.uid, gid: own.gid, mode: req.chmod ?? e.mode });
        }
      }
      await writeTarEnd(out);
    };
    const fetched = units.some((u) => u.checksum) ? { fetched: JSON.stringify(units.map((u) => [u.name, u.checksum])) } : {};
    if (!files) return { ...(await storeLayerStep(rt, stage, async (tar) => produce(tar), createdBy, annotations, signal)), ...fetched };
    const stream = new PassThrough({ highWaterMark: 256 * 1024 });
    // The producer's refusal (an ADD archive's entry outside its root) ends the stream with its error, which the
    // copy may no longer listen for: it was an unhandled 'error' event that crashed the CLI.
    stream.on("error", () => {});
    const producing = produce(stream).then(
      () => stream.end(),
      (err: unknown) => {
        stream.destroy(err as Error);
        throw err;
      },
    );
    const [copied, produced] = await Promise.allSettled([copyToContainer(files, "-", base, stream, { archive: true }), producing]);
    // The producer's error first: the copy's is then only that its input broke off.
    const failed = produced.status === "rejected" ? produced : copied.status === "rejected" ? copied : undefined;
    if (failed) {
      const err: unknown = failed.reason;
      // The helper's refusal (an owner past the user's ids, a full disk) named with its line, as a RUN step's failure.
      if (isTsboxError(err) && !(err instanceof BuildError) && !(err instanceof CopyHelperError && err.interrupted)) throw new BuildError(`line ${req.ins.line}: ${err.message}`, err);
      throw err;
    }
    // The build's signal stops a large layer's write at once (Ctrl-C), as a RUN step's.
    return { ...(await commitStep(rt, stage, containers[0]!, createdBy, annotations, signal)), ...fetched };
  } finally {
    for (const id of containers) await rt.removeContainer(id, { force: true, volumes: true }).catch(() => {});
    for (const u of units) await u.dispose?.().catch(() => {});
  }
}

function entry(path: string, type: TarEntry["type"], mode: number, owner: Owner, mtime: number): TarEntry {
  return { path, type, mode, uid: owner.uid, gid: owner.gid, size: 0, mtime, linkname: "", devmajor: 0, devminor: 0, pax: {}, body: (async function* () {})() };
}

async function unitsOf(req: CopyRequest, container: (image: string) => Promise<ContainerFiles>, dataDir: string, say: (text: string) => void): Promise<Unit[]> {
  const units: Unit[] = [];
  switch (req.kind) {
    case "image": {
      const files = await container(req.image);
      const from = req.ins.flags.get("from");
      for (const source of req.paths) {
        const matches = hasWildcards(source) ? await imageMatches(files, source) : [source];
        if (matches.length === 0) throw new BuildError(`line ${req.ins.line}: no source files were specified: nothing in ${from} matches ${source}`);
        for (const path of matches) {
          const abs = posix.resolve("/", path);
          const st = await files.stat(abs);
          if (!st.exists) throw new BuildError(`line ${req.ins.line}: ${path}: not found in ${from}`);
          // Followed as BuildKit does (imageEntries): a link to nothing is a source not found, not an empty copy.
          if (st.type === "symlink" && !st.targetType) throw new BuildError(`line ${req.ins.line}: ${path}: not found in ${from} (a symlink to ${st.link ?? "nothing"} there)`);
          const isDir = st.type === "dir" || st.targetType === "dir";
          // Another stage's or image's files keep their owners (BuildKit and buildah do); only context files are root's.
          units.push({ isDir, name: posix.basename(abs), entries: () => imageEntries(files, abs, isDir), ownersKept: true });
        }
      }
      return units;
    }
    case "urls":
      try {
        for (const url of req.urls) units.push(await download(url, req.ins, dataDir, say));
      } catch (err) {
        for (const u of units) await u.dispose?.();
        throw err;
      }
      return units;
    default:
      for (const s of req.sources) {
        const kind = !s.isDir && req.kind === "add" ? await archiveKind(s.items[0]!.path, req.ins, s.shown) : undefined;
        if (kind !== undefined) units.push(archiveUnit(s, kind, req.ins));
        else units.push({ isDir: s.isDir, name: posix.basename(s.rel), entries: () => contextEntries(s) });
      }
      for (const doc of req.heredocs ?? []) units.push(fileUnit(doc.name, Buffer.from(doc.content), 0o644, Math.floor(Date.now() / 1000)));
      return units;
  }
}

/** Where ADD's downloads wait for their step, in the data dir: `.add-<pid>-…` (prune sweeps a killed build's). */
export const ADD_PREFIX = ".add-";

/**
 * ADD of a URL: the file, 0600 as docker makes it, dated by Last-Modified. Streamed to a file, not held in
 * memory (a 1.5 GiB body took 6.4 GB), and read from there by the copy.
 */
async function download(url: string, ins: Instruction, dataDir: string, say: (text: string) => void): Promise<Unit> {
  say(`  downloading ${url}\n`);
  const dir = await mkdtemp(join(dataDir, ownTempPrefix(ADD_PREFIX)));
  const file = join(dir, "body");
  let mtime = Math.floor(Date.now() / 1000);
  let size = 0;
  const hash = createHash("sha256");
  try {
    const res = await getFollowing(url);
    if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
    const out = await open(file, "wx", 0o600);
    try {
      for await (const chunk of bodyChunks(res)) {
        await out.write(chunk);
        hash.update(chunk);
        size += chunk.byteLength;
      }
    } finally {
      await out.close();
    }
    const modified = res.headers.get("last-modified");
    if (modified && !Number.isNaN(Date.parse(modified))) mtime = Math.floor(Date.parse(modified) / 1000);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    // fetch's own message is "fetch failed": the cause (ECONNREFUSED, ENOTFOUND, …) is what the user can act on.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = err instanceof TypeError && cause ? `${errorMessage(err)}: ${cause.code ?? cause.message}` : errorMessage(err);
    throw new BuildError(`line ${ins.line}: ADD ${url}: ${why}`);
  }
  const name = posix.basename(new URL(url).pathname) || "index.html";
  return {
    isDir: false,
    name,
    entries: async function* () {
      yield { path: "", type: "file" as const, mode: 0o600, uid: 0, gid: 0, size, mtime, linkname: "", devmajor: 0, devminor: 0, pax: {}, body: createReadStream(file) };
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
    checksum: `sha256:${hash.digest("hex")}`,
  };
}

/** One file made of `body` (a download, a here-document). */
function fileUnit(name: string, body: Buffer, mode: number, mtime: number): Unit {
  return {
    isDir: false,
    name,
    entries: async function* () {
      yield { path: "", type: "file" as const, mode, uid: 0, gid: 0, size: body.length, mtime, linkname: "", devmajor: 0, devminor: 0, pax: {}, body: Readable.from([body]) };
    },
  };
}

async function* contextEntries(s: ContextSource): AsyncGenerator<TarEntry> {
  for (const it of s.items) {
    const type = it.type === "dir" ? "directory" : it.type;
    yield { path: it.name, type, mode: it.mode, uid: 0, gid: 0, size: it.size, mtime: it.mtime, linkname: it.link, devmajor: 0, devminor: 0, pax: {}, body: it.type === "file" ? createReadStream(fsName(it.path)) : (async function* () {})() };
  }
}

/**
 * The paths of an image that a wildcard source matches, as BuildKit finds them (fsutil's ResolveWildcards): the
 * components before the first wildcard are looked up (links followed), then every path below them, links not
 * followed, whose name relative to them matches the rest (Go's filepath.Match: `*` stays within a component).
 */
async function imageMatches(files: ContainerFiles, pattern: string): Promise<string[]> {
  const parts = posix.resolve("/", pattern).split("/").slice(1);
  const literal = parts.findIndex(hasWildcards);
  const base = "/" + parts.slice(0, literal).join("/");
  const rest = parts.slice(literal).join("/");
  const st = await files.stat(base);
  if (st.type !== "dir" && st.targetType !== "dir") return [];
  return files.run(async (target) => {
    const reader = spawnCopyHelper(target, "read", base, { follow: true, name: "", content: false }, { stdout: true });
    const matches: string[] = [];
    const match = (r: CopyRecord) => {
      assertAsked(r, ""); // a vm guest's names are not trusted to stay below `base`
      if (r.path !== "" && matchPath(rest, r.path)) matches.push(posix.join(base, r.path));
    };
    await eachRecord(reader, match, undefined, { content: false });
    return matches;
  });
}

/**
 * Another image's files at `path` (docker cp's stream: a tree is named after its last component, which is
 * dropped). A symlink named as the source is followed, inside that image, as BuildKit does (`COPY --from=a
 * /bin/true /x` copies busybox, not a link that dangles); links below it stay links.
 */
async function* imageEntries(files: ContainerFiles, path: string, isDir: boolean): AsyncGenerator<TarEntry> {
  const stream = new PassThrough({ highWaterMark: 256 * 1024 });
  const reading = copyFromContainer(files, path, "-", stream, { follow: true }).then(
    () => stream.end(),
    (err: unknown) => stream.destroy(err as Error),
  );
  try {
    for await (const e of readTar(stream)) {
      const name = e.path.replace(/^\.?\/+/, "").replace(/\/+$/, "");
      const slash = name.indexOf("/");
      const inner = isDir ? (slash < 0 ? "" : name.slice(slash + 1)) : "";
      if (isDir && inner === "") {
        for await (const _ of e.body);
        continue;
      }
      const linkname = e.type === "hardlink" ? e.linkname.replace(/^\.?\/+/, "").slice(e.linkname.replace(/^\.?\/+/, "").indexOf("/") + 1) : e.linkname;
      yield { ...e, path: inner, linkname };
    }
  } finally {
    await reading;
  }
}

/** The file's bytes, decompressed; a missing tool is a clear error (the archive cannot be told from a file without it). */
async function* decompressed(path: string, kind: ArchiveCompression, ins: Instruction, shown: string): AsyncGenerator<Buffer> {
  const raw = createReadStream(fsName(path));
  try {
    yield* decompress(kind, raw);
  } catch (err) {
    if (err instanceof MissingToolError) throw new BuildError(`line ${ins.line}: ADD ${shown}: ${err.message}`);
    throw err;
  } finally {
    raw.destroy(); // a reader that stopped early (archiveKind's first block) leaves no open file
  }
}

/** A tar header block: its checksum holds (ustar and old v7 archives alike; zeros, an empty archive, do not). */
function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  const stored = parseInt(block.subarray(148, 156).toString("latin1").replace(/\0.*$/s, "").trim(), 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return stored === sum;
}

/**
 * How a local file ADD unpacks is compressed; undefined: not a tar archive, copied as a file. docker's rule:
 * an archive is what decompresses to a readable tar (a gzip'd text file is a file).
 */
async function archiveKind(path: string, ins: Instruction, shown: string): Promise<ArchiveCompression | undefined> {
  const head = await new Promise<Buffer>((resolve) => {
    const chunks: Buffer[] = [];
    const s = createReadStream(fsName(path), { start: 0, end: 5 });
    s.on("data", (c) => chunks.push(c as Buffer));
    s.on("end", () => resolve(Buffer.concat(chunks)));
    s.on("error", () => resolve(Buffer.alloc(0)));
  });
  const kind = archiveCompression(head);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of decompressed(path, kind, ins, shown)) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= 512) break;
    }
  } catch (err) {
    if (err instanceof BuildError) throw err;
    return undefined; // not valid in its compression: a file
  }
  return isTarHeader(Buffer.concat(chunks).subarray(0, 512)) ? kind : undefined;
}

function archiveUnit(s: ContextSource, kind: ArchiveCompression, ins: Instruction): Unit {
  const path = s.items[0]!.path;
  return {
    isDir: true,
    name: posix.basename(s.rel),
    ownersKept: true,
    entries: () =>
      (async function* () {
        for await (const e of readTar(decompressed(path, kind, ins, s.shown))) {
          const name = posix.normalize("/" + e.path).slice(1).replace(/\/+$/, "");
          if (e.path.split("/").includes("..") || (e.type === "hardlink" && e.linkname.split("/").includes(".."))) {
            throw new BuildError(`line ${ins.line}: ADD ${s.shown}: the archive has an entry outside its root: ${e.path}`);
          }
          if (name === "") {
            for await (const _ of e.body);
            continue;
          }
          yield { ...e, path: name, linkname: e.type === "hardlink" ? posix.normalize("/" + e.linkname).slice(1) : e.linkname };
        }
      })(),
  };
}
