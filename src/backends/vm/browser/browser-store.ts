/**
 * What a browser keeps across reloads, in IndexedDB (one database, three
 * object stores): `blobs` (image blobs by digest, checked before they are
 * put), `images` (name → the image's manifest digest, config and layer
 * descriptors) and `states` (the guest's saved state with its sidecar).
 * IndexedDB transactions are all-or-nothing, which gives the store's rule
 * (temp-then-rename on disk) for free: an image record and its blobs land
 * together or not at all. Without IndexedDB (or with `database: null`) the
 * same store lives in memory for the page's lifetime.
 */
import type { Descriptor, ImageConfig } from "../../../image/oci.js";
import type { LinkNumbering } from "../core/agent-protocol.js";
import type { P9State } from "../core/p9/server.js";
import type { StandbyRecord } from "./standby.js";
import { openStateFiles, type StateFiles } from "./state-files.js";

export interface StoredImage {
  /** Canonical name, e.g. docker.io/library/busybox:latest. */
  name: string;
  manifestDigest: string;
  config: ImageConfig;
  configDigest: string;
  layers: Descriptor[];
  created: string | null;
}

export interface StoredState {
  /** Of the guest image, v86 build, memory and command line (guest-machine.ts fingerprintOf). */
  fingerprint: string;
  size: number;
  sha256: string;
  p9: P9State;
  state: ArrayBuffer;
  /** Saved while containers ran: the link's numbering then, the standby to take and the containers to delete. */
  link?: LinkNumbering;
  standby?: StandbyRecord;
  orphans?: string[];
}

const STORES = ["blobs", "images", "states"] as const;
type StoreName = (typeof STORES)[number];
const GUEST_STATE = "guest";

export interface BrowserStore {
  /** Kept for the next visit (IndexedDB); false: in this worker's memory only (no database, or the page's storage refused). */
  readonly persistent: boolean;
  getBlob(digest: string): Promise<Uint8Array | undefined>;
  /** The image and its blobs, in one transaction. */
  putImage(image: StoredImage, blobs: Map<string, Uint8Array>): Promise<void>;
  getImage(name: string): Promise<StoredImage | undefined>;
  listImages(): Promise<StoredImage[]>;
  /** Forgets the name; blobs no other image uses go with it. */
  deleteImage(name: string): Promise<void>;
  getState(): Promise<StoredState | undefined>;
  putState(state: StoredState): Promise<void>;
  deleteState(): Promise<void>;
  /** Everything, the database included. */
  clear(): Promise<void>;
}

export async function openBrowserStore(database: string | null): Promise<BrowserStore> {
  if (database === null || typeof indexedDB === "undefined") return new MemoryStore();
  return IdbStore.open(database);
}

/** The states store's record: the state's bytes as a Blob in it, or in the OPFS file it names (state-files.ts). */
type StateRecord = Omit<StoredState, "state"> & { state?: Blob | ArrayBuffer; file?: string };

class IdbStore implements BrowserStore {
  readonly persistent = true;

  /** The open connection; undefined once another tab's deletion closed it (opened again on the next use). */
  private db: Promise<IDBDatabase> | undefined;

  private constructor(
    private readonly name: string,
    private readonly files: StateFiles | undefined,
  ) {}

  static async open(name: string): Promise<IdbStore> {
    const store = new IdbStore(name, await openStateFiles(name));
    await store.connection();
    return store;
  }

  private connection(): Promise<IDBDatabase> {
    return (this.db ??= IdbStore.openDb(this.name).then(
      (db) => {
        // Another tab's clearStorage deletes the database: a connection held open would block that deletion
        // (and, behind it, every tab's open) until this tab closed. Let it go, and open again when next used.
        db.onversionchange = () => {
          db.close();
          this.db = undefined;
        };
        return db;
      },
      (err: unknown) => {
        this.db = undefined;
        throw err;
      },
    ));
  }

