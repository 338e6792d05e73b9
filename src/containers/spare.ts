/**
 * Spare containers of a Runtime (docs/architecture.md "Spare containers of the warm helper"): after a
 * foreground library run, one container of that run's kind is set up ahead (its bundle, cgroup, namespaces,
 * root, mounts and pivot; the backend's `spare`), and the next run of that kind takes it: only its process
 * (command, environment, working directory, user) is given at start. At most one per Runtime.
 *
 * Only kinds whose set-up has no effect outside the bundle get one: `--rm`, no terminal, `--network none`,
 * no volumes, binds, tmpfs, devices or `--init` binary, no restart policy, no host or peer namespaces, no
 * `--userns`. Until taken a spare has no name and no state.json, so `ps`, `inspect`, names and prune never see
 * it (its bundle's creator file, bundle-dir.ts, keeps prune and rmi off it while this process lives); one left
 * by a killed process is collected as an orphaned `--rm` container (Runtime.collectOrphans).
 */
import { writeFileSync } from "node:fs";
import type { SpareContainer } from "../backends/backend.js";
import { randomHex } from "../fs-util.js";
import type { DataPaths } from "../paths.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import type { RunOptions } from "../spec/run-options.js";
import { LATE_PROCESS_FIELDS } from "../spec/spare-fit.js";
import { makeBundleDir, makeRootDirs } from "./bundle-dir.js";
import { writeSpec } from "./spec-file.js";

/** The options a spare's kind may carry at all; any other makes a run that never gets one. */
const ALLOWED = new Set<string>([
  "image", "platform", "pull", "cmd", "entrypoint", "env", "workdir", "user", "hostname", "readOnly", "tty",
  "stdin", "stdout", "stderr", "remove", "name", "network", "restart", "capAdd", "capDrop", "seccomp",
  "noNewPrivileges", "labels", "stopSignal", "stopTimeout", "log", "ulimits", "groupAdd", "expose", "resources",
  "oomScoreAdj", "shmSize", "sysctls", "addHosts", "dns", "dnsSearch", "dnsOptions",
]);

/** Options that shape only the process or the container's records, not its set-up: not part of a kind. */
const LATE = new Set<string>(["cmd", "entrypoint", "env", "workdir", "user", "name", "stdin", "stdout", "stderr", "labels", "stopSignal", "stopTimeout", "log"]);

/**
 * The kind of a foreground run (`network`: the Runtime's default), as a key: runs of one kind get specs that
 * differ only where a spare's start may differ (checked again: `spareFitKey`); undefined: no spare for it.
 */
export function spareKind(options: RunOptions, network: string): string | undefined {
  if (options.remove !== true || options.tty || (options.network ?? network) !== "none") return undefined;
  if ((options.restart ?? "no") !== "no" || (options.pull ?? "missing") !== "missing") return undefined;
  const kind: [string, unknown][] = [];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (!ALLOWED.has(key)) return undefined;
    if (!LATE.has(key)) kind.push([key, value]);
  }
  return JSON.stringify(kind.sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * What of a spec a spare's start may not change, as text: `spareFits` (spec/spare-fit.ts), but plain JSON (runs of
 * one kind have their specs built by one builder, in one key order) and without the container's name, which
 * only a network's keeper uses (a spare joins none, and has no name). Equal texts: the run fits the spare.
 */
export function spareFitKey(spec: ContainerSpec): string {
  const process: Record<string, unknown> = { ...spec.process };
  for (const field of LATE_PROCESS_FIELDS) delete process[field];
  // On a read-only root the working directory must be the spare's: a spare made a missing one before the
  // root went read-only.
  if (spec.root.readonly) process.cwd = spec.process.cwd;
  const network = spec.network ? { ...spec.network, container: { id: spec.network.container.id } } : undefined;
  return JSON.stringify({ ...spec, process, ...(network ? { network } : {}) });
}

/** The foreground run a spare is made after: its id and spec, image (manifest digest) and layer dirs. */
export interface SpareSource {
  id: string;
  spec: ContainerSpec;
  image: string;
  layers: string[];
}

/**
 * A spare's bundle, for a new id, made after a run of its kind (its bundle as `Runtime.prepare` makes one, and
 * its spec that run's with the new id: a run's id shows in its paths, hostname and HOSTNAME only; the run that
 * takes the spare has its spec built in full and compared, `spareFitKey`). No name, no state.json, no
 * inspect.json. undefined: the kind has a bind from outside the bundle (a volume, an image's VOLUME, --init's
 * binary), which a later run would have to check again.
 */
