import { closeSync, existsSync, openSync, readSync } from "node:fs";
import { ImageError } from "../errors.js";
import { isDiskFull, isErrno } from "../fs-util.js";
import { embeddedLayouts } from "./embedded.js";
import { blobWriteError, OciLayout } from "./layout.js";
import { migrateLegacyStores } from "./legacy-stores.js";
import {
  Annotation,
  type Descriptor,
  type ImageConfig,
  type ImageIndex,
  type ImageManifest,
  isIndexMediaType,
  isManifestMediaType,
  MediaType,
  type Platform,
} from "./oci.js";
import { formatPlatform, hostPlatform, platformMatches } from "./platform.js";
import { checkConfig, checkConfigSize, checkDiffIds, checkManifest } from "./shape.js";
import { canonicalName, checkImageName, familiarName, type ImageReference, parseReference, repositoryName } from "./reference.js";
import { compareText } from "../compare.js";
import { isDigest } from "./digest.js";
import { DEFAULT_LAYER_LIMITS, layerLimits } from "./layer-limits.js";

const INDEX_ANNOTATION = Annotation.sourceIndex;

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
  /** Familiar name, e.g. `busybox:latest`; `<none>` for an image known by its id only. */
  name: string;
  repository: string;
  tag: string | null;
  /** No name: a commit, import or build without one (docker's dangling image), or with `all` a build step's. */
  dangling: boolean;
  manifestDigest: string;
  /** What its name points to in its registry (`images --digests`): {@link repoDigest}. */
  repoDigest: string;
  /** Config digest: docker's "IMAGE ID". */
  id: string;
  created: string | null;
  /** Compressed size of config + layers. */
  size: number;
  platform: string;
  /** The image config's labels (docker's `LABEL`s). */
  labels: Record<string, string>;
}

/** An image's creation time in ms (0 when its config names none): what `images` sorts and filters by. */
export function createdTime(image: ImageSummary): number {
  return image.created ? Date.parse(image.created) || 0 : 0;
}

/** How `untag` and `removeById` treat images containers use. */
export interface RemoveOptions {
  /**
   * Manifest digest → the id of a container using that image, asked under the index lock: a container being made
   * claims its image before it checks, under that lock, that the image is still there (Runtime `checkImageKept`).
   */
  inUse?: () => Promise<ReadonlyMap<string, string>>;
  /** Remove the name even so: the image stays as <none> while a container uses it. */
  force?: boolean;
  /** Manifest digest → the id of a running (or paused) container using it: `rmi -f ID` of that image cannot be forced (docker's). */
  running?: () => Promise<ReadonlyMap<string, string>>;
}

/** `RemoveOptions` as the locked section sees them: who uses what, read there. */
interface InUseGuard {
  inUse: ReadonlyMap<string, string>;
  force?: boolean;
}

async function guardOf(options: RemoveOptions): Promise<InUseGuard> {
  return { inUse: (await options.inUse?.()) ?? new Map(), ...(options.force ? { force: true } : {}) };
}

export interface ImageStoreOptions {
  /** Layouts to import from when an image is missing; default: the embedded images. */
  fallbackLayouts?: () => OciLayout[];
  /** The platform `getImage`/`findImage` pick when not told: the backend's (default: the host's). */
  platform?: Platform;
}

/** What the store has for a name and platform. */
type Lookup =
  | { kind: "found"; image: StoredImage }
  /** Nothing local for it, and a registry may have it: pull. */
  | { kind: "absent" }
  /** The name is here, for other platforms only. */
  | { kind: "other-platforms"; platforms: string[] };

/**
 * The user's images, for every backend and platform: one OCI layout in the
 * data dir. index.json names each image once by its canonical reference
 * (`ref.name` annotation), as docker's containerd store does: the entry is
 * the image's manifest when the store has one platform of it, or an OCI
 * index (written here) of the platforms it has. Adding an image for a
 * platform replaces that platform of the name and keeps the others.
 */
export class ImageStore {
  readonly layout: OciLayout;
  /** The platform picked when a caller names none. */
  readonly platform: Platform;
  private readonly fallbackLayouts: () => OciLayout[];
  private migrated = false;

  constructor(dir: string, options: ImageStoreOptions = {}) {
    this.layout = new OciLayout(dir);
    this.fallbackLayouts = options.fallbackLayouts ?? (() => embeddedLayouts());
    this.platform = options.platform ?? hostPlatform();
  }

  /** Resolves a user-typed reference to a runnable image for `platform`, importing an embedded one if needed. */
  async getImage(input: string, platform: Platform = this.platform): Promise<StoredImage> {
    const image = await this.findImage(input, platform);
    if (!image) throw new ImageError(`image not found: ${IMAGE_ID_RE.test(input) ? input : familiarName(parseReference(input))}`, undefined, true);
    return image;
  }

  /**
   * Like getImage, but undefined when a registry may have what is missing
   * (the name is not here, or its registry index lists `platform`). A name
   * held here only for other platforms is refused, naming them: nothing is
   * downloaded for it.
   */
  async findImage(input: string, platform: Platform = this.platform): Promise<StoredImage | undefined> {
    if (LONG_ID_RE.test(input)) {
      const byId = await this.findById(input.replace(/^sha256:/, ""));
      if (byId) return byId;
    }
    const found = await this.lookup(input, platform);
    if (found.kind === "found") return found.image;
    // A few hex digits are a name first (docker's order: `cafe` is cafe:latest if there is one), then an id's start.
    if (found.kind === "absent") return IMAGE_ID_RE.test(input) ? this.findById(input.replace(/^sha256:/, "")) : undefined;
    const wanted = formatPlatform(platform);
    throw new ImageError(`image ${familiarName(parseReference(input))} has no ${wanted} variant here (it has ${found.platforms.join(", ")}): tsbox pull --platform ${wanted} gets one if its registry has it`);
  }

  /**
   * An image by (a unique prefix of) its id, the config digest, as docker
   * takes one: images `commit` and `import` made without a name have only that.
   */
  private async findById(hex: string): Promise<StoredImage | undefined> {
    return (await this.byId(hex))?.image;
  }

