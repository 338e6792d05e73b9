/**
 * The subordinate ranges a rootless data dir's files were made with (`id-maps.json`), so a changed range
 * (an administrator re-allocated /etc/subuid, a home copied to a machine where useradd gave another) is said
 * instead of showing only as files owned by `nobody` and removals that fail: ids are stored shifted by the
 * range's start, which no later range maps back.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HostIdentity, type IdRange, listedRanges } from "../spec/id-mappings.js";

interface Recorded {
  subuid: IdRange | null;
  subgid: IdRange | null;
}

const FILE = "id-maps.json";

/** Records the current ranges when the data dir has none recorded; what changed since, if anything. */
export function noteIdMaps(dataDir: string, host: HostIdentity): string | undefined {
  if (host.uid === 0) return undefined;
  const recorded = readRecord(dataDir);
  if (recorded) return describeChange(dataDir, recorded, host);
  try {
    writeFileSync(join(dataDir, FILE), JSON.stringify({ subuid: host.subuid ?? null, subgid: host.subgid ?? null } satisfies Recorded) + "\n", { flag: "wx" });
  } catch {
    // another process wrote it first, or the data dir is not ours to write: nothing to compare with then
  }
  return undefined;
}

/** What changed since the data dir's files were made (read only: `info`, a failed removal). */
export function idMapsChange(dataDir: string, host: HostIdentity): string | undefined {
  const recorded = host.uid === 0 ? undefined : readRecord(dataDir);
  return recorded && describeChange(dataDir, recorded, host);
}

/** Whether the data dir's files were ever made with a subordinate range (only then can they hold ids the user's own uid cannot delete). */
export function madeWithRange(dataDir: string): boolean {
  const recorded = readRecord(dataDir);
  return Boolean(recorded?.subuid || recorded?.subgid);
}

function readRecord(dataDir: string): Recorded | undefined {
  try {
    return JSON.parse(readFileSync(join(dataDir, FILE), "utf8")) as Recorded;
  } catch {
    return undefined;
  }
}

/** Against the ranges /etc/subuid and /etc/subgid list now: helpers that are missing change no range (info says that). */
function describeChange(dataDir: string, was: Recorded, host: HostIdentity): string | undefined {
  const now = host.subuid ? host : listedRanges(host.uid);
  // The same start and at least as many ids: every stored id maps back as before.
  const kept = (old: IdRange | null, now: IdRange | undefined) => !old || (now !== undefined && now.start === old.start && now.count >= old.count);
  if (kept(was.subuid, now.subuid) && kept(was.subgid, now.subgid)) return undefined;
  const shown = (r: IdRange | null | undefined) => (r ? `${r.start}+${r.count}` : "none");
  return (
    `this data dir (${dataDir}) was made with subordinate ids ${shown(was.subuid)} (gids ${shown(was.subgid)}); now they are ${shown(now.subuid)} (gids ${shown(now.subgid)}): ` +
    `image and container files of ids outside show as nobody and cannot be changed or removed; restore the range in /etc/subuid and /etc/subgid, or have root delete ${dataDir} (tsbox makes a new one)`
  );
}
