/**
 * A build step's image: the layer (a container's writable layer, or for a
 * `FROM scratch` stage's first files a tar made directly) on the stage's
 * image, with the stage's config and the history of the steps since the
 * last one, kept unnamed in the store under its cache key.
 */
import type { Writable } from "node:stream";
import { upperAsLayer } from "../containers/changes.js";
import { storeImageEntry, writeLayer } from "../image/commit-image.js";
import type { Runtime } from "../runtime.js";
import type { Stage } from "./builder.js";
import { withoutEmptyStubs } from "./mount-stubs.js";

type StepImage = { manifestDigest: string; configDigest: string };

/** The step's image of a container's writable layer, less `stubs` (RUN --mount's targets, mount-stubs.ts) left empty. */
export async function commitStep(rt: Runtime, stage: Stage, containerId: string, createdBy: string, annotations: Record<string, string>, signal?: AbortSignal, stubs: ReadonlySet<string> = new Set()): Promise<StepImage> {
  const files = await rt.containerFiles(containerId);
  return storeLayerStep(rt, stage, (tar) => upperAsLayer(files, tar, withoutEmptyStubs(stubs)), createdBy, annotations, signal);
}

/**
 * The step's image with the layer `produce` writes (a whole tar). `signal`
 * (the build's Ctrl-C) stops a large layer's write at once, its temp blob removed.
 */
export async function storeLayerStep(rt: Runtime, stage: Stage, produce: (tar: Writable) => Promise<void>, createdBy: string, annotations: Record<string, string>, signal?: AbortSignal): Promise<StepImage> {
  const layer = await writeLayer(rt.imageStore.layout, produce, signal);
  const stored = await storeImageEntry(rt.imageStore, {
    ...(stage.image ? { parentManifest: stage.image.manifestDigest } : {}),
    config: stage.config,
    layer,
    history: [...stage.pending, createdBy],
    platform: stage.platform,
    ...(stage.author ? { author: stage.author } : {}),
    annotations,
  });
  return { manifestDigest: stored.manifest.digest, configDigest: stored.id };
}
