/**
 * Ids through user-namespace mappings, and ids as JSON carries them: pure
 * arithmetic, for Node and the browser alike.
 */
import type { IdMapping } from "./container-spec.js";

/** What a kernel shows for an id no mapping reaches (overflowuid, overflowgid). */
export const OVERFLOW_ID = 65534;

/** The host id (a vm container's: the guest's) a container id maps to; undefined where no mapping reaches it. */
export function mappedId(id: number, maps: IdMapping[]): number | undefined {
  const m = maps.find((r) => id >= r.containerID && id < r.containerID + r.size);
  return m ? m.hostID + (id - m.containerID) : undefined;
}

/** The container id a host id (a vm container's: a guest id) is, through the mappings; undefined where none reaches it. */
export function unmappedId(id: number, maps: IdMapping[]): number | undefined {
  const m = maps.find((r) => id >= r.hostID && id < r.hostID + r.size);
  return m ? m.containerID + (id - m.hostID) : undefined;
}

/** `mappedId`, or the overflow id where no mapping reaches it: the id a file of that owner is shown with. */
export function shownId(id: number, maps: IdMapping[]): number {
  return mappedId(id, maps) ?? OVERFLOW_ID;
}

/** A 32-bit id (a file's owner) in a document read back: an integer in 0..2^32-1. */
export function isId32(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 0xffffffff;
}
