/**
 * The build context: the directory COPY, ADD and RUN --mount=type=bind read
 * from. A source is a path relative to it (a leading `/` too), with Go
 * wildcards; it must stay inside the context — `..` and symlinks that lead
 * out are refused, as docker refuses them — and what `.dockerignore` lists
 * is not there: BuildKit is sent only the filtered context, so there a
 * symlink to an ignored file or directory leads nowhere. The rules are
 * matched where an entry really is (a link's target, what is walked under
 * a linked directory), not where a link names it, and every link on the way
 * is judged before it is followed (`locate`). Inside a copied directory
 * symlinks are copied as links, never followed.
 */
import { createHash } from "node:crypto";
import { fsName, nameBytes, nameFromBytes } from "../name-bytes.js";
import { closeSync, createReadStream, fstatSync, lstatSync, readFileSync, readSync, realpathSync, type Stats } from "node:fs";
import { join, posix, resolve, sep } from "node:path";
import { BuildError } from "./build-error.js";
import { hasWildcards, IgnoreRules, matchPath } from "./patterns.js";
import { openRegular } from "../image/safe-open.js";
import { readdirNames, readlinkName } from "../fs-util.js";
import { walkPath } from "../path-walk.js";

/** A Dockerfile or .dockerignore larger than this is refused (docker's largest real ones are a few hundred KB). */
const MAX_BUILD_FILE = 16 * 1024 * 1024;

const isMissing = (err: unknown) => ["ENOENT", "ENOTDIR"].includes((err as NodeJS.ErrnoException).code ?? "");

/** One file system entry of a source, named relative to what the copy creates. */
export interface ContextItem {
  /** `/`-separated, relative to the copy's destination; "" is a file source itself. */
  name: string;
  /** Host path to read. */
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  size: number;
  mtime: number;
  link: string;
}

/** What one source adds: a file (named by the copy's rules), or a directory's contents. */
export interface ContextSource {
  /** The source as written (a wildcard's match: its path), for messages. */
  shown: string;
  /** Its path relative to the context. */
  rel: string;
  isDir: boolean;
  items: ContextItem[];
}

export class BuildContext {
  readonly root: string;
  readonly ignore: IgnoreRules;

  /**
   * `dir`: the context directory; `.dockerignore` in it applies, unless the
   * Dockerfile (`dockerfile`, relative to the context, or absolute) has one
   * of its own beside it, `<Dockerfile>.dockerignore`, which wins (docker's rule).
   */
  constructor(dir: string, dockerfile?: string) {
    try {
      this.root = realpathSync(dir);
    } catch {
      throw new BuildError(`unable to prepare context: path "${dir}" not found`);
    }
    if (!lstatSync(this.root).isDirectory()) throw new BuildError(`unable to prepare context: ${dir} is not a directory`);
    const candidates = [...(dockerfile !== undefined ? [`${resolve(this.root, dockerfile)}.dockerignore`] : []), join(this.root, ".dockerignore")];
    let text = "";
    for (const file of candidates) {
      const read = this.readFile(file, ".dockerignore");
      if (read !== undefined) {
        text = read;
        break;
      }
      // none here: the next, else nothing ignored
    }
    this.ignore = new IgnoreRules(text);
  }

