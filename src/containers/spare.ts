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
import type { SpareContainer } from "../backends/backend.js";
import type { ContainerSpec } from "../spec/container-spec.js";
import type { RunOptions } from "../spec/run-options.js";
import { spareFits } from "../spec/spare-fit.js";

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
 * differ only where a spare's start may differ (checked again by `spareFitsRun`); undefined: no spare for it.
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
 * Whether a run's spec (made for the spare's id) fits the spare's: `spareFits`, but the container's name, which
 * only a network's keeper uses (a spare joins none), may differ: a spare has none.
 */
export function spareFitsRun(spare: ContainerSpec, run: ContainerSpec): boolean {
  if (!run.network || !spare.network) return spareFits(spare, run);
  return spareFits(spare, { ...run, network: { ...run.network, container: spare.network.container } });
}

/** A spare taken out for a run: its id (the run's now), spec and container. */
export interface SpareSlot {
  id: string;
  spec: ContainerSpec;
  container: SpareContainer;
  /** It ends (not started: the run goes on in its bundle, or the bundle goes); resolves once it has. */
  drop(): Promise<void>;
}

/** What makes a spare: its bundle and spec prepared, the backend's container set up there (undefined: none). */
export type SpareMaker = () => Promise<{ id: string; spec: ContainerSpec; container: SpareContainer } | undefined>;

interface Held {
  kind: string;
  id: string;
  spec: ContainerSpec;
  container: SpareContainer;
}

/** The one spare of a Runtime. `removeBundle`: deletes a spare's bundle its supervisor did not. */
export class SpareKeeper {
  private held: Held | undefined;
  private making: Promise<void> | undefined;
  /** Spares being dropped: a new one waits for them (never two at once). */
  private leaving: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly removeBundle: (id: string) => Promise<void>) {}

  /** The spare of `kind` once ready, taken out (the caller's now); a spare of another kind is dropped. */
  async take(kind: string): Promise<SpareSlot | undefined> {
    // One being made is as good as made: its set-up runs beside this run's own preparation.
    if (this.making) await this.making;
    const held = this.held;
    if (!held) return undefined;
    this.held = undefined;
    if (held.kind !== kind || !(await held.container.ready)) {
      this.discard(held);
      return undefined;
    }
    return {
      id: held.id,
      spec: held.spec,
      container: held.container,
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
          const held = { kind, ...made };
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

  /** No more spares; the one there ends and its bundle goes (resolves once it has). */
  async close(): Promise<void> {
    this.closed = true;
    await this.making;
    if (this.held) this.discard(this.held);
    this.held = undefined;
    await this.leaving;
  }

  /** Its supervisor deletes its bundle as it ends; ours is the fallback (it never ran, or was killed). */
  private discard(held: Held): void {
    held.container.drop();
    const gone = held.container.ended.then(() => this.removeBundle(held.id)).catch(() => {});
    this.leaving = Promise.all([this.leaving, gone]).then(() => {});
  }
}
