/**
 * The saved guest state's bytes in the origin private file system (OPFS),
 * read and written through a sync access handle (dedicated Workers only):
 * one read() straight into memory, where IndexedDB hands a Blob back through
 * the browser's blob pipes (a 14 MB state: ≈ 0.4–0.6 s against ≈ 20 ms,
 * docs/architecture.md). Files are named by the state's digest and written
 * before the IndexedDB record that names them (browser-store.ts), so a record
 * never names a half-written file; a file no record names is pruned.
 */

/** The part of FileSystemSyncAccessHandle used here (lib.dom does not declare it). */
interface SyncAccessHandle {
  getSize(): number;
  read(buffer: Uint8Array, options: { at: number }): number;
  write(buffer: Uint8Array, options: { at: number }): number;
  truncate(size: number): void;
  flush(): void;
  close(): void;
}

type SyncFileHandle = FileSystemFileHandle & { createSyncAccessHandle(): Promise<SyncAccessHandle> };

export interface StateFiles {
  /** Writes `bytes` as `name` (kept as it is when a file of that name and size is there: names are digests). */
  write(name: string, bytes: ArrayBuffer): Promise<void>;
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
    const root = await storage.getDirectory();
    return new OpfsStateFiles(await root.getDirectoryHandle(stateFilesDir(database), { create: true }));
  } catch {
    return undefined;
  }
}

class OpfsStateFiles implements StateFiles {
  constructor(private readonly dir: FileSystemDirectoryHandle) {}

  async write(name: string, bytes: ArrayBuffer): Promise<void> {
    const handle = await this.open(name, true);
    try {
      if (handle.getSize() === bytes.byteLength) return;
      handle.truncate(0);
      const n = handle.write(new Uint8Array(bytes), { at: 0 });
      if (n !== bytes.byteLength) throw new Error(`wrote ${n} of ${bytes.byteLength} bytes`);
      handle.flush();
    } finally {
      handle.close();
    }
  }

  async read(name: string): Promise<ArrayBuffer> {
    const handle = await this.open(name, false);
    try {
      const buf = new Uint8Array(handle.getSize());
      const n = handle.read(buf, { at: 0 });
      if (n !== buf.length) throw new Error(`read ${n} of ${buf.length} bytes`);
      return buf.buffer;
    } finally {
      handle.close();
    }
  }

  async prune(keep?: string): Promise<void> {
    const names: string[] = [];
    for await (const name of (this.dir as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(name);
    for (const name of names) if (name !== keep) await this.dir.removeEntry(name).catch(() => {});
  }

  private async open(name: string, create: boolean): Promise<SyncAccessHandle> {
    const file = (await this.dir.getFileHandle(name, { create })) as SyncFileHandle;
    return file.createSyncAccessHandle();
  }
}