  /**
   * The Dockerfile or a .dockerignore: undefined when there is none. A context is often someone else's (a pull
   * request's checkout), so a path in it must not lead out of it through a symlink (its content would reach the
   * build log: `Dockerfile -> /proc/self/environ` printed the environment in a parse error), and what it names must
   * be a regular file of sane size (`-> /dev/zero` read for ever). A path outside the context (`-f` elsewhere) is
   * the user's own choice and may be a link, but must be a regular file too.
   */
  readFile(path: string, what: string): string | undefined {
    let real: string;
    try {
      real = realpathSync(path);
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw new BuildError(`cannot read the ${what} ${path}: ${(err as Error).message}`);
    }
    if (this.contains(path) && !this.contains(real)) throw new BuildError(`the ${what} ${this.shown(path)} is a symlink that leads out of the build context (to ${real})`);
    let fd: number;
    try {
      fd = openRegular(real, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EACCES" && !lstatSync(real).isFile()) throw new BuildError(`the ${what} ${this.shown(path)} is not a regular file`);
      throw new BuildError(`cannot read the ${what} ${this.shown(path)}: ${(err as Error).message}`);
    }
    try {
      const size = fstatSync(fd).size;
      if (size > MAX_BUILD_FILE) throw new BuildError(`the ${what} ${this.shown(path)} is larger than ${MAX_BUILD_FILE / 1024 / 1024} MiB`);
      // It may grow while we read: never past the limit.
      const buf = Buffer.alloc(size + 1);
      let n = 0;
      for (let r; n < buf.length && (r = readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
      if (n > size) throw new BuildError(`the ${what} ${this.shown(path)} changed while it was read`);
      // .dockerignore's patterns name files: bytes that are not UTF-8 stay bytes (src/name-bytes.ts), to match such names.
      return what === ".dockerignore" ? nameFromBytes(buf.subarray(0, n)) : buf.subarray(0, n).toString("utf8");
    } finally {
      closeSync(fd);
    }
  }

  private contains(path: string): boolean {
    return path === this.root || path.startsWith(this.root + sep);
  }

  /** A path as the user would name it: relative to the context when inside it. */
  private shown(path: string): string {
    return this.contains(path) ? path.slice(this.root.length + 1) || "." : path;
  }

  /**
   * A failed read of the context (rootless: another user's 0600 file or 0700 directory) as the step's error,
   * with its line and the path in the context (it was Node's bare "EACCES: permission denied, open '/abs/path'").
   */
  unreadable(err: unknown, line: number): unknown {
    const e = err as NodeJS.ErrnoException;
    if (!(err instanceof Error) || typeof e.code !== "string" || e.path === undefined) return err;
    const why = e.code === "EACCES" || e.code === "EPERM" ? "permission denied" : e.message;
    return new BuildError(`line ${line}: cannot read ${this.shown(String(e.path))} in the build context: ${why}`, err);
  }

  /** The sources a COPY or ADD names, wildcards expanded; a missing or escaping one is an error. */
  resolve(sources: string[], line: number): ContextSource[] {
    const out: ContextSource[] = [];
    for (const source of sources) {
      const rel = this.relative(source, line);
      const matches = hasWildcards(rel) ? this.glob(rel) : this.exists(rel, line) ? [rel] : [];
      if (matches.length === 0) {
        throw new BuildError(hasWildcards(rel) ? `line ${line}: no source files were specified: no file in the build context matches ${source}` : `line ${line}: ${source}: not found in the build context`);
      }
      // A wildcard's match is named as itself in messages (which of `gitc*`'s matches leads nowhere).
      for (const m of matches) out.push(this.source(m, hasWildcards(rel) ? m : source, line));
    }
    return out;
  }

  /** A source path as a context-relative path ("" is the context itself); `..` out of it is refused. */
  private relative(source: string, line: number): string {
    // A leading `/` is the context's root; `..` above it is refused (docker's classic builder did; BuildKit clamps).
    const norm = posix.normalize(source.replace(/^\/+/, "") || ".");
    if (norm === ".." || norm.startsWith("../")) throw new BuildError(`line ${line}: forbidden path outside the build context: ${source}`);
    return norm.replace(/\/+$/, "").replace(/^\.$/, "");
  }

  /** Whether the name `rel` is there and not ignored as named (where it leads is `locate`'s); with `line`, one the user cannot reach is that step's error. */
  private exists(rel: string, line?: number): boolean {
    let st: Stats;
    try {
      st = lstatSync(fsName(join(this.root, rel)));
    } catch (err) {
      // Behind a directory the user cannot search (rootless: root's 0700): there, but unreadable.
      if (line !== undefined && (err as NodeJS.ErrnoException).code === "EACCES" && !this.ignore.ignores(rel)) throw this.unreadable(err, line);
      return false;
    }
    return rel === "" || !this.leftOut(rel, st.isDirectory());
  }

  /** Context paths that match `pattern` component by component, ignored ones left out. */
  private glob(pattern: string): string[] {
    let found = [""];
    for (const part of pattern.split("/")) {
      const next: string[] = [];
      for (const dir of found) {
        if (!hasWildcards(part)) {
          const p = dir ? `${dir}/${part}` : part;
          if (this.exists(p)) next.push(p);
          continue;
        }
        const real = this.locate(dir);
        if (!("path" in real)) continue;
        let names: string[];
        try {
          names = readdirNames(real.path);
        } catch {
          continue;
        }
        for (const name of names.sort()) {
          if (!matchPath(part, name)) continue;
          const p = dir ? `${dir}/${name}` : name;
          let isDir: boolean;
          try {
            isDir = lstatSync(fsName(join(real.path, name))).isDirectory();
          } catch {
            continue;
          }
          // Left out by its name or where it is (`keys/*` with `keys -> secrets`): not in the filtered context.
          if (!this.leftOut(p, isDir) && !this.leftOut(real.rel ? `${real.rel}/${name}` : name, isDir)) next.push(p);
        }
      }
      found = next;
    }
    return found;
  }

  /**
   * Where the context path `rel` really is, every symlink on the way
   * followed: its host path and its path in the context ("" the context
   * itself). "nowhere" when nothing is there in the filtered context — a
   * link, or a link's target, that `.dockerignore` leaves out, where it is
   * (a `..` in a target, nested links and absolute ones all resolved first),
   * counts as missing, as a link to a missing file does; `outside` (the real
   * path) when it leads out of the context (docker: "forbidden path outside
   * the build context"). An ignored directory an exception brings something
   * back from is there; what it holds is judged entry by entry (`walk`).
   */
  locate(rel: string): { path: string; rel: string } | { nowhere: true } | { outside: string } {
    let real: string;
    try {
      real = walkPath(join(this.root, rel), (here, st) => {
        if (here === this.root || !this.contains(here)) return;
        if (this.leftOut(here.slice(this.root.length + 1), st.isDirectory())) throw new Error("left out by .dockerignore");
      }).path;
    } catch {
      // missing, a loop, unreadable, or left out
      return { nowhere: true };
    }
    if (!this.contains(real)) return { outside: real };
    return { path: real, rel: real.slice(this.root.length + 1) };
  }

  /** Whether the entry at `rel` (where it really is) is not in the filtered context: an ignored one, unless a directory an exception may reach into. */
  private leftOut(rel: string, isDir: boolean): boolean {
    return this.ignore.ignores(rel) && !(isDir && this.ignore.mayReinclude(rel));
  }

  private source(rel: string, shown: string, line: number): ContextSource {
    // The source itself is followed when it is a symlink (docker does), within the context only.
    const real = this.locate(rel);
    if ("outside" in real) throw new BuildError(`line ${line}: forbidden path outside the build context: ${shown} (a symlink leads to ${real.outside})`);
    const notFound = (why = "") => new BuildError(`line ${line}: ${shown}: not found in the build context${why}`);
    if ("nowhere" in real) throw notFound(" (a symlink that leads nowhere)");
    const st = lstatSync(fsName(real.path));
    if (st.isDirectory()) {
      let items: ContextItem[];
      try {
        items = this.walk(real.path, real.rel, "");
      } catch (err) {
        throw this.unreadable(err, line);
      }
      // An ignored directory is there only with what an exception brings back.
      if (items.length === 0 && real.rel !== "" && this.ignore.ignores(real.rel)) throw notFound();
      return { shown, rel, isDir: true, items };
    }
    if (!st.isFile()) throw new BuildError(`line ${line}: ${shown} is not a regular file or directory`);
    return { shown, rel, isDir: false, items: [item("", real.path, st)] };
  }

  /** A directory's contents, depth first, names sorted; ignored entries (by where they are: `relDir` is `dir`'s real place) left out. */
  private walk(dir: string, relDir: string, prefix: string): ContextItem[] {
    const out: ContextItem[] = [];
    for (const name of readdirNames(dir).sort()) {
      const rel = relDir ? `${relDir}/${name}` : name;
      const path = join(dir, name);
      const st = lstatSync(fsName(path));
      if (this.leftOut(rel, st.isDirectory())) continue;
      const ignored = this.ignore.ignores(rel);
      const named = prefix ? `${prefix}/${name}` : name;
      if (st.isDirectory()) {
        const inner = this.walk(path, rel, named);
        if (!ignored || inner.length > 0) out.push(item(named, path, st), ...inner);
      } else if (st.isFile() || st.isSymbolicLink()) out.push(item(named, path, st));
      // Sockets, FIFOs and devices are not copied (docker's context upload skips them too).
    }
    return out;
  }
}

/** `path` is a string as src/name-bytes.ts keeps names: fsName(path) for the file system. */
function item(name: string, path: string, st: Stats): ContextItem {
  const type = st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : "file";
  const link = type === "symlink" ? readlinkName(path) : "";
  return { name, path, type, mode: st.mode & 0o7777, size: type === "file" ? st.size : 0, mtime: Math.floor(st.mtimeMs / 1000), link };
}

/**
 * A digest of what the sources hold (names, types, modes, link targets and
 * file contents; not times or owners): COPY's part of a build-cache key.
 */
export async function sourcesDigest(sources: ContextSource[]): Promise<string> {
  const h = createHash("sha256");
  for (const s of sources) {
    // Names as their bytes: two names that are not UTF-8 must not hash alike (as U+FFFD).
    h.update(nameBytes(`source ${s.rel} ${s.isDir}\0`));
    for (const it of s.items) {
      h.update(nameBytes(`${it.type} ${it.name} ${it.mode.toString(8)} ${it.size} ${it.link}\0`));
      if (it.type === "file") for await (const chunk of createReadStream(fsName(it.path))) h.update(chunk as Buffer);
    }
  }
  return `sha256:${h.digest("hex")}`;
}