  /**
   * The image with (a unique prefix of) this id, and the descriptors of
   * every manifest of it: the same image (config) loaded as a docker and as
   * an OCI archive has two manifests, and is one image, as in docker.
   */
  private async byId(hex: string): Promise<{ image: StoredImage; manifests: Descriptor[] } | undefined> {
    await this.ensureMigrated();
    const found: { image: StoredImage; manifest: Descriptor }[] = [];
    for (const entry of (await this.layout.readIndex()).manifests) {
      for (const d of await this.presentManifests(entry).catch(() => [])) {
        const image = await this.readImage(d, entry.annotations?.[Annotation.refName] ?? `sha256:${hex}`).catch(() => undefined);
        if (image?.configDigest.startsWith(`sha256:${hex}`) && !found.some((f) => f.image.manifestDigest === image.manifestDigest)) found.push({ image, manifest: d });
      }
    }
    if (new Set(found.map((f) => f.image.configDigest)).size > 1) throw new ImageError(`image id prefix ${hex} is ambiguous`);
    return found.length === 0 ? undefined : { image: found[0]!.image, manifests: found.map((f) => f.manifest) };
  }

  /** The index.json entry that names `input` (a manifest, or an index of its platforms). */
  async findDescriptor(input: string): Promise<Descriptor | undefined> {
    await this.ensureMigrated();
    return (await this.resolveEntry(await this.layout.readIndex(), parseReference(input)))?.descriptor;
  }

  /** The platforms the store holds `input` for (none when it does not know the name). */
  async platformsOf(input: string): Promise<Platform[]> {
    const descriptor = await this.findDescriptor(input);
    return descriptor ? (await this.presentManifests(descriptor)).map((d) => d.platform!) : [];
  }

  /**
   * One row per image name and platform and one per image without a name
   * (docker's <none>: what a commit, import or untagged build made, and with
   * `all` the build cache's step images too, docker's intermediate images),
   * newest first as docker lists them. An image that has a name (its
   * manifest or its image id) is not listed unnamed.
   */
  async listImages(options: { all?: boolean } = {}): Promise<ImageSummary[]> {
    await this.ensureMigrated();
    const index = await this.layout.readIndex();
    const named: ImageSummary[] = [];
    const unnamed: ImageSummary[] = [];
    const row = (image: StoredImage, d: Descriptor, ref: ImageReference | undefined): ImageSummary => ({
      name: ref ? familiarName(ref) : "<none>",
      repository: ref ? familiarName({ ...ref, tag: undefined, digest: undefined } as ImageReference) : "<none>",
      tag: ref?.tag ?? null,
      dangling: ref === undefined,
      manifestDigest: image.manifestDigest,
      repoDigest: repoDigest(d),
      id: image.configDigest,
      created: image.config.created ?? null,
      size: imageSize(this.layout, image),
      platform: formatPlatform(d.platform!),
      labels: { ...(image.config.config?.Labels ?? {}) },
    });
    for (const entry of index.manifests) {
      const refName = entry.annotations?.[Annotation.refName];
      let ref: ImageReference | undefined;
      if (refName !== undefined) {
        try {
          ref = parseReference(refName);
        } catch {
          continue;
        }
      } else if (entry.annotations !== undefined && !options.all) {
        continue; // a build step's image
      }
      for (const d of await this.presentManifests(entry)) {
        try {
          (ref ? named : unnamed).push(row(await this.readImage(d, refName ?? d.digest), d, ref));
        } catch (err) {
          if (!(err instanceof ImageError)) throw err;
        }
      }
    }
    // One row per image id, as docker's: an unnamed manifest of a named image's config (the same image loaded or
    // pulled again in another manifest form, e.g. docker-archive then OCI) is that image, not a <none> of its own.
    const hasName = new Set(named.flatMap((r) => [r.manifestDigest, r.id]));
    const seen = new Set<string>();
    const none = unnamed.filter((r) => !hasName.has(r.manifestDigest) && !hasName.has(r.id) && !seen.has(r.id) && seen.add(r.id));
    // A name by digest (`pull repo@sha256:…`) is a row of its own (tag <none>) only where no tag of its repository
    // names the same image, as docker's: after `pull repo:1` too it was a second row.
    const tagged = new Set(named.filter((r) => r.tag !== null).map((r) => `${r.repository} ${r.manifestDigest}`));
    const rows = named.filter((r) => r.tag !== null || !tagged.has(`${r.repository} ${r.manifestDigest}`));
    return [...rows, ...none].sort((a, b) => createdTime(b) - createdTime(a) || compareText(a.name, b.name) || compareText(a.platform, b.platform));
  }

  /** Every tagged name of `repository` (`busybox` → busybox:latest, busybox:1.36, …): docker's `save REPO` and `push -a` take them all. */
  async repositoryTags(repository: string): Promise<string[]> {
    const wanted = repositoryName(parseReference(repository));
    const rows = (await this.listImages()).filter((r) => r.tag !== null && !r.dangling && repositoryName(parseReference(r.name)) === wanted);
    return [...new Set(rows.map((r) => r.name))];
  }

  /** Gives the image named `source` (every platform of it) a second name `target`, replacing what `target` named. */
  async tag(source: string, target: string): Promise<string> {
    checkImageName(target);
    await this.ensureMigrated();
    const ref = parseReference(source);
    let resolved = await this.resolveEntry(await this.layout.readIndex(), ref);
    if (!resolved) {
      await this.getImage(source); // imports an embedded image, or says it is not found
      resolved = await this.resolveEntry(await this.layout.readIndex(), ref);
    }
    // Not a name: an image id (docker's `tag 4f2a… name`), one platform's manifest.
    const descriptor = resolved ? (resolved.inner ?? resolved.descriptor) : (await this.byId(source.replace(/^sha256:/, "")))!.manifests[0]!;
    const name = canonicalName(parseReference(target));
    const { annotations: _old, ...rest } = descriptor;
    const keep = Object.fromEntries(Object.entries(descriptor.annotations ?? {}).filter(([k]) => k !== Annotation.refName && k !== Annotation.imageName));
    await this.layout.updateIndex(async (index) => {
      const previous = index.manifests.find((d) => d.annotations?.[Annotation.refName] === name);
      index.manifests = index.manifests.filter((d) => d !== previous);
      index.manifests.push({ ...rest, annotations: { ...keep, [Annotation.imageName]: name, [Annotation.refName]: name } });
      if (previous) await this.keepUnnamed(index, await this.manifestsOf(previous));
    });
    return name;
  }

