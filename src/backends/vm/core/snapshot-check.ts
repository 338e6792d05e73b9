/**
 * When a saved guest state may be handed to v86 (a state from another
 * machine crashes it): its record names the fingerprint of this guest
 * image, v86 build, memory and command line (guest-machine.ts
 * fingerprintOf), and the state's size and SHA-256 match the record. Pure:
 * Node (snapshot.ts, node:crypto) and the browser Worker (WebCrypto, its
 * stored and served states) hash with their own tools and ask here.
 */
import type { LinkNumbering } from "./agent-protocol.js";
import type { P9State } from "./p9/server.js";

/** The JSON sidecar of a state file (Node), or the record beside a state in IndexedDB (browser). */
export interface SnapshotRecord {
  fingerprint: string;
  size: number;
  sha256: string;
  p9?: P9State;
  /** Saved with containers running (the playground's served snapshot, web/snapshot.ts): the link's numbering then, */
  link?: LinkNumbering;
  /** the container started ahead (browser/standby.ts, as JSON), and the containers a restore deletes. */
  standby?: unknown;
  orphans?: string[];
}

/** Why a state made for `record.fingerprint` cannot be restored by a guest with `fingerprint`; undefined: it can. */
export function fingerprintProblem(record: Pick<SnapshotRecord, "fingerprint">, fingerprint: string): string | undefined {
  return record.fingerprint === fingerprint ? undefined : "it was made by another guest image, emulator version or device set";
}

/**
 * Why a state of `size` bytes with this SHA-256 (hex) is not the one its
 * record vouches for; undefined: it is. `sha256` undefined checks the size
 * only: for a state its keeper checked before storing it with its record in
 * one write (the browser's IndexedDB), where hashing it again on every start
 * would cost more than the rest of the read.
 */
export function integrityProblem(record: Pick<SnapshotRecord, "size" | "sha256">, size: number, sha256: string | undefined): string | undefined {
  return size === record.size && (sha256 === undefined || sha256 === record.sha256) ? undefined : "it is corrupt (size or digest differs from its record)";
}
