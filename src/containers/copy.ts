/**
 * `tsbox cp` (and `Container.copyTo/copyFrom`): files between the host and
 * a container with docker's rules for what lands where. Every access to the
 * container goes through tsbox-runtime's `copy` (its namespaces joined when
 * it runs, its layers and volumes mounted in a namespace of their own when
 * it does not), so container paths resolve inside its root and a symlink in
 * the container never leads out of it. The host side is the same helper
 * without namespaces, as the calling user.
 */
import { constants, createReadStream, existsSync, statSync } from "node:fs";
import { dirname, join, posix, resolve as resolvePath } from "node:path";
import { pipeline, Readable, type Writable } from "node:stream";
import { createGunzip } from "node:zlib";
import { detectCompression, layerLimits, limitExpansion } from "../image/compression.js";
import { KEPT_LAYER_FILE } from "../backends/vm/core/guest-spec.js";
import { type CopyHelper, CopyHelperError, type CopyTarget, spawnCopyHelper } from "../backends/native/copy-helper.js";
import type { Backend } from "../backends/backend.js";
import { ContainerError, isTsboxError, UsageError } from "../errors.js";
import { checkOptions, type OptionKinds } from "../spec/run-options-check.js";
import { abortError } from "../abortable.js";
import { readSpec } from "./spec-file.js";
import { isErrno } from "../fs-util.js";
import { openRegular } from "../image/safe-open.js";
import { readTar } from "../image/tar.js";
import type { ContainerPaths } from "../paths.js";
import { assertAsked, type CopyRecord, readRecords, recordToTar, writeRecordsFromTar, writeTarEntry, writeTarEnd } from "./copy-records.js";
import type { TarEntry } from "../image/tar.js";
import { type ContainerState, isActive, readState } from "./state.js";
import { pidAlive } from "../process-alive.js";
import { withContainerLock } from "./lock.js";

export interface CopyOptions {
  /** `-a`: keep owners (uid/gid) as they are in the source. */
  archive?: boolean;
  /** `-L`: follow SRC itself when it is a symlink. */
  follow?: boolean;
  /**
   * Ends the copy when it aborts: its helpers get SIGTERM (a writer removes the file it was writing, so what
   * DEST named stays as it was; files already copied stay) and the copy rejects with the signal's reason.
   */
  signal?: AbortSignal;
}
export const COPY_TO_KINDS: OptionKinds<CopyOptions> = { archive: "boolean", follow: "boolean", signal: "abortSignal" };
/** `copyFrom` takes `end` too (false: its Writable is left open). */
export const COPY_FROM_KINDS: OptionKinds<CopyOptions & { end?: boolean }> = { ...COPY_TO_KINDS, end: "boolean" };

export interface PathStat {
  exists: boolean;
  type?: "dir" | "file" | "symlink" | "other";
  mode?: number;
  size?: number;
  link?: string;
  targetType?: "dir" | "file" | "symlink" | "other" | null;
}

/** The writable layer as a record stream (`ContainerFiles.upperRecords`). */
export interface UpperRecords extends CopyHelper {
  /** Whether file bodies follow their headers (a saved layer always has them). */
  bodies: boolean;
}

/** A container as `tsbox-runtime copy` reaches it. */
export class ContainerFiles {
  constructor(
    private readonly bundle: ContainerPaths,
    /** As read when made; a vm container's is read again when a copy finds it ended (endedAsWeCame). */
    private state: ContainerState,
    /** The container's backend (the vm's copies run in its guest). */
    private readonly backend?: Pick<Backend, "copy">,
  ) {}

  get name(): string {
    return this.state.name ?? this.state.id.slice(0, 12);
  }