  /**
   * What `tsbox inspect` shows of an image: docker's image inspect shape
   * (plus `Digest`, the manifest digest this store names, and `Platforms`,
   * every platform the store holds it for); the store's platform, else the one it has.
   */
  async inspect(input: string, platform?: Platform): Promise<Record<string, unknown>> {
    const image = await this.getImage(input, platform ?? (await this.defaultPlatformOf(input)));
    const refs: ImageReference[] = [];
    const repoDigests: string[] = [];
    for (const d of (await this.layout.readIndex()).manifests) {
      const n = d.annotations?.[Annotation.refName];
      const m = n ? (await this.presentManifests(d)).find((m) => m.digest === image.manifestDigest) : undefined;
      if (!n || !m) continue;
      const ref = parseReference(n);
      refs.push(ref);
      repoDigests.push(`${familiarName({ ...ref, tag: undefined, digest: undefined } as ImageReference)}@${repoDigest(m)}`);
    }
    const run = image.config.config ?? {};
    return {
      Id: image.configDigest,
      RepoTags: refs.filter((r) => r.digest === undefined).map(familiarName).sort(),
      RepoDigests: [...new Set(repoDigests)].sort(),
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
        OnBuild: (run as { OnBuild?: unknown }).OnBuild ?? null,
        Labels: run.Labels ?? null,
        ...(run.StopSignal ? { StopSignal: run.StopSignal } : {}),
        ...(run.ExposedPorts ? { ExposedPorts: run.ExposedPorts } : {}),
        ...((run as { Shell?: unknown }).Shell ? { Shell: (run as { Shell?: unknown }).Shell } : {}),
        ...((run as { Healthcheck?: unknown }).Healthcheck ? { Healthcheck: (run as { Healthcheck?: unknown }).Healthcheck } : {}),
      },
      Architecture: image.config.architecture,
      ...(image.config.variant ? { Variant: image.config.variant } : {}),
      Os: image.config.os,
      Size: imageSize(this.layout, image),
      GraphDriver: { Data: null, Name: "overlay" },
      RootFS: { Type: "layers", Layers: image.config.rootfs.diff_ids },
      Metadata: { LastTagTime: "0001-01-01T00:00:00Z" },
      Digest: image.manifestDigest,
      Platforms: (await this.isImageId(input)) ? [formatPlatform({ os: image.config.os, architecture: image.config.architecture })] : (await this.platformsOf(input)).map(formatPlatform),
    };
  }

  /**
   * The platform to save or inspect `input` for when none is asked: the
   * store's when the name has it, else the only (first) one it has.
   */
  async defaultPlatformOf(input: string): Promise<Platform> {
    const platforms = await this.platformsOf(input);
    return platforms.find((p) => platformMatches(p, this.platform)) ?? platforms[0] ?? this.platform;
  }

  /**
   * For `repo@sha256:…` that is no name here: the names of that repository
   * whose image has that digest (what `images --digests` and RepoDigests
   * show — the index it was pulled from — or the manifest's or a
   * platform's); undefined for any other input.
   */
  async namesWithDigest(input: string): Promise<string[] | undefined> {
    const ref = parseReference(input);
    if (!ref.digest) return undefined;
    await this.ensureMigrated();
    const index = await this.layout.readIndex();
    if (index.manifests.some((d) => d.annotations?.[Annotation.refName] === canonicalName(ref))) return undefined;
    const names: string[] = [];
    for (const d of index.manifests) {
      const name = d.annotations?.[Annotation.refName];
      if (name === undefined || repositoryName(parseReference(name)) !== repositoryName(ref)) continue;
      const pins = (m: Descriptor) => m.digest === ref.digest || repoDigest(m) === ref.digest;
      if (pins(d) || (isIndexMediaType(d.mediaType) && (await this.manifestsOf(d)).some(pins))) names.push(name);
    }
    return names;
  }

  /**
   * Removes a name (every platform of it), or only its `platform`; returns
   * the index entries removed (`sweepRemoved` then deletes what only they
   * reached). An image a container uses (`inUse`: manifest digest → a
   * container id) may not lose its last name — docker's conflict — unless
   * `force`, which keeps it as <none>.
   */
  async untag(input: string, platform?: Platform, options: RemoveOptions = {}): Promise<Descriptor[]> {
    await this.ensureMigrated();
    const name = canonicalName(parseReference(input));
    return this.updateIndexRemoving(async (index) => {
      const entry = index.manifests.find((d) => d.annotations?.[Annotation.refName] === name);
      if (!entry) throw new ImageError(`image not found: ${input}`, undefined, true);
      const all = await this.manifestsOf(entry);
      const rest = platform ? all.filter((d) => !platformMatches(d.platform, platform)) : [];
      if (platform && rest.length === all.length) throw new ImageError(`image ${input} has no ${formatPlatform(platform)} variant (it has ${all.map((d) => formatPlatform(d.platform!)).join(", ")})`);
      index.manifests = index.manifests.filter((d) => d !== entry);
      if (rest.length > 0) index.manifests.push(await this.entryFor(name, rest));
      const removed = all.filter((d) => !rest.includes(d));
      const guard = await guardOf(options);
      await this.guardInUse(index, removed, guard, (container, id) => `conflict: unable to remove repository reference "${familiarName(parseReference(input))}" (must force) - container ${container} is using its referenced image ${id}`);
      await this.dropUnnamedForms(index, removed, guard);
    });
  }

  /**
   * docker's rmi of an image's last name deletes the image: so do its other
   * manifest forms kept as <none> (the same image loaded or pulled again in
   * another form, which `images` lists as the named one), unless a container uses them.
   */
  private async dropUnnamedForms(index: ImageIndex, removed: Descriptor[], options: InUseGuard): Promise<void> {
    const configOf = (digest: string) => this.layout.readJsonBlob<ImageManifest>(digest).then((m) => m.config.digest, () => undefined);
    const ids = new Set<string | undefined>();
    for (const m of removed) ids.add(await configOf(m.digest));
    ids.delete(undefined);
    const forms: Descriptor[] = [];
    for (const d of index.manifests) {
      // Only docker's <none> kind: the build cache's entries carry annotations.
      if (d.annotations === undefined && !options.inUse.has(d.digest) && ids.has(await configOf(d.digest))) forms.push(d);
    }
    if (forms.length === 0) return;
    for (const d of index.manifests) {
      if (d.annotations?.[Annotation.refName] === undefined) continue;
      for (const m of await this.manifestsOf(d)) ids.delete(await configOf(m.digest)); // another name has that image
    }
    const doomed = new Set<Descriptor>();
    for (const d of forms) if (ids.has(await configOf(d.digest))) doomed.add(d);
    index.manifests = index.manifests.filter((d) => !doomed.has(d));
  }

  /**
   * Of `removed` manifests, those a container uses and nothing in `index`
   * holds any more: refused (the message from `conflict`) unless `force`,
   * which keeps them as <none> entries (returned).
   */
  private async guardInUse(index: ImageIndex, removed: Descriptor[], options: InUseGuard, conflict: (container: string, id: string) => string): Promise<Descriptor[]> {
    const orphaned: Descriptor[] = [];
    for (const m of removed) {
      const container = options.inUse.get(m.digest);
      if (container === undefined || (await this.isHeld(index, m.digest))) continue;
      if (!options.force) {
        const config = (await this.layout.readJsonBlob<ImageManifest>(m.digest)).config.digest;
        throw new ImageError(conflict(container.slice(0, 12), shortHex(config)));
      }
      orphaned.push(m);
    }
    await this.keepUnnamed(index, orphaned);
    return orphaned;
  }

  /**
   * docker's `rmi ID`: every entry of the image with this id goes — its
   * names (refused when it has several, unless `force`), its <none> entry and
   * its build cache entries; a name of several platforms keeps the others.
   * Returns the names removed, the id, whether the image was kept as <none>
   * (`force` while a container uses it), and the index entries removed.
   */
  async removeById(input: string, options: RemoveOptions = {}): Promise<{ id: string; untagged: string[]; kept: boolean; removed: Descriptor[] }> {
    const found = await this.byId(input.replace(/^sha256:/, ""));
    if (!found) throw new ImageError(`image not found: ${input}`, undefined, true);
    const digests = new Set(found.manifests.map((m) => m.digest));
    const untagged: string[] = [];
    let inUse = false;
    const removed = await this.updateIndexRemoving(async (index) => {
      // docker's: forced or not, an image a running container uses stays whole (before, -f kept it silently, exit 0).
      const running = options.force ? ((await options.running?.()) ?? new Map<string, string>()) : new Map<string, string>();
      const runner = found.manifests.map((m) => running.get(m.digest)).find((c) => c !== undefined);
      if (runner !== undefined) {
        throw new ImageError(`conflict: unable to delete ${shortHex(found.image.configDigest)} (cannot be forced) - image is being used by running container ${runner.slice(0, 12)}`);
      }
      const kept: Descriptor[] = [];
      for (const d of index.manifests) {
        const name = d.annotations?.[Annotation.refName];
        const inner = digests.has(d.digest) ? [] : isIndexMediaType(d.mediaType) ? await this.manifestsOf(d) : undefined;
        if (inner === undefined || (inner.length > 0 && !inner.some((m) => digests.has(m.digest)))) {
          kept.push(d);
          continue;
        }
        if (name !== undefined) untagged.push(name);
        const rest = inner.filter((m) => !digests.has(m.digest));
        if (rest.length > 0 && name !== undefined) kept.push(await this.entryFor(name, rest));
      }
      // docker's rule: one tag and digest names of its repository are one reference (a `pull repo@sha256:…` and a
      // `pull repo:1` of the same image are no conflict); more tags, or several repositories, need force.
      const refs = untagged.map((n) => parseReference(n));
      const repositories = new Set(refs.map(repositoryName));
      const single = refs.filter((r) => r.digest === undefined).length <= 1 && repositories.size <= 1;
      if (!single && !options.force) {
        throw new ImageError(`conflict: unable to delete ${shortHex(found.image.configDigest)} (must be forced) - image is referenced in multiple repositories`);
      }
      index.manifests = kept;
      inUse = (await this.guardInUse(index, found.manifests, await guardOf(options), (container) => `conflict: unable to delete ${shortHex(found.image.configDigest)} (must be forced) - image is being used by container ${container}`)).length > 0;
    });
    return { id: found.image.configDigest, untagged: untagged.map((n) => familiarName(parseReference(n))), kept: inUse, removed };
  }

  /** `layout.updateIndex`, returning the entries the change took out of the index. */
  private async updateIndexRemoving(change: (index: ImageIndex) => Promise<void>): Promise<Descriptor[]> {
    let removed: Descriptor[] = [];
    await this.layout.updateIndex(async (index) => {
      const before = [...index.manifests];
      await change(index);
      removed = before.filter((d) => !index.manifests.includes(d));
    });
    return removed;
  }

  /** Whether `input` is an image id (or a prefix of one) rather than a name the store has. */
  async isImageId(input: string): Promise<boolean> {
    if (!IMAGE_ID_RE.test(input)) return false;
    try {
      return (await this.findDescriptor(input)) === undefined;
    } catch {
      return true; // sha256:… is no name
    }
  }

  /**
   * Copies an image (every platform of an index whose blobs the source has;
   * every blob re-verified) from another layout into the store as `name`.
   * With `keepExisting`, platforms the name already has here are not replaced.
   * `signal` (Ctrl-C of a load) stops the copy, and anything being named: an
   * interrupted load leaves the store's names as they were. `unpack` is given each
   * image of the store's platform once its blobs are here and before it is named
   * (`load` unpacks its layers there): what it throws leaves the name as it was.
   */
  async importImage(source: OciLayout, descriptor: Descriptor, name: string | undefined, options: { only?: Platform; keepExisting?: boolean; signal?: AbortSignal; unpack?: (image: StoredImage) => Promise<void> } = {}): Promise<string[]> {
    const problems: string[] = [];
    const candidates = (await manifestsIn(source, descriptor, problems)).filter((d) => !options.only || platformMatches(d.platform, options.only));
    const label = name ?? descriptor.digest;
    const imported: Descriptor[] = [];
    const ids: string[] = [];
    let firstError: unknown;
    for (const d of candidates) {
      try {
        const manifest = checkManifest(await source.readJsonBlob<unknown>(d.digest), `manifest ${d.digest}`);
        checkConfigSize(manifest.config, `image ${label}`);
        const config = await source.readJsonBlob<unknown>(manifest.config.digest).catch((err: unknown) => {
          throw new ImageError(`image ${label}: its config ${manifest.config.digest} is missing or not JSON`, err);
        });
        checkDiffIds(manifest, checkConfig(config, `image ${label}`), `image ${label}`);
        await this.layout.init();
        for (const blob of [manifest.config, ...manifest.layers]) await this.copyBlob(source, blob, options.signal);
        await this.copyBlob(source, d, options.signal);
        imported.push(d);
        ids.push(manifest.config.digest);
      } catch (err) {
        // An index may list platforms whose content the archive does not carry (docker saves them so).
        if (!(err instanceof ImageError) || descriptor.digest === d.digest) throw err;
        firstError ??= err;
      }
    }
    if (imported.length === 0) {
      if (firstError) throw firstError;
      // Why, when a document could not be read (before: only the source's dir, a load's temp dir long gone).
      throw new ImageError(`${label} names no image${options.only ? ` for ${formatPlatform(options.only)}` : ""}${source.label !== source.dir ? ` in ${source.label}` : ""}${problems[0] ? `: ${problems[0]}` : ""}`);
    }
    if (options.unpack) {
      for (const d of imported) {
        if (!platformMatches(d.platform, this.platform)) continue;
        const image = await this.readImage(d, name ?? d.digest);
        await options.unpack(name !== undefined ? image : { ...image, name: image.configDigest }); // unnamed: said by its id
      }
    }
    options.signal?.throwIfAborted();
    if (name === undefined) await this.putUnnamed(imported);
    else await this.putManifests(name, imported, options.keepExisting ?? false);
    return ids;
  }

  /**
   * Names these platform manifests (each with its `platform`) `name`: each
   * replaces the name's manifest for the same platform (or, with
   * `keepExisting`, is dropped if there is one). Under the index lock, and
   * only once every blob they need is in the store: `prune` sweeps under the
   * same lock, so a name never points at missing blobs.
   */
  async putManifests(name: string, manifests: Descriptor[], keepExisting = false): Promise<void> {
    await this.layout.init();
    await this.layout.updateIndex(async (index) => {
      for (const d of manifests) await this.checkComplete(name, d);
      const entry = index.manifests.find((d) => d.annotations?.[Annotation.refName] === name);
      const current = entry ? await this.presentManifests(entry) : [];
      const taken = (d: Descriptor) => current.some((c) => samePlatform(c.platform, d.platform));
      const incoming = keepExisting ? manifests.filter((d) => !taken(d)) : manifests;
      const others = current.filter((c) => !incoming.some((d) => samePlatform(c.platform, d.platform)));
      index.manifests = index.manifests.filter((d) => d !== entry);
      index.manifests.push(await this.entryFor(name, [...others, ...incoming]));
      await this.keepUnnamed(index, current.filter((c) => !others.includes(c)));
    });
  }

  /**
   * Stores these platform manifests without a name (docker's <none>, found by
   * id: what `save IMAGE-ID` archives), unless a name or a <none> entry has them already.
   */
  async putUnnamed(manifests: Descriptor[]): Promise<void> {
    await this.layout.init();
    await this.layout.updateIndex(async (index) => {
      for (const d of manifests) await this.checkComplete(d.digest, d);
      await this.keepUnnamed(index, manifests);
    });
  }

  /**
   * An unnamed entry for a manifest, with `annotations` (a build step's, where the build cache finds it) or without
   * (docker's <none>), unless the index has that entry already. Checked complete as a name is: an entry whose
   * blobs a prune took meanwhile was left dangling before.
   */
  async putEntry(d: Descriptor, annotations?: Record<string, string>): Promise<void> {
    await this.layout.init();
    await this.layout.updateIndex(async (index) => {
      await this.checkComplete(d.digest, d);
      const unnamed = (e: Descriptor) => e.digest === d.digest && e.annotations?.[Annotation.refName] === undefined;
      const same = (e: Descriptor) => unnamed(e) && JSON.stringify(e.annotations) === JSON.stringify(annotations);
      if (!index.manifests.some(same)) index.manifests.push({ ...d, ...(annotations ? { annotations } : {}) });
    });
  }

  /**
   * What a push of local name `name` left under its tag in its registry: `pushed` (an index, `index` its bytes when
   * the push made it, or the one manifest) of exactly the manifests `manifests`. The name's platforms now come from
   * there: repoDigest (RepoDigests, `images --digests`) names what that repository has, and registryOffers what it
   * offers. Before, the index a platform was pulled from (another repository's, after a `tag`; or the tag's previous
   * index, which a one-platform push replaced) stayed, and the pin printed gave "manifest unknown". An entry that
   * no longer names these manifests (re-tagged or pulled meanwhile) is left as it is.
   */
  async recordPushed(name: string, pushed: string, manifests: string[], index?: Buffer): Promise<void> {
    await this.layout.updateIndex(async (idx) => {
      const entry = idx.manifests.find((d) => d.annotations?.[Annotation.refName] === name);
      if (!entry) return;
      const current = await this.presentManifests(entry);
      const same = current.length === manifests.length && current.every((m) => manifests.includes(m.digest));
      if (!same || current.every((m) => repoDigest(m) === pushed)) return;
      // One manifest pushed: it is its own pin (no index); else every platform lists the pushed index, kept here.
      const source = current.length === 1 && current[0]!.digest === pushed ? undefined : pushed;
      if (source !== undefined && index !== undefined) await this.layout.writeBlob(index, { digest: pushed, size: index.length });
      const withSource = (d: Descriptor): Descriptor => {
        const { [INDEX_ANNOTATION]: _old, ...rest } = d.annotations ?? {};
        const annotations = source === undefined ? rest : { ...rest, [INDEX_ANNOTATION]: source };
        const { annotations: _a, ...bare } = d;
        return Object.keys(annotations).length > 0 ? { ...bare, annotations } : bare;
      };
      // A one-platform entry is its manifest (its other annotations kept); a multi-platform one a new index of them.
      const replacement = isIndexMediaType(entry.mediaType) ? await this.entryFor(name, current.map(withSource)) : withSource(entry);
      idx.manifests = idx.manifests.map((d) => (d === entry ? replacement : d));
    });
  }

  /** A manifest about to be named (or kept unnamed): its platform given, its config not huge, every blob here. */
  private async checkComplete(label: string, d: Descriptor): Promise<void> {
    if (!d.platform) throw new Error(`${label}: ${d.digest} has no platform`);
    checkPlatformShape(label, d.platform);
    const manifest = await this.layout.readJsonBlob<ImageManifest>(d.digest);
    // Every later `images` and `run` reads the config whole: a hostile one of 400 MB cost 1.3 GB each time.
    checkConfigSize(manifest.config, `image ${label}`);
    for (const blob of [manifest.config, ...manifest.layers]) {
      if (!existsSync(this.layout.blobPath(blob.digest))) throw new ImageError(`image ${label}: blob ${blob.digest} is no longer in the store (pruned meanwhile?): pull or load it again`);
    }
  }

  /**
   * Manifests a name was moved off (a rebuild, a newer pull, a tag) stay as
   * <none> — docker's dangling images — unless a name or a <none> entry
   * still has them; `image prune` removes them.
   */
  private async keepUnnamed(index: ImageIndex, replaced: Descriptor[]): Promise<void> {
    for (const m of replaced) {
      if (!(await this.isHeld(index, m.digest))) index.manifests.push({ mediaType: m.mediaType, digest: m.digest, size: m.size, ...(m.platform ? { platform: m.platform } : {}) });
    }
  }

  /** Whether an index entry (a name, a <none>, a build step's) reaches this manifest: a look under the index lock. */
  async holds(digest: string): Promise<boolean> {
    return this.reaches((await this.layout.readIndex()).manifests, digest);
  }

  /**
   * Whether an index.json entry is, or (a name of several platforms) lists, a manifest of `manifests` — those
   * containers use (Runtime imagesInUse): prune keeps such an entry.
   */
  async entryUses(entry: Descriptor, manifests: ReadonlyMap<string, unknown>): Promise<boolean> {
    if (manifests.has(entry.digest)) return true;
    return isIndexMediaType(entry.mediaType) && (await this.manifestsOf(entry)).some((m) => manifests.has(m.digest));
  }

  /** Whether a name or a <none> entry of `index` (not the build cache's) has the manifest `digest`. */
  private isHeld(index: ImageIndex, digest: string): Promise<boolean> {
    return this.reaches(index.manifests.filter((d) => d.annotations === undefined || d.annotations[Annotation.refName] !== undefined), digest);
  }

  /** Whether one of `entries` is the manifest `digest` or an index listing it. */
  private async reaches(entries: Descriptor[], digest: string): Promise<boolean> {
    for (const d of entries) {
      if (d.digest === digest || (isIndexMediaType(d.mediaType) && (await this.manifestsOf(d)).some((x) => x.digest === digest))) return true;
    }
    return false;
  }

  /** The index.json entry naming these manifests: the manifest itself for one platform, else a new index of them. */
  private async entryFor(name: string, manifests: Descriptor[]): Promise<Descriptor> {
    const names = { [Annotation.refName]: name, [Annotation.imageName]: name };
    const inner = manifests.map(({ mediaType, digest, size, platform, annotations }) => {
      const source = annotations?.[INDEX_ANNOTATION];
      return { mediaType, digest, size, platform: platform!, ...(source ? { annotations: { [INDEX_ANNOTATION]: source } } : {}) };
    });
    if (inner.length === 1) return { ...inner[0]!, annotations: { ...inner[0]!.annotations, ...names } };
    inner.sort((a, b) => compareText(formatPlatform(a.platform), formatPlatform(b.platform)));
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: inner };
    return { ...(await this.layout.writeJsonBlob(index, MediaType.ociIndex)), annotations: names };
  }

  /** Takes over the images older versions kept in a store per platform (once; one stat when there are none). */
  async ensureMigrated(): Promise<void> {
    if (this.migrated) return;
    this.migrated = true;
    await migrateLegacyStores(this);
  }

  private async lookup(input: string, platform: Platform, fallback = true): Promise<Lookup> {
    await this.ensureMigrated();
    const ref = parseReference(input);
    const resolved = await this.resolveEntry(await this.layout.readIndex(), ref);
    const here = resolved ? (resolved.inner ? [resolved.inner] : await this.presentManifests(resolved.descriptor)) : [];
    const match = here.find((d) => platformMatches(d.platform, platform));
    if (match) return { kind: "found", image: await this.readImage(match, canonicalName(ref)) };
    if (fallback && !resolved?.inner && (await this.importFromFallback(ref, platform))) return this.lookup(input, platform, false);
    if (here.length === 0 || (await this.registryOffers(here, platform))) return { kind: "absent" };
    return { kind: "other-platforms", platforms: here.map((d) => formatPlatform(d.platform!)) };
  }

  /** Whether a registry index one of these manifests was pulled from lists `platform`. */
  private async registryOffers(manifests: Descriptor[], platform: Platform): Promise<boolean> {
    for (const digest of new Set(manifests.map((d) => d.annotations?.[INDEX_ANNOTATION]).filter((d): d is string => d !== undefined))) {
      try {
        const index = await this.layout.readJsonBlob<ImageIndex>(digest);
        if (index.manifests.some((d) => platformMatches(d.platform, platform))) return true;
      } catch {
        // not kept: nothing known
      }
    }
    return false;
  }

  /**
   * The entry `ref` names: by name; for a digest reference also an entry
   * whose manifest (or one of whose platforms, or the registry index it came
   * from) has that digest.
   */
  private async resolveEntry(index: ImageIndex, ref: ImageReference): Promise<{ descriptor: Descriptor; inner?: Descriptor } | undefined> {
    const wanted = canonicalName(ref);
    const byName = index.manifests.find((d) => d.annotations?.[Annotation.refName] === wanted);
    if (byName || !ref.digest) return byName && { descriptor: byName };
    for (const d of index.manifests) {
      if (d.digest === ref.digest || d.annotations?.[INDEX_ANNOTATION] === ref.digest) return { descriptor: d };
      if (!isIndexMediaType(d.mediaType)) continue;
      const inner = (await this.manifestsOf(d)).find((m) => m.digest === ref.digest);
      if (inner) return { descriptor: d, inner };
      if ((await this.manifestsOf(d)).some((m) => m.annotations?.[INDEX_ANNOTATION] === ref.digest)) return { descriptor: d };
    }
    return undefined;
  }

  /** The platform manifests an entry names (each with its `platform`), whether or not the store has their blobs. */
  private manifestsOf(entry: Descriptor): Promise<Descriptor[]> {
    return manifestsIn(this.layout, entry);
  }

  /** The platform manifests of an index.json entry that the store has (each with its `platform`). */
  async presentManifests(entry: Descriptor): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const d of await this.manifestsOf(entry)) if (await this.layout.hasBlob(d.digest)) out.push(d);
    return out;
  }

  private async copyBlob(source: OciLayout, blob: Descriptor, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    // (marked: a prune under the writer's lease spares it; a copy of the wrong size is written again from the source)
    if (await this.layout.reuseBlob(blob.digest, blob.size)) return;
    // Checked first: a stream that fails to open emits its error before writeBlob listens.
    if (!(await source.hasBlob(blob.digest))) throw new ImageError(`blob ${blob.digest} is missing from ${source.label}`);
    const stream = source.openBlob(blob.digest);
    try {
      await this.layout.writeBlob(stream, { digest: blob.digest, size: blob.size }, signal);
    } catch (err) {
      if (isErrno(err, "ENOENT")) throw new ImageError(`blob ${blob.digest} is missing from ${source.label}`);
      // A load's full disk: named as the store's, with the data dir's hint (the temp is gone when the CLI looks).
      if (isDiskFull(err)) throw blobWriteError(blob.digest, err, this.layout.dir);
      throw err;
    } finally {
      stream.destroy();
    }
  }

  /** Imports the embedded image `ref` for `platform`, if there is one; whether it did. */
  private async importFromFallback(ref: ImageReference, platform: Platform): Promise<boolean> {
    for (const layout of this.fallbackLayouts()) {
      let index: ImageIndex;
      try {
        index = await layout.readIndex();
      } catch {
        continue;
      }
      for (const d of index.manifests.filter((d) => descriptorNameMatches(d, ref))) {
        if (!(await manifestsIn(layout, d)).some((m) => platformMatches(m.platform, platform))) continue;
        await this.importImage(layout, d, canonicalName(ref), { only: platform });
        return true;
      }
    }
    return false;
  }

  private async readImage(descriptor: Descriptor, name: string): Promise<StoredImage> {
    const layout = this.layout;
    const manifest = await layout.readJsonBlob<ImageManifest>(descriptor.digest);
    if (!manifest.config || !Array.isArray(manifest.layers)) throw new ImageError(`manifest ${descriptor.digest} is malformed`);
    const config = await layout.readJsonBlob<ImageConfig>(manifest.config.digest);
    if (config.rootfs?.type !== "layers" || !Array.isArray(config.rootfs.diff_ids)) {
      throw new ImageError(`image config ${manifest.config.digest} has no rootfs.diff_ids`);
    }
    checkDiffIds(manifest, config, `image ${name}`);
    return { name, manifestDigest: descriptor.digest, manifest, configDigest: manifest.config.digest, config };
  }
}

