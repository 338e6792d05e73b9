/**
 * The JSON an image is made of — indexes, manifests, configs — comes from a
 * registry or an archive, so from anybody: checked for the shape the rest of
 * tsbox reads before it is stored (pull, load), so a hostile or broken one
 * is refused with what is wrong instead of a JavaScript TypeError later
 * ("imageEnv.forEach is not a function" at `run`).
 */
import { ImageError } from "../errors.js";
import { isDigest } from "./digest.js";
import { type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, MAX_CONFIG_BYTES } from "./oci.js";

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);
const isStringList = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
const absent = (v: unknown) => v === undefined || v === null;

function descriptor(d: unknown): d is Descriptor {
  return isObject(d) && typeof d.mediaType === "string" && typeof d.digest === "string" && isDigest(d.digest) && Number.isSafeInteger(d.size) && (d.size as number) >= 0;
}

export function checkIndex(value: unknown, what: string): ImageIndex {
  if (!isObject(value) || !Array.isArray(value.manifests) || !value.manifests.every(descriptor)) {
    throw new ImageError(`${what}: malformed index (expected "manifests": a list of descriptors with mediaType, digest and size)`);
  }
  return value as unknown as ImageIndex;
}

export function checkManifest(value: unknown, what: string): ImageManifest {
  if (!isObject(value) || !descriptor(value.config) || !Array.isArray(value.layers) || !value.layers.every(descriptor)) {
    throw new ImageError(`${what}: malformed manifest (expected a config descriptor and a list of layer descriptors)`);
  }
  return value as unknown as ImageManifest;
}

/**
 * One diff_id per layer, which the unpack verifies each layer against: a manifest and config that disagree are
 * refused where the image arrives (pull, load), not at its first run.
 */
export function checkDiffIds(manifest: { layers: unknown[] }, config: ImageConfig, what: string): void {
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== manifest.layers.length) throw new ImageError(`${what}: the manifest lists ${manifest.layers.length} layers but its config ${diffIds.length} diff_ids`);
}

/** What `run`, `inspect`, `history` and the builder read of a config, each of the type they read it as. */
export function checkConfig(value: unknown, what: string): ImageConfig {
  const bad = (field: string, expected: string) => new ImageError(`${what}: malformed image config (${field} must be ${expected})`);
  if (!isObject(value)) throw bad("the config", "a JSON object");
  if (typeof value.os !== "string" || typeof value.architecture !== "string") throw bad("os and architecture", "strings");
  if (!absent(value.variant) && typeof value.variant !== "string") throw bad("variant", "a string");
  const rootfs = value.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids) || !rootfs.diff_ids.every((d) => typeof d === "string" && isDigest(d))) throw bad("rootfs.diff_ids", "a list of sha256 digests");
  if (!absent(value.history) && !(Array.isArray(value.history) && value.history.every(isObject))) throw bad("history", "a list of objects");
  const run = value.config;
  if (!absent(run)) {
    if (!isObject(run)) throw bad("config", "an object");
    for (const key of ["Env", "Entrypoint", "Cmd"]) if (!absent(run[key]) && !isStringList(run[key])) throw bad(`config.${key}`, "a list of strings");
    for (const key of ["User", "WorkingDir", "StopSignal"]) if (!absent(run[key]) && typeof run[key] !== "string") throw bad(`config.${key}`, "a string");
    for (const key of ["Labels", "ExposedPorts", "Volumes"]) if (!absent(run[key]) && !isObject(run[key])) throw bad(`config.${key}`, "an object");
    const labels = run.Labels;
    if (isObject(labels) && !Object.values(labels).every((l) => typeof l === "string")) throw bad("config.Labels", "an object of strings");
  }
  return value as unknown as ImageConfig;
}

/**
 * A config over MAX_CONFIG_BYTES is refused from its descriptor: before a pull fetches it, before a load copies it,
 * and when any image is named in the store (every later `images` and `run` reads it whole).
 */
export function checkConfigSize(config: Descriptor | undefined, what: string): void {
  if (!(config !== undefined && config.size <= MAX_CONFIG_BYTES)) throw new ImageError(`${what}: its config is ${config?.size} bytes, more than ${MAX_CONFIG_BYTES}`);
}