  /**
   * The namespaces of a container whose process lives (running or paused),
   * else its layers in `view`. Never the merged layers of a live container:
   * a second overlay mount of its upper and work dirs would reset the work
   * dir under the container's own mount, and its writes would fail.
   */
  target(view: "merged" | "layers" | "upper" = "merged"): CopyTarget {
    if (this.state.backend !== "native") return this.guestTarget(view);
    if (view === "merged" && this.alive()) return { pid: this.state.pid! };
    if (!existsSync(this.bundle.config)) throw new ContainerError(`container ${this.name} has no file system yet (it never started)`);
    return { bundle: this.bundle.dir, view };
  }

  /**
   * A vm container's files, in its guest (its pid is the guest's: whether it
   * runs is what its record says): its namespaces while it runs, else a view
   * of its layers. Its `layers`, for `export`, are its files without what is
   * mounted over them (volumes, tmpfs).
   */
  private guestTarget(view: "merged" | "layers" | "upper"): CopyTarget {
    const copy = this.backend?.copy?.bind(this.backend);
    if (!copy || view === "upper") throw new ContainerError(`copying files is not supported for containers of the ${this.state.backend} backend`);
    if (!isActive(this.state) && !existsSync(this.bundle.config)) throw new ContainerError(`container ${this.name} has no file system yet (it never started)`);
    const layersOnly = view === "layers" ? { view: "layers" as const, skip: mountDestinations(this.bundle.config) } : {};
    const bundleDir = this.bundle.dir;
    return { guest: (request) => copy(bundleDir, request.op === "read" ? { ...request, ...layersOnly } : request) };
  }

  private alive(): boolean {
    return (this.state.status === "running" || this.state.status === "paused") && this.state.pid !== null && pidAlive(this.state.pid);
  }

  /**
   * Runs a helper against the container; when the container stopped between
   * the look and the join (its process is gone), once more against its layers.
   */
  async run<T>(use: (target: CopyTarget) => Promise<T>, view: "merged" | "layers" | "upper" = "merged"): Promise<T> {
    const target = this.target(view);
    if ("bundle" in target && view === "merged") return this.whileStopped(use);
    try {
      return await use(target);
    } catch (err) {
      if ("pid" in target && isTsboxError(err) && err.code === "container" && !this.alive()) return this.whileStopped(use);
      // (A vm container's backend reads its record at each copy: its layers now.)
      if ("guest" in target && (await this.endedAsWeCame(err))) return use(target);
      throw err;
    }
  }

  /**
   * Runs `use` on the merged layers of a stopped container, holding the
   * container's lock: a `start` meanwhile mounted the same upper and work dirs
   * for the container (the copy's files lost, or the start failing with
   * "mounting overlay …: No such file or directory") and replaced the net
   * files the view binds ("… changed after it was checked"). A start waits for
   * the copy, or a copy for a start, whose monitor holds the lock until the
   * container runs: then the copy goes into the container's namespaces.
   */
  private async whileStopped<T>(use: (target: CopyTarget) => Promise<T>): Promise<T> {
    const stopped = await withContainerLock(this.bundle.dir, async () => {
      this.state = readState(this.bundle) ?? this.state;
      return this.alive() ? undefined : { result: await use({ bundle: this.bundle.dir, view: "merged" }) };
    });
    // Started while this waited: outside the lock, which its monitor takes to record the container's end.
    return stopped ? stopped.result : use({ pid: this.state.pid! });
  }