/**
 * The digest a name's image has in its registry, to pin it by (docker's
 * RepoDigests, `images --digests`, pull's `Digest:`): the multi-platform
 * index it was pulled from, whose digest serves every platform, else its
 * manifest's. Before stop 46 it was always the platform manifest's.
 */
export function repoDigest(d: Descriptor): string {
  return d.annotations?.[INDEX_ANNOTATION] ?? d.digest;
}

/** An image id or a prefix of one, with or without `sha256:` (docker's: `rmi 3f2` when no other id starts so). */
const IMAGE_ID_RE = /^(sha256:)?[0-9a-f]{1,64}$/;
/** One of at least 12 hex digits, what `images` shows: taken for an id before a name. */
const LONG_ID_RE = /^(sha256:)?[0-9a-f]{12,64}$/;

const shortHex = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 12);

/**
 * The platform manifests a descriptor of `layout` names: itself, or an
 * index's (nested indexes flattened), each with its `platform` (read from
 * the image config when the descriptor has none). Attestation manifests
 * (`unknown/unknown`) are no images. Unreadable documents name nothing.
 */
async function manifestsIn(layout: OciLayout, descriptor: Descriptor, problems?: string[]): Promise<Descriptor[]> {
  const found = new Map<string, Descriptor>();
  await collectManifests(layout, descriptor, 0, found, new Set(), problems);
  return [...found.values()];
}