  private static async openDb(name: string): Promise<IDBDatabase> {
    const req = indexedDB.open(name, 1);
    req.onupgradeneeded = () => {
      for (const store of STORES) if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store);
    };
    return request(req);
  }

  async getBlob(digest: string): Promise<Uint8Array | undefined> {
    const value = await this.get<ArrayBuffer>("blobs", digest);
    return value === undefined ? undefined : new Uint8Array(value);
  }

  putImage(image: StoredImage, blobs: Map<string, Uint8Array>): Promise<void> {
    return this.write(["blobs", "images"], (tx) => {
      for (const [digest, bytes] of blobs) tx.objectStore("blobs").put(copyOf(bytes), digest);
      tx.objectStore("images").put(image, image.name);
    });
  }

  getImage(name: string): Promise<StoredImage | undefined> {
    return this.get<StoredImage>("images", name);
  }

  async listImages(): Promise<StoredImage[]> {
    const tx = (await this.connection()).transaction("images", "readonly");
    return request(tx.objectStore("images").getAll() as IDBRequest<StoredImage[]>);
  }

  async deleteImage(name: string): Promise<void> {
    const images = await this.listImages();
    const gone = images.find((i) => i.name === name);
    if (!gone) return;
    const stillUsed = new Set(images.filter((i) => i.name !== name).flatMap(blobDigests));
    await this.write(["blobs", "images"], (tx) => {
      tx.objectStore("images").delete(name);
      for (const digest of blobDigests(gone)) if (!stillUsed.has(digest)) tx.objectStore("blobs").delete(digest);
    });
  }

  // The state's bytes go to an OPFS file where a sync access handle can
  // write it (in the Worker: state-files.ts), else into the record as a
  // Blob, which Chromium reads back 2.5x faster than the same ArrayBuffer
  // (that one is deserialized from the record on the reading thread). Not
  // gzip'd: a quarter of the bytes, but DecompressionStream inflates them
  // slower than the bytes saved read (docs/architecture.md).
  async getState(): Promise<StoredState | undefined> {
    const record = await this.get<StateRecord>("states", GUEST_STATE);
    if (!record) return undefined;
    const { file, state, ...rest } = record;
    if (file !== undefined) {
      if (!this.files) return undefined;
      return { ...rest, state: await this.files.read(file) };
    }
    if (state === undefined) return undefined;
    return { ...rest, state: state instanceof Blob ? await state.arrayBuffer() : state };
  }

  async putState(state: StoredState): Promise<void> {
    if (this.files) {
      // The file first, then the record that names it; older files go after.
      const file = await this.files.write(`state-${state.sha256.slice(0, 16)}`, state.state);
      const { state: _bytes, ...rest } = state;
      await this.write(["states"], (tx) => tx.objectStore("states").put({ ...rest, file } satisfies StateRecord, GUEST_STATE));
      await this.files.prune(file);
      return;
    }
    await this.write(["states"], (tx) => tx.objectStore("states").put({ ...state, state: new Blob([state.state]) } satisfies StateRecord, GUEST_STATE));
    // A page closed right after the put's transaction completed has left a
    // blob Chromium could not read ("the requested file could not be read")
    // at the next visit; reading its last byte back first has not.
    const record = await this.get<StateRecord>("states", GUEST_STATE);
    if (record?.state instanceof Blob && record.state.size > 0) await record.state.slice(record.state.size - 1).arrayBuffer();
  }

  async deleteState(): Promise<void> {
    await this.write(["states"], (tx) => tx.objectStore("states").delete(GUEST_STATE));
    await this.files?.prune();
  }

  async clear(): Promise<void> {
    // Emptied first: a deletion another tab's open connection blocks still leaves nothing behind.
    await this.write([...STORES], (tx) => STORES.forEach((s) => tx.objectStore(s).clear()));
    const db = this.db;
    this.db = undefined;
    (await db)?.close();
    await deleteDatabase(this.name).catch(() => {});
    await this.files?.prune();
  }

  private async get<T>(store: StoreName, key: string): Promise<T | undefined> {
    const tx = (await this.connection()).transaction(store, "readonly");
    return (await request(tx.objectStore(store).get(key))) as T | undefined;
  }

  private async write(stores: StoreName[], fill: (tx: IDBTransaction) => void): Promise<void> {
    const db = await this.connection();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(stores, "readwrite");
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(storageError(tx.error));
      tx.onabort = () => reject(storageError(tx.error));
      fill(tx);
    });
  }
}

class MemoryStore implements BrowserStore {
  readonly persistent = false;
  private readonly blobs = new Map<string, Uint8Array>();
  private readonly images = new Map<string, StoredImage>();
  private state: StoredState | undefined;

  async getBlob(digest: string): Promise<Uint8Array | undefined> {
    return this.blobs.get(digest);
  }

  async putImage(image: StoredImage, blobs: Map<string, Uint8Array>): Promise<void> {
    for (const [d, b] of blobs) this.blobs.set(d, b);
    this.images.set(image.name, image);
  }

  async getImage(name: string): Promise<StoredImage | undefined> {
    return this.images.get(name);
  }

  async listImages(): Promise<StoredImage[]> {
    return [...this.images.values()];
  }

  async deleteImage(name: string): Promise<void> {
    const gone = this.images.get(name);
    if (!gone) return;
    this.images.delete(name);
    const stillUsed = new Set([...this.images.values()].flatMap(blobDigests));
    for (const d of blobDigests(gone)) if (!stillUsed.has(d)) this.blobs.delete(d);
  }

  async getState(): Promise<StoredState | undefined> {
    return this.state;
  }

  async putState(state: StoredState): Promise<void> {
    this.state = state;
  }

  async deleteState(): Promise<void> {
    this.state = undefined;
  }

  async clear(): Promise<void> {
    this.blobs.clear();
    this.images.clear();
    this.state = undefined;
  }
}

function blobDigests(image: StoredImage): string[] {
  return [image.manifestDigest, image.configDigest, ...image.layers.map((l) => l.digest)];
}

/** Exactly the bytes of the view (a subarray must not store its whole buffer). */
function copyOf(bytes: Uint8Array): ArrayBuffer {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? (bytes.buffer as ArrayBuffer) : (bytes.slice().buffer as ArrayBuffer);
}

/**
 * Deletes the database; resolves once it is gone, or once only connections
 * that ignore the deletion hold it (a tab of an older tsbox): it is then
 * deleted when they close, and the stores were emptied before.
 */
function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onblocked = () => resolve();
    req.onerror = () => reject(storageError(req.error));
  });
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(storageError(req.error));
  });
}

function storageError(err: DOMException | null): Error {
  return new Error(`browser storage (IndexedDB) failed: ${err?.message ?? "unknown error"}`);
}