export function makeSpareBundle(paths: DataPaths, run: SpareSource): { id: string; bundle: ReturnType<DataPaths["container"]>; spec: ContainerSpec } | undefined {
  const own = paths.container(run.id).dir + "/";
  if (run.spec.mounts.some((m) => m.type === "bind" && !m.source.startsWith(own))) return undefined;
  if (run.spec.network?.attach.length) return undefined;
  const id = randomHex(32);
  const bundle = paths.container(id);
  const text = JSON.stringify(run.spec).replaceAll(run.id, id).replaceAll(run.id.slice(0, 12), id.slice(0, 12));
  const spec = JSON.parse(text) as ContainerSpec;
  if (spec.network) spec.network.container = { id: spec.network.container.id };
  makeBundleDir(paths, bundle, run.image, run.layers);
  makeRootDirs(bundle);
  // A --rm container's marker: one left by a killed process is collected as an orphan (Runtime.collectOrphans).
  writeFileSync(paths.removalMarker(id), "");
  writeSpec(bundle.config, spec);
  return { id, bundle, spec };
}

/** A spare taken out for a run: its id (the run's now) and container. */
export interface SpareSlot {
  id: string;
  /** The image (manifest digest) its bundle's creator file claims, with its layers, since it was made. */
  image: string;
  container: SpareContainer;
  /** Whether the run's spec (made for this id) fits the spare's (`spareFitKey`). */
  fits(spec: ContainerSpec): boolean;
  /** It ends (not started: the run goes on in its bundle, or the bundle goes); resolves once it has. */
  drop(): Promise<void>;
}

/** A spare made: its id, spec, image and the backend's container set up in its bundle. */
export interface MadeSpare {
  id: string;
  spec: ContainerSpec;
  image: string;
  container: SpareContainer;
}

/** What makes a spare (undefined: none for this kind). */
export type SpareMaker = () => Promise<MadeSpare | undefined>;

interface Held {
  kind: string;
  id: string;
  image: string;
  /** Its spec's `spareFitKey`, made with it (not on the run's path). */
  key: string;
  container: SpareContainer;
  /** Its set-up failed (or it ended): no run takes it. */
  failed: boolean;
}

/** The one spare of a Runtime. `removeBundle`: deletes a spare's bundle its supervisor did not. */
export class SpareKeeper {
  private held: Held | undefined;
  private making: Promise<void> | undefined;
  /** Spares being dropped: a new one waits for them (never two at once). */
  private leaving: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly removeBundle: (id: string) => Promise<void>) {}

  /** The id of the spare held now (its bundle is not an orphan's). */
  get id(): string | undefined {
    return this.held?.id;
  }

  /** The spare of `kind`, taken out (the caller's now; it may still be setting up); another kind's is dropped. */
  async take(kind: string): Promise<SpareSlot | undefined> {
    // One being made is as good as made: its set-up runs beside this run's own preparation.
    if (this.making) await this.making;
    const held = this.held;
    if (!held) return undefined;
    this.held = undefined;
    if (held.kind !== kind || held.failed) {
      this.discard(held);
      return undefined;
    }
    // Not waited for here: its set-up goes on beside the run's preparation; `start` waits (its `ready`), and a
    // spare that failed meanwhile leaves the bundle to the run (its supervisor deletes no claimed bundle).
    return {
      id: held.id,
      image: held.image,
      container: held.container,
      fits: (spec) => spareFitKey(spec) === held.key,
      drop: async () => {
        held.container.drop();
        await held.container.ended;
      },
    };
  }

  /** After a run of `kind` started: a spare of that kind, made once this run's caller has its container. */
  later(kind: string, make: SpareMaker): void {
    if (this.closed || this.held || this.making) return;
    const making = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.leaving)
      .then(make)
      .then(
        (made) => {
          if (!made) return;
          const held: Held = { kind, id: made.id, image: made.image, key: spareFitKey(made.spec), container: made.container, failed: false };
          void made.container.settled.then((ok) => (held.failed = !ok));
          if (this.closed) this.discard(held);
          else this.held = held;
        },
        () => {},
      )
      .finally(() => {
        if (this.making === making) this.making = undefined;
      });
    this.making = making;
  }

  /** The spare there ends and its bundle goes (resolves once it has); a later run makes another. */
  async clear(): Promise<void> {
    await this.making;
    if (this.held) this.discard(this.held);
    this.held = undefined;
    await this.leaving;
  }

  /** `clear`, and no more spares (Runtime.close()). */
  async close(): Promise<void> {
    this.closed = true;
    await this.clear();
  }

  /** Its supervisor deletes its bundle as it ends; ours is the fallback (it never ran, or was killed). */
  private discard(held: Held): void {
    held.container.drop();
    const gone = held.container.ended.then(() => this.removeBundle(held.id)).catch(() => {});
    this.leaving = Promise.all([this.leaving, gone]).then(() => {});
  }
}