/** An index (nested ones counted) naming more distinct documents than this is refused: real ones name a few dozen. */
const MAX_INDEX_ENTRIES = 1000;

/**
 * `manifestsIn`'s walk: each document once (an archive of five nested indexes listing the next ten times each
 * became 100,000 identical entries, and a larger one a stack overflow), at most MAX_INDEX_ENTRIES of them.
 */
async function collectManifests(layout: OciLayout, descriptor: Descriptor, depth: number, found: Map<string, Descriptor>, seen: Set<string>, problems?: string[]): Promise<void> {
  const key = `${descriptor.digest} ${descriptor.platform ? formatPlatform(descriptor.platform) : ""}`;
  if (seen.has(key)) return;
  seen.add(key);
  if (seen.size > MAX_INDEX_ENTRIES) throw new ImageError(`${descriptor.digest}: an index that names more than ${MAX_INDEX_ENTRIES} manifests is not loaded`);
  const one = await oneManifest(layout, descriptor, depth, problems);
  if (Array.isArray(one)) {
    for (const d of one) await collectManifests(layout, d, depth + 1, found, seen, problems);
  } else if (one && !found.has(one.digest)) {
    found.set(one.digest, one);
  }
}

/**
 * A platform manifest (with its platform), an index's entries (a list), or nothing; why nothing, when a document
 * could not be read, goes to `problems` (what `load` says of an archive that names no image).
 */
