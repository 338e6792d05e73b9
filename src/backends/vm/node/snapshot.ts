/**
 * Saved guest states for warm starts. A state is only loadable by the same
 * guest image, v86 build and device set (a mismatch crashes v86), so each
 * state file has a JSON sidecar naming its fingerprint, size and digest,
 * and nothing is restored unless all three match. Two places are looked at:
 * vm-images/dist/snapshot.* (made by `npm run build:vm`, shared by every
 * user of a checkout; the npm packages ship none) and the user's cache
 * ($TSBOX_CACHE_DIR, $XDG_CACHE_HOME/tsbox, ~/.cache/tsbox:
 * vm/snapshot-<fingerprint hash>.*), written after a cold boot when the
 * first is missing or unusable.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { userCacheDir } from "../../../paths.js";
import type { SavedMachine } from "./machine.js";
import type { P9State } from "../core/p9/server.js";
import { fingerprintProblem, integrityProblem, type SnapshotRecord } from "../core/snapshot-check.js";

export interface SnapshotMeta extends SnapshotRecord {
  p9: P9State;
  created: string;
}

/** The user's vm cache dir: saved states, and `tsbox vm start`'s socket and status. */
export function userVmCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(userCacheDir(env), "vm");
}

/**
 * The user's saved state for a machine fingerprint (guest image, v86
 * version, devices): its name carries a hash of it, so another tsbox or v86
 * version finds no state (a cold boot, silently) instead of a mismatched one.
 */
export function userSnapshotPath(fingerprint: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(userVmCacheDir(env), `snapshot-${createHash("sha256").update(fingerprint).digest("hex").slice(0, 16)}.state`);
}

/** Deletes the user's saved states other than `keep` (each is ≈ 11 MB; one machine at a time is the common case). */
export function removeOtherSnapshots(keep: string): void {
  const dir = dirname(keep);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    // snapshot.state: the unkeyed name of tsbox 0.1.
    if (/^snapshot(-[0-9a-f]{16})?\.state$/.test(name) && join(dir, name) !== keep) removeSnapshot(join(dir, name));
  }
}

export function packagedSnapshotPath(imagesDir: string): string {
  return join(imagesDir, "snapshot.state");
}

export type LoadResult = { kind: "ok"; saved: SavedMachine } | { kind: "missing" } | { kind: "unusable"; reason: string };

/** Reads and checks a state; never throws. */
export function loadSnapshot(path: string, fingerprint: string): LoadResult {
  const metaPath = path + ".json";
  if (!existsSync(path) && !existsSync(metaPath)) return { kind: "missing" };
  let meta: SnapshotMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, "utf8")) as SnapshotMeta;
  } catch {
    return { kind: "unusable", reason: `${metaPath} is missing or not JSON` };
  }
  const mismatch = fingerprintProblem(meta, fingerprint);
  if (mismatch) return { kind: "unusable", reason: mismatch };
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return { kind: "unusable", reason: `${path} cannot be read` };
  }
  const corrupt = integrityProblem(meta, data.length, createHash("sha256").update(data).digest("hex"));
  if (corrupt) return { kind: "unusable", reason: corrupt };
  return { kind: "ok", saved: { state: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) as ArrayBuffer, p9: meta.p9 ?? { fids: [] } } };
}

/** Writes state + sidecar, each temp-then-rename, the sidecar last. */
export function writeSnapshot(path: string, fingerprint: string, saved: SavedMachine): void {
  mkdirSync(dirname(path), { recursive: true });
  const data = Buffer.from(saved.state);
  const meta: SnapshotMeta = {
    fingerprint,
    size: data.length,
    sha256: createHash("sha256").update(data).digest("hex"),
    p9: saved.p9,
    created: new Date().toISOString(),
  };
  // Drop the old sidecar first: a crash between the two renames leaves no
  // sidecar, never one that vouches for the wrong state.
  rmSync(path + ".json", { force: true });
  atomicWrite(path, data);
  atomicWrite(path + ".json", Buffer.from(JSON.stringify(meta, null, 2) + "\n"));
}

export function removeSnapshot(path: string): void {
  rmSync(path, { force: true });
  rmSync(path + ".json", { force: true });
}

function atomicWrite(path: string, data: Buffer): void {
  const temp = `${path}.writing-${process.pid}`;
  const fd = openSync(temp, "w", 0o644);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
