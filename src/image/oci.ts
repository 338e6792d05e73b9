/**
 * The OCI image-spec (and docker v2 schema 2) documents tsbox reads and
 * writes. Only fields tsbox uses are typed; unknown fields are preserved
 * because documents are stored and hashed byte for byte.
 */

export const MediaType = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayerTar: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

export const Annotation = {
  /** Tag (or full name) of a manifest inside an OCI layout's index.json. */
  refName: "org.opencontainers.image.ref.name",
  /** Full image name, as containerd/nerdctl write it into OCI archives. */
  imageName: "io.containerd.image.name",
  /** tsbox's, on a platform manifest in the store: digest of the registry index it was chosen from. */
  sourceIndex: "dev.tsbox.image.index.digest",
} as const;

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

/** The runtime defaults an image carries (`config` in the image config). */
export interface ImageRunConfig {
  User?: string;
  Env?: string[] | null;
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  WorkingDir?: string;
  Labels?: Record<string, string> | null;
  StopSignal?: string;
  /** `{"80/tcp": {}}`: what `run -P` publishes. */
  ExposedPorts?: Record<string, unknown> | null;
  /** `{"/data": {}}`: the image's VOLUME paths. */
  Volumes?: Record<string, unknown> | null;
  /** HEALTHCHECK: docker's HealthConfig (containers/healthcheck.ts). */
  Healthcheck?: unknown;
}

/** The image's VOLUME paths (none when the config's `Volumes` is not an object). */
export function imageVolumePaths(config: ImageConfig): string[] {
  const volumes = config.config?.Volumes;
  return volumes && typeof volumes === "object" && !Array.isArray(volumes) ? Object.keys(volumes) : [];
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config?: ImageRunConfig;
  rootfs: { type: "layers"; diff_ids: string[] };
  history?: { created?: string; created_by?: string; comment?: string; empty_layer?: boolean }[];
}

/** The blobs of one image: its manifest's, its config's and its layers' (what a reader of the whole image holds). */
export function imageBlobDigests(manifestDigest: string, manifest: ImageManifest): string[] {
  return [manifestDigest, manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
}

export function isManifestMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociManifest || mediaType === MediaType.dockerManifest;
}

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

/** An image config: read whole by every later `images` and `run`, so capped as containers/image caps it (4 MiB). */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