async function oneManifest(layout: OciLayout, descriptor: Descriptor, depth: number, problems?: string[]): Promise<Descriptor | Descriptor[] | undefined> {
  if (isManifestMediaType(descriptor.mediaType)) {
    if (descriptor.platform) return descriptor.platform.os === "unknown" ? undefined : descriptor;
    try {
      const manifest = await readDocument<ImageManifest>(layout, descriptor.digest, "manifest");
      const config = await readDocument<ImageConfig>(layout, manifest.config?.digest, `the config of manifest ${descriptor.digest}`);
      return { ...descriptor, platform: { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) } };
    } catch (err) {
      problems?.push((err as Error).message);
      return undefined;
    }
  }
  if (!isIndexMediaType(descriptor.mediaType)) {
    problems?.push(`${String(descriptor.digest)} is of media type ${JSON.stringify(descriptor.mediaType ?? null)}, neither an image manifest nor an index`);
    return undefined;
  }
  if (depth > 4) {
    problems?.push(`its indexes are nested more than ${depth} deep`);
    return undefined;
  }
  try {
    const index = await readDocument<ImageIndex>(layout, descriptor.digest, "index");
    if (Array.isArray(index.manifests)) return index.manifests.filter((d) => typeof d === "object" && d !== null);
    problems?.push(`index ${descriptor.digest} has no manifests list`);
  } catch (err) {
    problems?.push((err as Error).message);
  }
  return undefined;
}

