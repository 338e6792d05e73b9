/**
 * The saved guest state's bytes in the origin private file system (OPFS):
 * written through a sync access handle (dedicated Workers only) in one
 * write, read back through a read-only one in one read (`readThroughHandle`),
 * where IndexedDB or a File hands the bytes back through the browser's blob
 * pipes (docs/architecture.md). Each write is a new file named after the
 * state's digest and written before the IndexedDB record that names it
 * (browser-store.ts), so a record never names a half-written file; files no
 * record names are pruned.
 */

import { withTimeout } from "../core/guest-machine.js";

/** The part of FileSystemSyncAccessHandle used here (lib.dom does not declare it). */
interface SyncAccessHandle {
  write(buffer: Uint8Array, options: { at: number }): number;
  read(buffer: Uint8Array, options: { at: number }): number;
  getSize(): number;
  flush(): void;
  close(): void;
}

type SyncFileHandle = FileSystemFileHandle & { createSyncAccessHandle(options?: { mode: "readwrite" | "read-only" }): Promise<SyncAccessHandle> };

export interface StateFiles {
  /** Writes `bytes` to a new file; returns its name (`prefix` and a unique tail). */
  write(prefix: string, bytes: ArrayBuffer): Promise<string>;
  read(name: string): Promise<ArrayBuffer>;
  /** Removes every state file but `keep` (files another tab holds open stay). */
  prune(keep?: string): Promise<void>;
}

/** The OPFS folder of database `database`'s state files. */
export const stateFilesDir = (database: string) => `tsbox-${database}`;

/** The state files of database `database`; undefined where OPFS sync access is missing (a page, an old browser). */
export async function openStateFiles(database: string): Promise<StateFiles | undefined> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  if (typeof storage?.getDirectory !== "function" || !("FileSystemSyncAccessHandle" in globalThis)) return undefined;
  try {
    const files = new OpfsStateFiles(await storage.getDirectory(), stateFilesDir(database));
    await files.dir();
    return files;
  } catch {
    return undefined;
  }
}

class OpfsStateFiles implements StateFiles {
  constructor(
    private readonly root: FileSystemDirectoryHandle,
    private readonly name: string,
  ) {}

  /** Looked up at each use: another tab's clearStorage removes the folder, and a handle kept would then fail every use. */
  dir(): Promise<FileSystemDirectoryHandle> {
    return this.root.getDirectoryHandle(this.name, { create: true });
  }

  async write(prefix: string, bytes: ArrayBuffer): Promise<string> {
    const name = `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const file = (await (await this.dir()).getFileHandle(name, { create: true })) as SyncFileHandle;
    // A lock a torn-down Worker still holds must not stall the save.
    const handle = await openHandle(file, "readwrite", LOCK_WAIT_MS);
    try {
      const n = handle.write(new Uint8Array(bytes), { at: 0 });
      if (n !== bytes.byteLength) throw new Error(`wrote ${n} of ${bytes.byteLength} bytes`);
      handle.flush();
    } finally {
      handle.close();
    }
    return name;
  }

  async read(name: string): Promise<ArrayBuffer> {
    const file = (await (await this.dir()).getFileHandle(name)) as SyncFileHandle;
    return (await readThroughHandle(file).catch(() => undefined)) ?? (await file.getFile()).arrayBuffer();
  }

  async prune(keep?: string): Promise<void> {
    const dir = await this.dir();
    const names: string[] = [];
    for await (const name of (dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    for (const name of names) if (name !== keep) await dir.removeEntry(name).catch(() => {});
  }
}

/**
 * The file's bytes through a read-only sync access handle: one read on this
 * thread from the file itself, where `getFile()` streams them through the
 * browser process (a 12 MB file in a profile on disk: 52–60 ms against
 * 74–148 ms; in a private window, whose OPFS lives in the browser process,
 * the handle is the slower). Read-only handles share their lock, so a reader
 * a torn-down Worker left open does not hold this one up; a handle not
 * granted soon (a writer holds it, or a browser without read-only handles
 * made it exclusive) leaves the read to `getFile()`, which takes no lock.
 */
async function readThroughHandle(file: SyncFileHandle): Promise<ArrayBuffer> {
  const handle = await openHandle(file, "read-only", READ_LOCK_WAIT_MS);
  try {
    const size = handle.getSize();
    const bytes = new Uint8Array(size);
    const n = handle.read(bytes, { at: 0 });
    if (n !== size) throw new Error(`read ${n} of ${size} bytes`);
    return bytes.buffer;
  } finally {
    handle.close();
  }
}

/** A sync access handle on `file`, or an error after `waitMs`; one granted later is closed, not left holding the lock. */
async function openHandle(file: SyncFileHandle, mode: "readwrite" | "read-only", waitMs: number): Promise<SyncAccessHandle> {
  const opening = file.createSyncAccessHandle({ mode });
  return withTimeout(opening, waitMs, () => {
    void opening.then((late) => late.close()).catch(() => {});
    return new Error(`OPFS file ${file.name} is locked`);
  });
}

/** How long a write waits for its new file's sync access handle. */
const LOCK_WAIT_MS = 2000;
/** How long a read waits for a read-only handle before it reads the file as a File. */
const READ_LOCK_WAIT_MS = 100;
