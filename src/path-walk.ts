/**
 * A path resolved as the kernel resolves it — one component at a time,
 * each entry `lstat`ed, each symlink read and followed (`..` of a link's
 * target from where the link resolved to) — so that a caller can judge
 * every entry on the way, links included, before it is followed: a bind
 * source refuses a link a container could have planted
 * (backends/vm/node/bind-source.ts), a build context an entry
 * `.dockerignore` leaves out (build/context.ts). `realpath` shows only
 * where a path ends, not what it went through.
 */
import { lstatSync, type BigIntStats } from "node:fs";
import { isAbsolute, join, parse, sep } from "node:path";
import { readlinkName } from "./fs-util.js";
import { fsName } from "./name-bytes.js";

/** Linux's MAXSYMLINKS, as the Rust walk of native-rs/container/src/paths.rs. */
const MAX_SYMLINKS = 40;

/** What the walk found: the path with no symlink on the way, and its stats. */
export interface WalkedPath {
  path: string;
  st: BigIntStats;
}

/**
 * Resolves the absolute host path `path`. `visit` sees every entry on the
 * way (`target`: a symlink's, before it is followed) and may throw to stop
 * the walk. Errors of the walk itself carry a `code` as the kernel's
 * (ENOENT, ENOTDIR, ELOOP, EINVAL, EACCES).
 */
export function walkPath(path: string, visit: (here: string, st: BigIntStats, target?: string) => void = () => {}): WalkedPath {
  if (!isAbsolute(path)) throw fsError("EINVAL", "invalid argument");
  let root = parse(path).root;
  const pending = components(path.slice(root.length));
  const stack: string[] = [];
  let links = 0;
  let st: BigIntStats | undefined;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === "..") {
      stack.pop(); // at the root a no-op: `..` of / is /
      st = undefined;
      continue;
    }
    const here = join(root, ...stack, name);
    st = lstatSync(fsName(here), { bigint: true });
    if (st.isSymbolicLink()) {
      const target = readlinkName(here);
      visit(here, st, target);
      if (++links > MAX_SYMLINKS) throw fsError("ELOOP", "too many symbolic links encountered");
      if (isAbsolute(target)) {
        root = parse(target).root;
        stack.length = 0;
      }
      pending.unshift(...components(target.slice(parse(target).root.length)));
      st = undefined;
      continue;
    }
    visit(here, st);
    if (pending.length > 0 && !st.isDirectory()) throw fsError("ENOTDIR", "not a directory");
    stack.push(name);
  }
  const real = join(root, ...stack);
  st ??= lstatSync(fsName(real), { bigint: true });
  return { path: real, st };
}

/** Names of a path, `..` kept, `.` and empty ones dropped (either separator on Windows). */
function components(path: string): string[] {
  return path.split(sep === "/" ? "/" : /[\\/]/).filter((c) => c !== "" && c !== ".");
}

function fsError(code: string, text: string): Error {
  return Object.assign(new Error(`${code}: ${text}`), { code });
}
