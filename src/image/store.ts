import { ImageError, TsboxError } from "../errors.js";
import { isErrno } from "../fs-util.js";
import { embeddedLayouts } from "./embedded.js";
import { OciLayout } from "./layout.js";
import {
  Annotation,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isIndexMediaType,
  isManifestMediaType,
  type Platform,
} from "./oci.js";
import { formatPlatform, hostPlatform, platformMatches } from "./platform.js";
import { canonicalName, familiarName, type ImageReference, parseReference } from "./reference.js";

/** An image ready to run: its manifest and config, read from the store. */
export interface StoredImage {
  /** Canonical name, e.g. `docker.io/library/busybox:latest`. */
  name: string;
  manifestDigest: string;
  manifest: ImageManifest;
  configDigest: string;
  config: ImageConfig;
}

export interface ImageSummary {
  /** Familiar name, e.g. `busybox:latest`. */
  name: string;
  repository: string;
  tag: string | null;
  manifestDigest: string;
  /** Config digest: docker's "IMAGE ID". */
  id: string;
  created: string | null;
  /** Compressed size of config + layers. */
  size: number;
  platform: string;
}

export interface ImageStoreOptions {
  /** Layouts to import from when an image is missing; default: the package's images/. */
  fallbackLayouts?: () => OciLayout[];
  platform?: Platform;
}

/**
 * The user's images: an OCI layout in the data dir whose index.json names
 * each manifest by its canonical reference (`ref.name` annotation).
 * Registry pulls and archive loads will land here through `importImage`.
 */
export class ImageStore {
  readonly layout: OciLayout;
  private readonly fallbackLayouts: () => OciLayout[];
  private readonly platform: Platform;

  constructor(dir: string, options: ImageStoreOptions = {}) {
    this.layout = new OciLayout(dir);
    this.fallbackLayouts = options.fallbackLayouts ?? (() => embeddedLayouts());
    this.platform = options.platform ?? hostPlatform();
  }

  /** Resolves a user-typed reference to a runnable image, importing an embedded one if needed. */
  async getImage(input: string): Promise<StoredImage> {
    const image = await this.findImage(input);
    if (!image) throw new TsboxError(`image not found: ${IMAGE_ID_RE.test(input) ? input : familiarName(parseReference(input))}`, { code: "image" });
    return image;
  }

  /** Like getImage, but undefined when neither the store nor an embedded layout has it. */
  async findImage(input: string): Promise<StoredImage | undefined> {
    if (IMAGE_ID_RE.test(input)) {
      const byId = await this.findById(input.replace(/^sha256:/, ""));
      if (byId) return byId;
    }
    const ref = parseReference(input);
    const descriptor = findInIndex(await this.layout.readIndex(), ref) ?? (await this.importFromFallback(ref));
    if (!descriptor) return undefined;
    return this.readImage(this.layout, descriptor, canonicalName(ref));
  }

  /**
   * An image by (a unique prefix of) its id, the config digest, as docker
   * takes one: images `commit` and `import` made without a name have only that.
   */
  private async findById(hex: string): Promise<StoredImage | undefined> {
    const found: StoredImage[] = [];
    for (const d of (await this.layout.readIndex()).manifests) {
      const image = await this.readImage(this.layout, d, d.annotations?.[Annotation.refName] ?? `sha256:${hex}`).catch(() => undefined);
      if (image?.configDigest.startsWith(`sha256:${hex}`) && !found.some((f) => f.manifestDigest === image.manifestDigest)) found.push(image);
    }
    if (found.length > 1) throw new ImageError(`image id prefix ${hex} is ambiguous`);
    return found[0];
  }

  /** The index.json entry that names `input` (a manifest, or an index for multi-platform loads). */
  async findDescriptor(input: string): Promise<Descriptor | undefined> {
    return findInIndex(await this.layout.readIndex(), parseReference(input));
  }

