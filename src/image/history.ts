/**
 * `tsbox history`: an image's config history, newest first, each step with
 * the size of the layer it made (0 for metadata steps). Only the newest row
 * has an image id of its own; docker shows `<missing>` for the others.
 */
import type { Descriptor, ImageConfig, Platform } from "./oci.js";
import { type ImageStore, layerTarSize, type StoredImage } from "./store.js";

export interface HistoryRow {
  id: string | null;
  created: string | null;
  createdBy: string;
  /** The layer's size unpacked (docker's and podman's figure, as `images` counts); 0 for a step that made none. */
  size: number;
  comment: string;
}

export async function imageHistory(store: ImageStore, ref: string, platform?: Platform): Promise<HistoryRow[]> {
  let image: StoredImage;
  try {
    image = await store.getImage(ref, platform);
  } catch (err) {
    if (platform) throw err;
    // Another platform's image: the one the name has (as inspect shows it).
    const other = await store.defaultPlatformOf(ref).catch(() => undefined);
    if (!other) throw err;
    image = await store.getImage(ref, other);
  }
  const layers = image.manifest.layers;
  const history: NonNullable<ImageConfig["history"]> = image.config.history ?? layers.map(() => ({}));
  let next = 0;
  const unpackedSize = (layer: Descriptor | undefined) => (layer ? layerTarSize(store.layout, layer) : 0);
  const rows: HistoryRow[] = history.map((h) => ({
    id: null,
    created: h.created ?? null,
    createdBy: h.created_by ?? "",
    size: h.empty_layer ? 0 : unpackedSize(layers[next++]),
    comment: h.comment ?? "",
  }));
  rows.reverse();
  if (rows[0]) rows[0].id = image.configDigest;
  return rows;
}
