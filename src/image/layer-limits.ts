import { LayerError } from "../errors.js";

/**
 * Bounds on what one compressed layer (or archive) may expand to: the disk
 * it fills and the work a small blob can cause. A ratio is checked only past
 * `ratioFloor`, so small layers of zeros never trip it; gzip cannot exceed
 * about 1032:1, so the default ratio bites only a layer of GiBs that is
 * almost all zeros (the shape of a bomb) or a zstd one.
 */
export interface LayerLimits {
  /** Uncompressed bytes at most (TSBOX_MAX_LAYER_SIZE, e.g. "64G"). */
  maxBytes: number;
  /** Uncompressed ÷ compressed at most (TSBOX_MAX_LAYER_RATIO). */
  maxRatio: number;
  /** Uncompressed bytes below which the ratio is not checked. */
  ratioFloor: number;
  /**
   * Tar entries at most (TSBOX_MAX_LAYER_ENTRIES): the unpack keeps a few hundred bytes for each (rootless, every
   * path's owner), and a layer of millions of empty files is a few MB of gzip that ran Node out of memory.
   */
  maxEntries: number;
}

const GiB = 2 ** 30;
// 2M entries: ≈ 1 GB of the unpack's notes at worst; the largest real layers hold a few hundred thousand files.
export const DEFAULT_LAYER_LIMITS: LayerLimits = { maxBytes: 64 * GiB, maxRatio: 1000, ratioFloor: GiB, maxEntries: 2_000_000 };

/** The limits, with TSBOX_MAX_LAYER_SIZE, TSBOX_MAX_LAYER_ENTRIES and TSBOX_MAX_LAYER_RATIO from `env`. */
export function layerLimits(env: NodeJS.ProcessEnv = process.env): LayerLimits {
  const limits = { ...DEFAULT_LAYER_LIMITS };
  const size = env.TSBOX_MAX_LAYER_SIZE?.trim();
  if (size) {
    const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(size);
    if (!m) throw new LayerError(`invalid TSBOX_MAX_LAYER_SIZE "${size}": give bytes, optionally with K, M, G or T`);
    limits.maxBytes = Math.floor(Number(m[1]) * 1024 ** " kmgt".indexOf((m[2] || " ").toLowerCase()));
  }
  const entries = env.TSBOX_MAX_LAYER_ENTRIES?.trim();
  if (entries) {
    if (!/^\d+$/.test(entries) || Number(entries) < 1) throw new LayerError(`invalid TSBOX_MAX_LAYER_ENTRIES "${entries}": give a whole number of entries`);
    limits.maxEntries = Number(entries);
  }
  const ratio = env.TSBOX_MAX_LAYER_RATIO?.trim();
  if (ratio) {
    const n = Number(ratio);
    if (!(n > 0)) throw new LayerError(`invalid TSBOX_MAX_LAYER_RATIO "${ratio}": give a positive number`);
    limits.maxRatio = n;
  }
  return limits;
}