/** A JSON document of a layout by its digest, failing with what is wrong: an invalid digest, a missing blob, not JSON. */
async function readDocument<T>(layout: OciLayout, digest: unknown, what: string): Promise<T> {
  if (typeof digest !== "string" || !isDigest(digest)) throw new ImageError(`${what} has an invalid digest ${JSON.stringify(digest ?? null)}`);
  if (!(await layout.hasBlob(digest))) throw new ImageError(`${what} ${digest} is missing from ${layout.label}`);
  return layout.readJsonBlob<T>(digest);
}

function samePlatform(a: Platform | undefined, b: Platform | undefined): boolean {
  return a !== undefined && b !== undefined && a.os === b.os && a.architecture === b.architecture && (a.variant ?? "") === (b.variant ?? "");
}

/**
 * docker's image SIZE: what its layers hold unpacked (the tars' sizes, as
 * podman counts), not their compressed blobs — so `images`, `inspect` and
 * `system df -v` agree, and one image stored with gzip'd, zstd'd and plain
 * layers (a docker-archive) shows one size: {@link layerTarSize}.
 */
export function imageSize(layout: OciLayout, image: StoredImage): number {
  return image.manifest.layers.reduce((sum, l) => sum + layerTarSize(layout, l), 0);
}

/**
 * A layer's size unpacked (its tar's), as `imageSize` counts it; `history` shows each. Measured by its unpack
 * here when there was one (`load` and `pull` unpack the store's platform); else what the blob claims
 * ({@link compressedTarSize}), where that is plausible; else the blob's size.
 */