  /**
   * Runs `read`, a whole read of the writable layer (`upperRecords`: diff,
   * commit); a vm container that ended as it began is read once more, from
   * the layer its guest kept.
   */
  async readUpper<T>(read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      if (this.state.backend !== "native" && (await this.endedAsWeCame(err))) return read();
      throw err;
    }
  }

  /**
   * Whether a vm container's copy failed because the container ended as we
   * came (its guest no longer runs it: a `cp` just after `run -d` of a short
   * command, 7 in 20): the error is the container's, and its record says it
   * has stopped within a few seconds (its monitor writes the end once the
   * guest has told it). The record read is kept for what follows.
   */
  private async endedAsWeCame(err: unknown): Promise<boolean> {
    if (!isTsboxError(err) || err.code !== "container" || !isActive(this.state)) return false;
    for (let waited = 0; waited < 5000; waited += 50) {
      const now = readState(this.bundle);
      if (!now) return false;
      if (!isActive(now)) {
        this.state = now;
        return true;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return false;
  }

  stat(path: string): Promise<PathStat> {
    return this.run((target) => statAt(target, path));
  }

  /**
   * The writable layer as records with overlay markers (whiteouts, opaque
   * dirs), owners as the container sees them: read by the helper from the
   * upper dir (by the agent for a running vm container), or for a stopped vm
   * container the same stream its guest saved when the run ended
   * (native-rs/agent/src/kept_layer.rs). `content`: whether file bodies are
   * wanted (the helper leaves them out otherwise).
   */
  upperRecords(content: boolean): UpperRecords {
    if (this.state.backend === "native") {
      return { ...spawnCopyHelper(this.target("upper"), "read", "/", { name: "", markers: true, content }, { stdout: true }), bodies: content };
    }
    // (Its pid is the guest's: whether it runs is what its record says.) Running: its upper dir, read in the guest.
    if (isActive(this.state)) {
      const copy = this.backend?.copy?.bind(this.backend);
      if (!copy) throw new ContainerError(`container ${this.name} runs in the vm guest: its changes can be read once it has stopped`);
      const bundleDir = this.bundle.dir;
      return { ...spawnCopyHelper({ guest: (request) => copy(bundleDir, { ...request, view: "upper" }) }, "read", "/", { content }, { stdout: true }), bodies: content };
    }
    const fd = this.keptLayer();
    const stdout = fd === undefined ? Readable.from([]) : createReadStream("", { fd });
    return { stdin: null, stdout, done: Promise.resolve(), kill: () => stdout.destroy(), bodies: true };
  }

  /**
   * A stopped vm container's kept layer file, open; undefined when there is
   * none yet (it never ran to its end, or ran with --rm: no changes). Its
   * directory is a read-write export of the guest, which may have left a
   * symlink or a FIFO there: only a regular file is opened, never followed.
   */
  private keptLayer(): number | undefined {
    const file = join(this.bundle.guestLayer, KEPT_LAYER_FILE);
    try {
      return openRegular(file, constants.O_RDONLY);
    } catch (err) {
      if (isErrno(err, "ENOENT")) return undefined;
      if (isErrno(err, "ELOOP") || isErrno(err, "EACCES")) throw new ContainerError(`the kept layer of container ${this.name} is not a regular file: ${file}`);
      throw err;
    }
  }
}

export async function statAt(target: CopyTarget, path: string): Promise<PathStat> {
  const helper = spawnCopyHelper(target, "stat", path, {}, { stdout: true });
  let text = "";
  for await (const chunk of helper.stdout!) text += (chunk as Buffer).toString("utf8");
  await helper.done;
  return JSON.parse(text) as PathStat;
}

/** What a copy creates: SRC's tree under `name` (or its contents when "") inside the directory `dir`. */
export interface CopyPlan {
  dir: string;
  name: string;
}

/** docker cp's rules (`docker cp --help`): where SRC goes given what DEST is. */
export function planCopy(src: { path: string; isDir: boolean }, dest: { path: string; stat: PathStat }, shownDest = dest.path): CopyPlan {
  const destIsDir = dest.stat.exists && (dest.stat.type === "dir" || (dest.stat.type === "symlink" && dest.stat.targetType === "dir"));
  const trimmed = src.path.replace(/\/+$/, "");
  const srcBase = posix.basename(trimmed === "" ? "/" : trimmed);
  const destDir = posix.dirname(dest.path.replace(/\/+$/, "") || "/");
  const destBase = posix.basename(dest.path.replace(/\/+$/, ""));
  if (!src.isDir) {
    if (!dest.stat.exists) {
      if (dest.path.endsWith("/")) throw new ContainerError(`destination directory ${shownDest} does not exist`);
      return { dir: destDir, name: destBase };
    }
    return destIsDir ? { dir: dest.path, name: srcBase } : { dir: destDir, name: destBase };
  }
  if (!dest.stat.exists) return { dir: destDir, name: destBase };
  if (!destIsDir) throw new ContainerError(`cannot copy a directory onto the file ${shownDest}`);
  // `SRC/.`: its contents, not the directory itself.
  if (/(^|\/)\.$/.test(src.path) || srcBase === "/") return { dir: dest.path, name: "" };
  return { dir: dest.path, name: srcBase };
}

/** What a container's spec mounts over its root (volumes, tmpfs, /dev): not the files `export` shows. */
function mountDestinations(config: string): string[] {
  return readSpec(config).mounts.map((m) => posix.resolve("/", m.destination));
}

function hostStat(path: string): PathStat {
  try {
    const st = statSync(path);
    return { exists: true, type: st.isDirectory() ? "dir" : st.isFile() ? "file" : "other" };
  } catch {
    return { exists: false };
  }
}

/**
 * Whether SRC is written as a directory (`a/`, `a/.`), which it then must be: the resolved path loses the slash, so
 * a file `a/` was copied as the file, and a link `a/` as the link; docker's (and cp's) `a/` is resolved by the kernel,
 * ENOTDIR for a file, the directory for a link to one (then followed, as -L would).
 */
function namedDir(src: string, s: PathStat, shown: string): boolean {
  if (!/\/\.?$/.test(src)) return false;
  if (s.type !== "dir" && !(s.type === "symlink" && s.targetType === "dir")) throw new ContainerError(`${shown}: not a directory`);
  return true;
}

function srcIsDir(s: PathStat, follow: boolean): boolean {
  return s.type === "dir" || (follow && s.type === "symlink" && s.targetType === "dir");
}

/** Pipes one helper's records into another's; both must succeed (the cause of a failure is reported, not the broken pipe it made). */
async function pipeHelpers(from: CopyHelper, to: CopyHelper): Promise<void> {
  from.stdout!.pipe(to.stdin!);
  // A writer that failed (a full disk) reads no more: the reader, blocked on a full pipe, would wait for ever.
  to.stdin!.on("error", () => {});
  let readerKilled = false;
  to.done.catch(() => {
    readerKilled = true;
    from.kill();
    // What it wrote and nobody will read: unread, its stdout never closes, so the reader's end is never seen
    // (with nothing else left to wait for, the command stopped unfinished: Ctrl-C of a cp, 1 in 12).
    from.stdout?.destroy();
  });
  const [read, written] = await Promise.allSettled([from.done, to.done]);
  if (written.status === "rejected" && readerKilled) throw written.reason;
  if (read.status === "rejected" && written.status === "rejected") {
    const readMessage = String((read.reason as Error).message);
    throw /writing the copy stream/.test(readMessage) ? written.reason : read.reason;
  }
  if (read.status === "rejected") throw read.reason;
  if (written.status === "rejected") throw written.reason;
}

/**
 * A copy under `signal`: the reading and writing helpers it spawns (`spawn`) get SIGTERM when it aborts, and
 * `run` then rejects with the signal's reason.
 */
function abortingCopy(signal: AbortSignal | undefined): { spawn: typeof spawnCopyHelper; run: (work: () => Promise<void>) => Promise<void> } {
  const helpers: CopyHelper[] = [];
  let interrupted = false;
  const stop = () => {
    for (const h of helpers) h.kill("SIGTERM");
  };
  return {
    spawn: (...args) => {
      const helper = spawnCopyHelper(...args);
      helpers.push(helper);
      helper.done.catch((err: unknown) => void (interrupted ||= err instanceof CopyHelperError && err.interrupted));
      if (signal?.aborted) helper.kill("SIGTERM");
      return helper;
    },
    run: async (work) => {
      if (!signal) return work();
      if (signal.aborted) throw abortError(signal);
      signal.addEventListener("abort", stop, { once: true });
      try {
        await work();
      } catch (err) {
        // The process group's Ctrl-C ends a helper too, and its end may be seen before our own handler aborts the
        // signal: a moment for that before the helper's death is taken for a failure of its own.
        if (!signal.aborted && interrupted) await new Promise((r) => setTimeout(r, 250));
        throw signal.aborted ? abortError(signal) : err;
      } finally {
        signal.removeEventListener("abort", stop);
      }
    },
  };
}

/** `cp CONTAINER:SRC DEST` (`-` DEST: a tar stream on `out`). */
export async function copyFromContainer(c: ContainerFiles, src: string, dest: string, out: Writable | undefined, options: CopyOptions = {}): Promise<void> {
  const srcPath = posix.resolve("/", src);
  const keepDot = /(^|\/)\.$/.test(src) ? "/." : "";
  const { spawn: spawnHelper, run } = abortingCopy(options.signal);
  await run(() => c.run(async (target) => {
    const s = await statAt(target, srcPath);
    if (!s.exists) throw new ContainerError(`Could not find the file ${src} in container ${c.name}`, "no_such_path");
    const follow = Boolean(options.follow) || namedDir(src, s, `${src} in container ${c.name}`);
    const isDir = srcIsDir(s, follow);
    if (dest === "-") {
      if (!out) throw new UsageError("cp to - needs an output stream");
      // Named as the reader names it by default (its last component): a guest's records outside it are refused, not archived.
      const name = posix.basename(srcPath);
      const reader = spawnHelper(target, "read", srcPath, { follow, name }, { stdout: true });
      await recordsToTar(reader, out, (r, body) => {
        assertAsked(r, name);
        return [recordToTar(r, body)];
      });
      return;
    }
    const hostDest = resolvePath(dest) + (dest.endsWith("/") ? "/" : "");
    const plan = planCopy({ path: srcPath + keepDot, isDir }, { path: hostDest, stat: hostStat(hostDest) }, dest);
    if (!existsSync(plan.dir)) throw new ContainerError(`no such directory: ${dirname(dest) === "." ? plan.dir : dirname(dest)}`);
    const reader = spawnHelper(target, "read", srcPath, { follow, name: plan.name }, { stdout: true });
    // `name`: the writer takes only what was asked for (a vm guest's records are not trusted; plan.dir is DEST's parent).
    const writer = spawnHelper({ host: true }, "write", plan.dir, { archive: Boolean(options.archive), name: plan.name }, { stdin: true });
    await pipeHelpers(reader, writer);
  }));
}

/** `cp SRC CONTAINER:DEST` (`-` SRC: a tar stream from `input`, extracted into the directory DEST). */
export async function copyToContainer(c: ContainerFiles, src: string, dest: string, input: Readable | undefined, options: CopyOptions = {}): Promise<void> {
  const destPath = posix.resolve("/", dest) + (dest.endsWith("/") && dest !== "/" ? "/" : "");
  const { spawn: spawnHelper, run } = abortingCopy(options.signal);
  await run(() => c.run(async (target) => {
    const d = await statAt(target, destPath);
    if (src === "-") {
      if (!input) throw new UsageError("cp from - needs an input stream");
      if (!d.exists || !(d.type === "dir" || d.targetType === "dir")) throw new ContainerError(`destination ${dest} in container ${c.name} must be an existing directory for a tar stream`);
      const writer = spawnHelper(target, "write", destPath, { archive: Boolean(options.archive) }, { stdin: true });
      await tarToRecords(input, writer);
      return;
    }
    const hostSrc = resolvePath(src);
    const s = await statAt({ host: true }, hostSrc);
    if (!s.exists) throw new ContainerError(`no such file or directory: ${src}`, "no_such_path");
    const follow = Boolean(options.follow) || namedDir(src, s, src);
    const isDir = srcIsDir(s, follow);
    const keepDot = /(^|\/)\.$/.test(src) ? "/." : "";
    const plan = planCopy({ path: hostSrc + keepDot, isDir }, { path: destPath, stat: d }, dest);
    if (plan.dir !== destPath) {
      const parent = await statAt(target, plan.dir);
      if (!parent.exists) throw new ContainerError(`no such directory in container ${c.name}: ${plan.dir}`, "no_such_path");
    }
    const reader = spawnHelper({ host: true }, "read", hostSrc, { follow, name: plan.name }, { stdout: true });
    const writer = spawnHelper(target, "write", plan.dir, { archive: Boolean(options.archive) }, { stdin: true });
    await pipeHelpers(reader, writer);
  }));
}

/**
 * A reading helper's records as a tar archive on `out` (not ended);
 * `entries` may turn one record into several entries (commit's whiteouts).
 */
export async function recordsToTar(reader: CopyHelper, out: Writable, entries: (r: CopyRecord, body: AsyncIterable<Buffer>) => TarEntry[] = (r, body) => [recordToTar(r, body)]): Promise<void> {
  await eachRecord(reader, async (r) => {
    for (const e of entries(r, r.body)) await writeTarEntry(out, e);
  }, () => writeTarEnd(out));
}

/**
 * `use` on each record of a reading helper, then `end`; once all is read, the helper's end (its error, if it
 * failed). An error of ours stops the helper.
 */
export async function eachRecord(reader: CopyHelper, use: (r: CopyRecord & { body: AsyncIterable<Buffer> }) => Promise<void> | void, end?: () => Promise<void>, options: { content?: boolean } = {}): Promise<void> {
  try {
    for await (const r of readRecords(reader.stdout!, options)) await use(r);
    await end?.();
  } catch (err) {
    reader.kill();
    // Its output unread (a full disk stopped our writes) kept its pipe open, and `done` (the child's close) never came.
    reader.stdout?.destroy();
    await reader.done.catch(() => {});
    throw err;
  }
  await reader.done;
}

/** A tar archive from `input` into a writing helper. */
/**
 * A tar stream as it comes, or gunzipped when it is gzip'd (docker's archive
 * API takes both), within the layer size cap (TSBOX_MAX_LAYER_SIZE).
 */
async function* plainTar(input: Readable): AsyncGenerator<Buffer> {
  const chunks = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const first = await chunks.next();
  if (first.done) return;
  const all = async function* () {
    yield first.value;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  };
  if (detectCompression(first.value) !== "gzip") return yield* all();
  const gunzip = createGunzip();
  pipeline(Readable.from(all()), gunzip, () => {}); // an error ends gunzip with it, and so the loop below
  yield* limitExpansion(gunzip, "the tar stream", undefined, layerLimits());
}

async function tarToRecords(input: Readable, writer: CopyHelper): Promise<void> {
  // A writer that fails first (Ctrl-C reaches it with the CLI) ends the reading too: an input that sends nothing
  // more (a stdin held open) kept the copy waiting until the interrupt's fallback killed the CLI.
  let writerFirst = false;
  void writer.done.catch(() => {
    writerFirst = true;
    input.destroy();
  });
  // The caller's stream failing is its own error, as stream.pipeline gives it (it read as a LayerError, "truncated tar archive").
  let sourceError: unknown;
  input.once("error", (err) => (sourceError ??= err));
  try {
    await writeRecordsFromTar(readTar(plainTar(input)), writer.stdin!);
    writer.stdin!.end();
  } catch (err) {
    // Our own error (a bad tar) wins; a broken pipe, or the input we ended, means the helper failed: its error says why.
    // A source that failed ends the helper's input as an abort does (it removes its temp file), and is what is thrown.
    const source = sourceError !== undefined && !writerFirst;
    const ours = isTsboxError(err) && !writerFirst && !source;
    if (ours) writer.kill();
    else writer.stdin!.destroy();
    const helperErr = await writer.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw source ? sourceError : ours ? err : (helperErr ?? err);
  }
  await writer.done;
}