  async listImages(): Promise<ImageSummary[]> {
    const index = await this.layout.readIndex();
    const out: ImageSummary[] = [];
    for (const d of index.manifests) {
      const refName = d.annotations?.[Annotation.refName];
      if (refName === undefined) continue;
      let ref: ImageReference;
      try {
        ref = parseReference(refName);
      } catch {
        continue;
      }
      try {
        const image = await this.readImage(this.layout, d, refName);
        const familiar = familiarName({ ...ref, tag: undefined, digest: undefined } as ImageReference);
        out.push({
          name: familiarName(ref),
          repository: familiar,
          tag: ref.tag ?? null,
          manifestDigest: image.manifestDigest,
          id: image.configDigest,
          created: image.config.created ?? null,
          size: image.manifest.config.size + image.manifest.layers.reduce((sum, l) => sum + l.size, 0),
          platform: formatPlatform(image.config),
        });
      } catch (err) {
        if (!(err instanceof ImageError)) throw err;
      }
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Gives the image named `source` a second name `target` (replacing what `target` named). */
  async tag(source: string, target: string): Promise<string> {
    const image = await this.getImage(source);
    const descriptor = (await this.findDescriptor(source)) ?? { mediaType: image.manifest.mediaType ?? "", digest: image.manifestDigest, size: 0 };
    const name = canonicalName(parseReference(target));
    const { annotations: _old, ...rest } = descriptor;
    const keep = Object.fromEntries(Object.entries(descriptor.annotations ?? {}).filter(([k]) => k !== Annotation.refName && k !== Annotation.imageName));
    await this.layout.tag(name, rest, { ...keep, [Annotation.imageName]: name });
    return name;
  }

  /**
   * What `tsbox inspect` shows of an image: docker's image inspect shape
   * (plus `Digest`, the manifest digest this store names).
   */
  async inspect(input: string): Promise<Record<string, unknown>> {
    const image = await this.getImage(input);
    const refs: ImageReference[] = [];
    for (const d of (await this.layout.readIndex()).manifests) {
      const n = d.annotations?.[Annotation.refName];
      if (n && d.digest === image.manifestDigest) refs.push(parseReference(n));
    }
    const run = image.config.config ?? {};
    return {
      Id: image.configDigest,
      RepoTags: refs.map(familiarName).sort(),
      RepoDigests: [...new Set(refs.map((r) => `${familiarName({ ...r, tag: undefined, digest: undefined } as ImageReference)}@${image.manifestDigest}`))].sort(),
      Parent: "",
      Comment: image.config.history?.[image.config.history.length - 1]?.comment ?? "",
      Created: image.config.created ?? null,
      DockerVersion: "",
      Author: (image.config as { author?: string }).author ?? "",
      Config: {
        Hostname: "",
        Domainname: "",
        User: run.User ?? "",
        Env: run.Env ?? null,
        Cmd: run.Cmd ?? null,
        Image: "",
        Volumes: (run as { Volumes?: unknown }).Volumes ?? null,
        WorkingDir: run.WorkingDir ?? "",
        Entrypoint: run.Entrypoint ?? null,
        OnBuild: null,
        Labels: run.Labels ?? null,
        ...(run.StopSignal ? { StopSignal: run.StopSignal } : {}),
      },
      Architecture: image.config.architecture,
      ...(image.config.variant ? { Variant: image.config.variant } : {}),
      Os: image.config.os,
      Size: image.manifest.config.size + image.manifest.layers.reduce((sum, l) => sum + l.size, 0),
      GraphDriver: { Data: null, Name: "overlay" },
      RootFS: { Type: "layers", Layers: image.config.rootfs.diff_ids },
      Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
      Digest: image.manifestDigest,
    };
  }

  /** Removes a name from the store; `tsbox prune` then deletes what nothing names. */
  async untag(input: string): Promise<void> {
    const name = canonicalName(parseReference(input));
    if (!(await this.layout.untag(name))) throw new ImageError(`image not found: ${input}`);
  }

  /**
   * Copies one image (manifest, config, layers; every blob re-verified)
   * from another layout into the store and names it `name`.
   */
  async importImage(source: OciLayout, descriptor: Descriptor, name: string): Promise<Descriptor> {
    const manifestDescriptor = await this.selectManifest(source, descriptor);
    const manifest = await source.readJsonBlob<ImageManifest>(manifestDescriptor.digest);
    await this.layout.init();
    for (const blob of [manifest.config, ...manifest.layers]) await this.copyBlob(source, blob);
    await this.copyBlob(source, manifestDescriptor);
    const stored: Descriptor = { mediaType: manifestDescriptor.mediaType, digest: manifestDescriptor.digest, size: manifestDescriptor.size };
    await this.layout.tag(name, stored, { [Annotation.imageName]: name });
    return { ...stored, annotations: { [Annotation.refName]: name, [Annotation.imageName]: name } };
  }

  private async copyBlob(source: OciLayout, blob: Descriptor): Promise<void> {
    if (await this.layout.hasBlob(blob.digest)) return;
    // Checked first: a stream that fails to open emits its error before writeBlob listens.
    if (!(await source.hasBlob(blob.digest))) throw new ImageError(`blob ${blob.digest} is missing from ${source.dir}`);
    const stream = source.openBlob(blob.digest);
    try {
      await this.layout.writeBlob(stream, { digest: blob.digest, size: blob.size });
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw new ImageError(`blob ${blob.digest} is missing from ${source.dir}`);
      throw err;
    } finally {
      stream.destroy();
    }
  }

  private async importFromFallback(ref: ImageReference): Promise<Descriptor | undefined> {
    for (const layout of this.fallbackLayouts()) {
      let index: ImageIndex;
      try {
        index = await layout.readIndex();
      } catch {
        continue;
      }
      const found = index.manifests.find((d) => descriptorNameMatches(d, ref));
      if (found) return this.importImage(layout, found, canonicalName(ref));
    }
    return undefined;
  }

  /** Follows an image index (multi-platform) down to the manifest for our platform. */
  private async selectManifest(layout: OciLayout, descriptor: Descriptor): Promise<Descriptor> {
    if (isManifestMediaType(descriptor.mediaType)) return descriptor;
    if (!isIndexMediaType(descriptor.mediaType)) throw new ImageError(`unsupported manifest media type: ${descriptor.mediaType}`);
    const index = await layout.readJsonBlob<ImageIndex>(descriptor.digest);
    const match = index.manifests.find((d) => platformMatches(d.platform, this.platform));
    if (!match) throw new ImageError(`image has no manifest for platform ${formatPlatform(this.platform)}`);
    return this.selectManifest(layout, match);
  }

  private async readImage(layout: OciLayout, descriptor: Descriptor, name: string): Promise<StoredImage> {
    const manifestDescriptor = await this.selectManifest(layout, descriptor);
    const manifest = await layout.readJsonBlob<ImageManifest>(manifestDescriptor.digest);
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new ImageError(`manifest ${manifestDescriptor.digest} is malformed`);
    const config = await layout.readJsonBlob<ImageConfig>(manifest.config.digest);
    if (config.rootfs?.type !== "layers" || !Array.isArray(config.rootfs.diff_ids)) {
      throw new ImageError(`image config ${manifest.config.digest} has no rootfs.diff_ids`);
    }
    if (config.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new ImageError(`image ${name}: manifest lists ${manifest.layers.length} layers but config has ${config.rootfs.diff_ids.length} diff_ids`);
    }
    return { name, manifestDigest: manifestDescriptor.digest, manifest, configDigest: manifest.config.digest, config };
  }
}

/** An image id or a prefix of one (at least 12 hex digits), with or without `sha256:`. */
const IMAGE_ID_RE = /^(sha256:)?[0-9a-f]{12,64}$/;

function findInIndex(index: ImageIndex, ref: ImageReference): Descriptor | undefined {
  const wanted = canonicalName(ref);
  return (
    index.manifests.find((d) => d.annotations?.[Annotation.refName] === wanted) ??
    (ref.digest ? index.manifests.find((d) => d.digest === ref.digest || d.annotations?.["dev.tsbox.image.index.digest"] === ref.digest) : undefined)
  );
}

/**
 * Does an index.json entry of some layout name `ref`? Layouts written by
 * other tools put only the tag in `ref.name` and the full name in
 * `io.containerd.image.name`.
 */
function descriptorNameMatches(d: Descriptor, ref: ImageReference): boolean {
  if (ref.digest !== undefined && d.digest === ref.digest) return true;
  const full = d.annotations?.[Annotation.imageName] ?? d.annotations?.[Annotation.refName];
  if (full === undefined) return false;
  try {
    return canonicalName(parseReference(full)) === canonicalName(ref);
  } catch {
    return false;
  }
}
