import { randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, open, readdir, rename, rm, rmdir, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** Random hex, for temp names and container ids. */
export function randomHex(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}

/**
 * Write-temp-then-rename: readers see the old or the new file, never a torn
 * one. With `durable`, the data is fsynced before the rename so a crash
 * cannot leave an empty file under the final name either.
 */
export async function writeFileAtomic(path: string, data: string | Buffer, options: { durable?: boolean; mode?: number } = {}): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomHex(6)}.tmp`);
  const fh = await open(tmp, "wx", options.mode ?? 0o644);
  try {
    await fh.writeFile(data);
    if (options.durable) await fh.sync();
  } catch (err) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/**
 * `rm -rf` that also copes with directories we cannot write or read
 * (layer dirs with mode 0555, overlay's work/work with mode 000): on
 * EACCES it grants the owner rwx and retries, as `rm -rf` cannot.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true, maxRetries: 2 });
    return;
  } catch (err) {
    if (!isErrno(err, "EACCES") && !isErrno(err, "EPERM") && !isErrno(err, "ENOTEMPTY")) throw err;
  }
  await removeTreeSlow(path);
}

async function removeTreeSlow(path: string): Promise<void> {
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    if (isErrno(err, "ENOENT")) return;
    throw err;
  }
  if (!st.isDirectory()) {
    await unlink(path);
    return;
  }
  await chmod(path, 0o700).catch(() => {});
  for (const name of await readdir(path)) await removeTreeSlow(join(path, name));
  await rmdir(path);
}

export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if (isErrno(err, "ENOENT") || isErrno(err, "ENOTDIR")) return false;
    throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === code;
}

/**
 * A cross-process lock made of an exclusively created directory, for short
 * read-modify-write sections (index.json). A lock older than `staleMs` is
 * taken to belong to a crashed process and broken.
 */
export async function withFileLock<T>(lockPath: string, fn: () => Promise<T>, staleMs = 30_000): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let delay = 2; ; delay = Math.min(delay * 2, 100)) {
    try {
      await mkdir(lockPath);
      break;
    } catch (err) {
      if (!isErrno(err, "EEXIST")) throw err;
      const st = await lstat(lockPath).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > staleMs) {
        await rmdir(lockPath).catch(() => {});
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
  try {
    return await fn();
  } finally {
    await rmdir(lockPath).catch(() => {});
  }
}