export function layerTarSize(layout: OciLayout, layer: Descriptor): number {
  const recorded = layout.tarSize(layer.digest);
  if (recorded !== undefined) return recorded;
  const kind = /gzip$/.test(layer.mediaType) ? "gzip" : /zstd$/.test(layer.mediaType) ? "zstd" : undefined;
  if (kind === undefined) return layer.size;
  let fd: number | undefined;
  try {
    fd = openSync(layout.blobPath(layer.digest), "r");
    return plausibleTarSize(compressedTarSize(fd, kind, layer.size), layer.size);
  } catch {
    return layer.size; // a blob not here (another platform's, a partial pull)
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The size a blob of `size` bytes claims for its tar, if it can be the tar's; else the blob's size. The image
 * chose those bytes (a truncated gzip's last 4 bytes showed 886MB for a 1 MB layer, a zstd header may claim
 * 2^64): a claim past the decompression cap (TSBOX_MAX_LAYER_RATIO × the blob) is no unpack's, and a tar is
 * not smaller than its blob, so a smaller claim is partial (a multi-member gzip's last member, a first zstd frame)
 * or a gzip count that wrapped at 2^32 (a tar past 4 GiB: from any blob of 4 GiB or more). A tar past 4 GiB whose
 * count wrapped to more than its blob is not told apart here: its unpack's record is.
 */
function plausibleTarSize(claimed: number | undefined, size: number): number {
  if (claimed === undefined || claimed < size) return size;
  let maxRatio = DEFAULT_LAYER_LIMITS.maxRatio;
  try {
    maxRatio = layerLimits().maxRatio;
  } catch {
    // an invalid TSBOX_MAX_LAYER_RATIO is said by the commands that unpack
  }
  return claimed > maxRatio * size ? size : claimed;
}

/**
 * What a compressed blob says its content's size is: a gzip member's last 4
 * bytes (its length mod 2^32, and of a multi-member gzip the last member's),
 * a zstd frame header's Frame_Content_Size (RFC 8878 3.1.1.1; absent when
 * the compressor streamed, and of several frames the first's).
 */
function compressedTarSize(fd: number, kind: "gzip" | "zstd", size: number): number | undefined {
  if (kind === "gzip") {
    const tail = Buffer.alloc(4);
    return readSync(fd, tail, 0, 4, size - 4) === 4 ? tail.readUInt32LE(0) : undefined;
  }
  const head = Buffer.alloc(18); // magic, descriptor, window, dictionary id (≤ 4), content size (≤ 8)
  const got = readSync(fd, head, 0, head.length, 0);
  if (got < 5 || head.readUInt32LE(0) !== 0xfd2fb528) return undefined;
  const descriptor = head[4]!;
  const single = (descriptor & 0x20) !== 0;
  const fcsBytes = [single ? 1 : 0, 2, 4, 8][descriptor >> 6]!;
  const at = 5 + (single ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]!;
  if (fcsBytes === 0 || at + fcsBytes > got) return undefined;
  if (fcsBytes === 1) return head[at]!;
  if (fcsBytes === 2) return head.readUInt16LE(at) + 256;
  return fcsBytes === 4 ? head.readUInt32LE(at) : Number(head.readBigUInt64LE(at));
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

/**
 * An image's platform as its config or index says it, before it is stored: printed by `pull`, `images` and
 * `inspect` and matched against the backend's, so only the characters platforms have (a hostile registry put
 * terminal escapes there, shown on every `images`).
 */
function checkPlatformShape(name: string, p: Platform): void {
  for (const value of [p.os, p.architecture, ...(p.variant !== undefined ? [p.variant] : [])]) {
    if (typeof value !== "string" || !/^[a-z0-9][a-z0-9._-]{0,31}$/i.test(value)) {
      throw new ImageError(`image ${name} names a malformed platform: ${JSON.stringify([p.os, p.architecture, p.variant].filter((v) => v !== undefined).join("/"))}`);
    }
  }
}
