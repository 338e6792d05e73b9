/**
 * Owners the guest gave files of a writable export that a 9p server run by
 * an unprivileged user cannot give on the host: a chown, and the owner of a
 * file that a container user other than the container's root made. Docker
 * Desktop's file sharing keeps them (in an xattr); without them a database
 * image's entrypoint — chown its volume, then drop to its user — fails on
 * macOS and Windows.
 *
 * One table per host directory, shared by every export of it (two
 * containers mounting one volume see each other's chowns). A volume's is
 * kept beside its data (`_data.owners`: the owner-notes format, in container
 * ids, so it reads alike whatever guest ids a later run maps them to),
 * written a moment after a change and when the last export of it goes; a
 * bind mount's lives while the directory is exported (a project's files
 * get no file of ours beside them).
 */
import { realpathSync } from "node:fs";
import type { IdMapping } from "../../../../spec/container-spec.js";
import { shownId, unmappedId } from "../../../../spec/mapped-ids.js";
import { ownerNotesOrNone, writeOwnerNotes } from "../../../../image/owner-notes.js";
import type { Owner } from "../../core/p9/server.js";

export interface GuestMaps {
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
}

/** How long a change waits before the table is written: a `chown -R` writes it once. */
const SAVE_DELAY_MS = 200;
/**
 * Owners kept per directory at most: a database's data dir holds thousands
 * of files; a container making millions of files of another owner would
 * otherwise grow the server's memory and each write of the table with them.
 * Past it a file shows the export's own owner.
 */
export const MAX_RECORDS = 200_000;

export class OwnerRecords {
  private readonly owners = new Map<string, Owner>();
  private timer: NodeJS.Timeout | undefined;

  /** `kept`: the guest's maps, to keep the table beside `dir` in container ids; undefined: in memory only. */
  constructor(
    readonly dir: string,
    private readonly kept: GuestMaps | undefined,
  ) {
    if (kept) for (const [path, owner] of notedGuestOwners(dir, kept).slice(0, MAX_RECORDS)) this.owners.set(path, owner);
  }

  get(rel: string): Owner | undefined {
    return this.owners.get(rel);
  }

  set(rel: string, owner: Owner): void {
    if (this.owners.size >= MAX_RECORDS && !this.owners.has(rel)) return;
    this.owners.set(rel, owner);
    this.changed();
  }

  delete(rel: string): void {
    if (this.owners.delete(rel)) this.changed();
  }

  /**
   * A rename: what was kept for `from` (and below it, a directory: a scan of
   * the table) is now for `to`; what `to` replaced is gone.
   */
  move(from: string, to: string, directory: boolean): void {
    const own = this.owners.get(from);
    const moving = directory ? [...this.owners].filter(([rel]) => rel === from || rel.startsWith(from + "/")) : own ? [[from, own] as const] : [];
    const replaced = this.owners.delete(to);
    if (moving.length === 0 && !replaced) return;
    for (const [rel] of moving) this.owners.delete(rel);
    for (const [rel, owner] of moving) this.owners.set(to + rel.slice(from.length), owner);
    this.changed();
  }

  /** Writes a pending change now. */
  flush(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.save();
  }

  private changed(): void {
    if (!this.kept || this.timer !== undefined) return;
    addPending(this);
    this.timer = setTimeout(() => this.flush(), SAVE_DELAY_MS);
    this.timer.unref();
  }

  private save(): void {
    pending.delete(this);
    const maps = this.kept!;
    const rows = [];
    for (const [path, o] of this.owners) {
      const uid = unmappedId(o.uid, maps.uidMappings);
      const gid = unmappedId(o.gid, maps.gidMappings);
      if (uid !== undefined && gid !== undefined) rows.push({ path, uid, gid });
    }
    try {
      writeOwnerNotes(this.dir, rows);
    } catch {
      // the volume is gone (removed while exported) or its disk full: the guest keeps its view
    }
  }
}

/** The owners noted beside `dir` (container ids), as the guest sees them through its maps. */
export function notedGuestOwners(dir: string, maps: GuestMaps): [string, Owner][] {
  return ownerNotesOrNone(dir).map((n) => [n.path, { uid: shownId(n.uid, maps.uidMappings), gid: shownId(n.gid, maps.gidMappings) }]);
}

/**
 * The table of `dir`, shared by its exports (by its real path): `release`
 * when the export goes; the last one out writes what is pending.
 */
export function acquireOwnerRecords(dir: string, kept: GuestMaps | undefined): { records: OwnerRecords; release(): void } {
  let key = dir;
  try {
    key = realpathSync(dir);
  } catch {
    // the server's own realpath of the export fails alike
  }
  const entry = tables.get(key) ?? { records: new OwnerRecords(dir, kept), users: 0 };
  tables.set(key, entry);
  entry.users++;
  let released = false;
  return {
    records: entry.records,
    release: () => {
      if (released) return;
      released = true;
      if (--entry.users > 0) return;
      tables.delete(key);
      entry.records.flush();
    },
  };
}

const tables = new Map<string, { records: OwnerRecords; users: number }>();

/** Tables with a write pending: a process that ends before their timer writes them on its way out. */
const pending = new Set<OwnerRecords>();
let exitHook = false;
function addPending(records: OwnerRecords): void {
  pending.add(records);
  if (exitHook) return;
  exitHook = true;
  process.on("exit", () => {
    for (const t of [...pending]) t.flush();
  });
}
