/**
 * `tsbox build`: a Dockerfile's stages run in order, each instruction
 * changing the stage's image config (ENV, WORKDIR, CMD, …) or adding a
 * layer: RUN in a container of the image so far, whose writable layer is
 * committed (deletions as whiteouts), and COPY/ADD written into a stopped
 * container of it through the same safe copy helper as `tsbox cp`. Every
 * layer step's image is kept as the build cache (cache.ts); only the stages
 * the target needs are built; the final image gets the tags.
 */
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { posix } from "node:path";
import type { Runtime } from "../runtime.js";
import { type CommitConfig, mergeKeyValues } from "../image/commit-changes.js";
import type { ImageConfig, Platform } from "../image/oci.js";
import { formatPlatform, parsePlatform, platformMatches } from "../image/platform.js";
import { BuildError } from "./build-error.js";
import { CACHE_KEY_ANNOTATION, chainKey, findCached } from "./cache.js";
import { BuildContext, type ContextSource, sourcesDigest } from "./context.js";
import { type Dockerfile, expandWord, type Heredoc, type Instruction, keyValuePairs, oneWord, parseDockerfile, splitWords } from "./dockerfile.js";
import { ADD_PREFIX, copyStep, type CopyRequest, type CopyResult } from "./copy-step.js";
import { STDIN_PREFIX } from "./stdin-context.js";
import { abandonedTemps } from "../temp-names.js";
import { runStep } from "./run-step.js";
import { parseDuration } from "../containers/healthcheck.js";
import { stopSignalProblem } from "../containers/signals.js";
import { type RunMounts, runMounts } from "./run-mounts.js";
import { snapshotBinds } from "./bind-snapshot.js";
import { errorMessage, UsageError } from "../errors.js";
import { checkOptions, type OptionKinds } from "../spec/run-options-check.js";
import { canonicalName, parseReference } from "../image/reference.js";
import { nameManifest, storeImageEntry } from "../image/commit-image.js";
import { removeOrphanedSteps } from "./step-containers.js";
import { compareText } from "../compare.js";

export interface BuildOptions {
  /** The build context: the directory COPY and ADD read from. */
  context: string;
  /** The Dockerfile's path (default `Dockerfile` in the context; a relative path is the context's). */
  dockerfile?: string;
  /** The Dockerfile's text instead of a file. */
  dockerfileText?: string;
  /** Names for the image (`-t`). */
  tags?: string[];
  /** `--build-arg`: values for the Dockerfile's ARGs. */
  buildArgs?: Record<string, string>;
  /** The stage to build (default the last). */
  target?: string;
  /** Run every step again instead of taking earlier builds' images. */
  noCache?: boolean;
  /** Pull every FROM image, even one the store has. */
  pull?: boolean;
  /** Labels added to the final image. */
  labels?: Record<string, string>;
  /** The network of RUN's containers (default the runtime's). */
  network?: string;
  /** Progress lines and RUN's output, as they come. */
  onOutput?: (text: string) => void;
  /** Aborts the build (the running step's container is removed). */
  signal?: AbortSignal;
}

export interface BuildResult {
  /** The image id (config digest). */
  id: string;
  /** The names it was given, canonical. */
  tags: string[];
}

/** The image's run config, with what docker's holds beyond OCI's (Shell, Healthcheck, OnBuild). */
export type StageConfig = CommitConfig & { Shell?: string[]; Healthcheck?: unknown };

/** A stage while it builds. */
export interface Stage {
  index: number;
  name?: string;
  /** The image so far; undefined while a `FROM scratch` stage has no layer. */
  image?: { manifestDigest: string; configDigest: string };
  platform: Platform;
  config: StageConfig;
  /** Metadata steps since the last stored image, for its history (empty_layer entries). */
  pending: string[];
  /** The cache chain's key so far. */
  key: string;
  /** ARGs in scope and their values. */
  args: Map<string, string>;
  /** Whether this stage set CMD (ENTRYPOINT clears an inherited one). */
  cmdSet: boolean;
  author?: string;
}

const DEFAULT_SHELL = ["/bin/sh", "-c"];

/**
 * What RUN's shell runs for a command with here-documents (BuildKit's rules):
 * `RUN <<EOF` alone runs the document as the script (one starting `#!` through
 * that interpreter, reading it from stdin as a file); otherwise the command
 * and the documents as written go to the shell, which reads them itself.
 */
export function heredocScript(command: string, docs: readonly Heredoc[]): string {
  const alone = docs.length === 1 && /^<<-?(["']?)[A-Za-z_][A-Za-z0-9_]*\1$/.test(command.trim());
  if (!alone) return `${command}\n${docs.map((d) => d.raw).join("\n")}`;
  const body = docs[0]!.body;
  if (!body.startsWith("#!")) return body;
  const newline = body.indexOf("\n");
  const lines = new Set(body.split("\n"));
  let delimiter = "TSBOX_SCRIPT";
  while (lines.has(delimiter)) delimiter += "_";
  return `exec ${body.slice(2, newline).trim()} /dev/stdin <<'${delimiter}'\n${body.slice(newline + 1)}${delimiter}\n`;
}
/** BuildKit's automatic platform ARGs, here always this runtime's platform. */
function platformArgs(p: Platform): Record<string, string> {
  const platform = formatPlatform(p);
  const os = p.os;
  const arch = p.architecture;
  const variant = p.variant ?? "";
  return {
    TARGETPLATFORM: platform, TARGETOS: os, TARGETARCH: arch, TARGETVARIANT: variant,
    BUILDPLATFORM: platform, BUILDOS: os, BUILDARCH: arch, BUILDVARIANT: variant,
  };
}
/** ARGs every Dockerfile may use without declaring them (docker's proxy variables). */
const PREDEFINED = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"];

const BUILD_KINDS: OptionKinds<BuildOptions> = {
  context: "string", dockerfile: "string", dockerfileText: "string", tags: "strings", buildArgs: "stringMap", target: "string",
  noCache: "boolean", pull: "boolean", labels: "stringMap", network: "string", onOutput: "function", signal: "abortSignal",
};

export async function build(rt: Runtime, options: BuildOptions): Promise<BuildResult> {
  checkOptions("build", options, BUILD_KINDS);
  // (it said: path "undefined" not found)
  if (options.context === undefined) throw new UsageError("build options: context: expected a string (the build context's directory), got nothing");
  // A bad -t is a flag error (docker's: 125, before any context is read), not a failed build.
  for (const tag of options.tags ?? []) checkTag(tag);
  const say = options.onOutput ?? (() => {});
  const context = new BuildContext(options.context, options.dockerfileText === undefined ? (options.dockerfile ?? "Dockerfile") : undefined);
  let text = options.dockerfileText;
  if (text === undefined) {
    const file = posix.resolve(context.root, options.dockerfile ?? "Dockerfile");
    text = context.readFile(file, "Dockerfile");
    // The path as it was looked for: -f is relative to the working directory (the CLI resolves it), not to the context.
    if (text === undefined) throw new BuildError(`failed to read the Dockerfile: ${file}: no such file or directory`);
  }
  const dockerfile = parseDockerfile(text);
  await removeOrphanedSteps(rt);
  // What killed builds left of their downloads and stdin contexts (else there until a prune, as large as they were).
  for (const left of [...abandonedTemps(rt.dataDir, ADD_PREFIX), ...abandonedTemps(rt.dataDir, STDIN_PREFIX)]) rmSync(left, { recursive: true, force: true });
  const b = new Build(rt, dockerfile, context, options, say);
  return b.run();
}

function checkTag(tag: string): void {
  try {
    if (parseReference(tag).digest) throw new Error("digest");
  } catch {
    throw new UsageError(`invalid tag "${tag}": expected NAME[:TAG]`);
  }
}

class Build {
  private readonly platform: Platform;
  private readonly buildArgs: Map<string, string>;
  private readonly usedArgs = new Set<string>();
  private readonly stages: { from: Instruction; body: Instruction[]; name?: string }[] = [];
  private readonly globalArgs = new Map<string, string>();
  private readonly results = new Map<number, Stage>();
  private step = 0;
  private steps = 0;
  /** Each warning once (every RUN's container would repeat a host's missing cgroup delegation). */
  private readonly warned = new Set<string>();
  private readonly say: (text: string) => void;

  constructor(
    private readonly rt: Runtime,
    private readonly file: Dockerfile,
    private readonly context: BuildContext,
    private readonly options: BuildOptions,
    say: (text: string) => void,
  ) {
    this.say = (text) => {
      if (text.startsWith("[warning]")) {
        if (this.warned.has(text)) return;
        this.warned.add(text);
      }
      say(text);
    };
    this.platform = rt.imageStore.platform;
    this.buildArgs = new Map(Object.entries(options.buildArgs ?? {}));
  }

  async run(): Promise<BuildResult> {
    for (const warning of this.file.warnings) this.say(`[warning] ${warning}\n`);
    this.split();
    const target = this.targetIndex();
    const needed = this.needed(target);
    this.steps = 0;
    await this.buildStages(needed);
    const unused = [...this.buildArgs.keys()].filter((k) => !this.usedArgs.has(k) && !PREDEFINED.includes(k));
    if (unused.length > 0) this.say(`[warning] one or more build-args were not consumed: ${unused.join(", ")}\n`);
    return this.finish(this.results.get(target)!);
  }

  /** Stages by FROM; ARGs before the first FROM are the global ones (FROM lines may use them). */
  private split(): void {
    for (const ins of this.file.instructions) {
      if (ins.keyword === "FROM") {
        const words = splitWords(ins.rest, this.globalArgs, this.file.escape, ins.line);
        if (words.length !== 1 && !(words.length === 3 && words[1]!.toUpperCase() === "AS")) {
          throw new BuildError(`dockerfile parse error on line ${ins.line}: FROM requires either one or three arguments (IMAGE [AS NAME])`);
        }
        const name = words[2]?.toLowerCase();
        if (name !== undefined && (!/^[a-z][a-z0-9._-]*$/.test(name) || this.stages.some((s) => s.name === name))) {
          throw new BuildError(`dockerfile parse error on line ${ins.line}: ${this.stages.some((s) => s.name === name) ? `duplicate stage name "${name}"` : `invalid stage name "${words[2]}"`}`);
        }
        this.stages.push({ from: ins, body: [], ...(name !== undefined ? { name } : {}) });
      } else if (this.stages.length === 0) {
        if (ins.keyword !== "ARG") throw new BuildError(`dockerfile parse error on line ${ins.line}: no build stage in current context (${ins.keyword} before the first FROM)`);
        for (const [k, v] of this.argWords(ins, this.globalArgs)) {
          const given = this.buildArgs.get(k);
          if (given !== undefined) this.usedArgs.add(k);
          const value = given ?? v;
          if (value !== undefined) this.globalArgs.set(k, value);
          else this.globalArgs.delete(k);
        }
      } else this.stages[this.stages.length - 1]!.body.push(ins);
    }
    if (this.stages.length === 0) throw new BuildError("the Dockerfile has no FROM instruction: nothing to build");
  }

  private targetIndex(): number {
    const target = this.options.target;
    if (target === undefined) return this.stages.length - 1;
    const i = this.stages.findIndex((s) => s.name === target.toLowerCase());
    if (i < 0) throw new BuildError(`target stage "${target}" could not be found`);
    return i;
  }

  /** The stage `target` and those its FROM and COPY --from (its own, or its base stage's ONBUILD's) name, transitively. */
  private needed(target: number): Set<number> {
    const out = new Set<number>();
    const visit = (i: number) => {
      if (out.has(i)) return;
      out.add(i);
      const s = this.stages[i]!;
      const base = splitWords(s.from.rest, this.globalArgs, this.file.escape, s.from.line)[0]!;
      // `--from=${SRC}`: as written and expanded with the global ARGs and --build-args (the stage's own ARG
      // values are known only as it builds; a stage visited needlessly costs time, a stage missed fails the build).
      const vars = new Map([...this.globalArgs, ...this.buildArgs]);
      const refs: [string, boolean][] = [[base, true]];
      const copies = s.body.filter((ins) => ins.keyword === "COPY" && ins.flags.has("from"));
      // A base stage's ONBUILD triggers run in this stage: their `COPY --from` names stages this one needs.
      let prior: number | undefined;
      try {
        prior = this.stageRef(base, i);
      } catch {
        // refused below, as written
      }
      for (const on of prior === undefined ? [] : this.stages[prior]!.body.filter((ins) => ins.keyword === "ONBUILD")) {
        let trigger: Instruction | undefined;
        try {
          trigger = parseDockerfile(on.rest).instructions[0];
        } catch {
          // refused with its line when the trigger runs
        }
        if (trigger?.keyword === "COPY" && trigger.flags.has("from")) copies.push({ ...trigger, line: on.line });
      }
      for (const ins of copies) {
        const raw = ins.flags.get("from")!;
        refs.push([raw, true]);
        try {
          refs.push([splitWords(raw, vars, this.file.escape, ins.line).join(" "), false]);
        } catch {
          // refused with its line when the stage builds
        }
      }
      for (const [ref, asWritten] of refs) {
        let j: number | undefined;
        try {
          j = this.stageRef(ref, i);
        } catch (err) {
          if (asWritten) throw err; // an expanded reference is checked when its stage builds
        }
        if (j !== undefined) visit(j);
      }
    };
    visit(target);
    return out;
  }

  /** The sources' digest for a cache key; a file the build cannot read is the step's error. */
  private async sourcesDigest(sources: ContextSource[], line: number): Promise<string> {
    return sourcesDigest(sources).catch((err: unknown) => {
      throw this.context.unreadable(err, line);
    });
  }

  /** The stages of `wanted` not built yet, in order; the step count grows by theirs. */
  private async buildStages(wanted: Set<number>): Promise<void> {
    const todo = [...wanted].filter((i) => !this.results.has(i)).sort((a, b) => a - b);
    this.steps += todo.reduce((n, i) => n + 1 + this.stages[i]!.body.length, 0);
    for (const i of todo) {
      this.options.signal?.throwIfAborted();
      this.results.set(i, await this.buildStage(i));
    }
  }

  /** A stage named (or numbered) `ref` before stage `before`, if `ref` is one. */
  private stageRef(ref: string, before: number): number | undefined {
    const byName = this.stages.findIndex((s, j) => j < before && s.name === ref.toLowerCase());
    if (byName >= 0) return byName;
    // A stage naming itself or a later one (BuildKit's words): else the name was pulled as an image.
    if (this.stages.some((s, j) => j >= before && s.name === ref.toLowerCase())) throw new BuildError(`circular dependency detected on stage: ${ref.toLowerCase()}`);
    if (/^\d+$/.test(ref)) {
      const n = Number(ref);
      if (n >= before) throw new BuildError(`invalid stage reference ${ref}: a stage can only use earlier stages`);
      return n;
    }
    return undefined;
  }

  private progress(ins: Instruction, note = ""): void {
    this.step++;
    this.say(`[${this.step}/${this.steps}] ${ins.text}${note}\n`);
  }

  private async buildStage(i: number): Promise<Stage> {
    const s = this.stages[i]!;
    const stage = await this.from(i, s.from);
    for (const ins of s.body) {
      this.options.signal?.throwIfAborted();
      await this.instruction(stage, ins);
    }
    return stage;
  }

  private async from(index: number, ins: Instruction): Promise<Stage> {
    const words = splitWords(ins.rest, this.globalArgs, this.file.escape, ins.line);
    const base = words[0]!;
    const asked = ins.flags.get("platform");
    if (asked !== undefined) {
      const p = splitWords(asked, new Map([...this.globalArgs, ...Object.entries(platformArgs(this.platform))]), this.file.escape, ins.line)[0] ?? "";
      let wanted: Platform;
      try {
        wanted = parsePlatform(p);
      } catch {
        throw new BuildError(`line ${ins.line}: invalid platform "${p}"`);
      }
      if (!platformMatches(wanted, this.platform)) throw new BuildError(`line ${ins.line}: tsbox build makes images for ${formatPlatform(this.platform)} (this runtime's platform), not ${p}`);
    }
    const stage: Stage = { index, name: this.stages[index]!.name, platform: this.platform, config: {}, pending: [], key: "", args: new Map(), cmdSet: false };
    if (stage.name === undefined) delete stage.name;
    const prior = this.stageRef(base, index);
    if (prior !== undefined) {
      const from = this.results.get(prior)!;
      this.progress(ins);
      stage.config = structuredClone(from.config);
      if (from.image) stage.image = { ...from.image };
      stage.pending = [...from.pending];
      stage.key = from.key;
      if (from.author !== undefined) stage.author = from.author;
      // An earlier stage's ONBUILD triggers run as if it had been built into an image first (BuildKit #5490).
      await this.onBuildTriggers(stage, ins);
      return stage;
    }
    if (base.toLowerCase() === "scratch") {
      this.progress(ins);
      // The platform is the image's own: a scratch build for the vm (linux/386) is not the native one's.
      stage.key = chainKey("", `FROM scratch ${formatPlatform(this.platform)}`);
      return stage;
    }
    this.progress(ins);
    const image = await this.baseImage(base, ins);
    stage.image = { manifestDigest: image.manifestDigest, configDigest: image.configDigest };
    stage.config = structuredClone((image.config.config ?? {}) as StageConfig);
    // The base's MAINTAINER stays the image's until one of this stage's own (BuildKit copies the base's config).
    const author = (image.config as { author?: string }).author;
    if (author) stage.author = author;
    stage.key = chainKey("", `FROM ${image.manifestDigest}`);
    await this.onBuildTriggers(stage, ins);
    return stage;
  }

  /** The base's ONBUILD triggers run first, as if written at its FROM (`ins`); the new stage does not inherit them. */
  private async onBuildTriggers(stage: Stage, ins: Instruction): Promise<void> {
    const triggers = stage.config.OnBuild ?? [];
    delete stage.config.OnBuild;
    for (const trigger of triggers) {
      const parsed = parseDockerfile(trigger).instructions[0];
      if (!parsed || ["ONBUILD", "FROM", "MAINTAINER"].includes(parsed.keyword)) throw new BuildError(`line ${ins.line}: the base image's ONBUILD trigger "${trigger}" is not allowed`);
      this.say(`  running the base image's ONBUILD ${trigger}\n`);
      await this.instruction(stage, { ...parsed, line: ins.line }, false);
    }
  }

  private async baseImage(ref: string, ins: Instruction): Promise<{ manifestDigest: string; configDigest: string; config: ImageConfig }> {
    const store = this.rt.imageStore;
    let image = this.options.pull ? undefined : await store.findImage(ref).catch((err) => {
      throw new BuildError(`line ${ins.line}: ${errorMessage(err)}`);
    });
    if (!image) {
      this.say(`  pulling ${ref}\n`);
      try {
        await this.rt.pull(ref, this.options.signal ? { signal: this.options.signal } : {});
      } catch (err) {
        if (err instanceof Error && err.name === "AbortError") throw err;
        // (--pull looks for no local copy: "unable to find" would say the image is not here)
        const why = this.options.pull ? `--pull: pulling ${ref} failed` : `unable to find image ${ref} locally, and pulling it failed`;
        throw new BuildError(`line ${ins.line}: ${why}: ${errorMessage(err)}`, err);
      }
      image = await store.getImage(ref);
    }
    return image;
  }

  /** Variables for substitution: the stage's ARGs, overridden by its ENV. */
  private vars(stage: Stage): Map<string, string> {
    const vars = new Map(stage.args);
    for (const e of stage.config.Env ?? []) {
      const eq = e.indexOf("=");
      vars.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? "" : e.slice(eq + 1));
    }
    return vars;
  }

  private argWords(ins: Instruction, vars: ReadonlyMap<string, string>): [string, string | undefined][] {
    const words = splitWords(ins.rest, vars, this.file.escape, ins.line);
    if (words.length === 0) throw new BuildError(`dockerfile parse error on line ${ins.line}: ARG requires at least one argument`);
    return words.map((w) => {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w : w.slice(0, eq);
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new BuildError(`dockerfile parse error on line ${ins.line}: invalid ARG name "${name}"`);
      return [name, eq < 0 ? undefined : w.slice(eq + 1)];
    });
  }

  /** One instruction of a stage; `shown` false for ONBUILD triggers (their FROM's step counts them). */
  private async instruction(stage: Stage, ins: Instruction, shown = true): Promise<void> {
    const vars = this.vars(stage);
    const words = () => splitWords(ins.rest, vars, this.file.escape, ins.line);
    // WORKDIR, USER, STOPSIGNAL: the rest of the line is the one argument, blanks and all (BuildKit's parseString).
    const one = () => {
      if (ins.rest === "") throw new BuildError(`dockerfile parse error on line ${ins.line}: ${ins.keyword} requires exactly one argument`);
      return oneWord(ins.rest, vars, this.file.escape, ins.line);
    };
    const config = stage.config;
    const meta = (history: string, keyText = history) => {
      if (shown) this.progress(ins);
      stage.pending.push(history);
      stage.key = chainKey(stage.key, keyText);
    };
    switch (ins.keyword) {
      case "ARG": {
        const parts: string[] = [];
        for (const [k, v] of this.argWords(ins, vars)) {
          const given = this.buildArgs.get(k);
          if (given !== undefined) this.usedArgs.add(k);
          const value = given ?? v ?? this.globalArgs.get(k) ?? platformArgs(this.platform)[k];
          if (value !== undefined) stage.args.set(k, value);
          parts.push(value !== undefined ? `${k}=${value}` : k);
        }
        // docker's rule: a new ARG value misses the cache where it is used (RUN's key has it), not where declared.
        return meta(`ARG ${parts.join(" ")}`, `ARG ${parts.map((p) => p.split("=")[0]).join(" ")}`);
      }
      case "ENV": {
        const pairs = keyValuePairs(ins, vars, this.file.escape, true);
        config.Env = mergeKeyValues(config.Env ?? [], pairs);
        return meta(`ENV ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}`);
      }
      case "LABEL": {
        const pairs = keyValuePairs(ins, vars, this.file.escape, true);
        config.Labels = { ...(config.Labels ?? {}), ...Object.fromEntries(pairs) };
        return meta(`LABEL ${pairs.map(([k, v]) => `${k}=${v}`).join(" ")}`);
      }
      case "MAINTAINER":
        stage.author = ins.rest;
        return meta(`MAINTAINER ${ins.rest}`);
      case "CMD":
        config.Cmd = this.command(stage, ins);
        stage.cmdSet = true;
        return meta(`CMD ${JSON.stringify(config.Cmd)}`);
      case "ENTRYPOINT":
        config.Entrypoint = this.command(stage, ins);
        // docker: an ENTRYPOINT set here drops a CMD the base image had.
        if (!stage.cmdSet) config.Cmd = null;
        return meta(`ENTRYPOINT ${JSON.stringify(config.Entrypoint)}`);
      case "SHELL":
        if (!ins.json || ins.json.length === 0) throw new BuildError(`dockerfile parse error on line ${ins.line}: SHELL requires the arguments to be in JSON form`);
        config.Shell = ins.json;
        return meta(`SHELL ${JSON.stringify(ins.json)}`);
      case "WORKDIR": {
        config.WorkingDir = posix.resolve(config.WorkingDir || "/", one());
        if (config.WorkingDir === "/") return meta(`WORKDIR ${config.WorkingDir}`);
        // BuildKit's mkdir -p (0755, owned by USER): a layer, so that USER can write in its WORKDIR and a COPY keeps the owner.
        const request: CopyRequest = {
          ins, kind: "context", sources: [], dest: config.WorkingDir, destIsDir: true, createdBy: `WORKDIR ${config.WorkingDir}`,
          ...(config.User ? { chown: config.User, chownOf: "USER" } : {}),
          cacheKey: `${config.WorkingDir} ${config.User ?? ""}`,
        };
        return this.layerStep(stage, ins, shown, `WORKDIR ${request.cacheKey}`, (annotations) => copyStep(this.rt, stage, request, annotations, this.say, this.options.signal));
      }
      case "USER": {
        config.User = one();
        return meta(`USER ${config.User}`);
      }
      case "EXPOSE": {
        const ports = { ...(config.ExposedPorts ?? {}) };
        for (const p of words()) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          const [first, last] = [Number(m?.[1]), Number(m?.[2] ?? m?.[1])];
          if (!m || last < first || last > 65535) throw new BuildError(`line ${ins.line}: invalid port "${p}" in EXPOSE`);
          // docker's nat.ParsePortSpecs: a range is each of its ports, the protocol lower case.
          for (let port = first; port <= last; port++) ports[`${port}/${(m[3] ?? "tcp").toLowerCase()}`] = {};
        }
        // Sorted, as docker's (a Go map) comes out.
        config.ExposedPorts = Object.fromEntries(Object.entries(ports).sort(([a], [b]) => compareText(a, b)));
        return meta(`EXPOSE ${words().join(" ")}`);
      }
      case "VOLUME": {
        const paths = ins.json ? ins.json.map((w) => expandWord(w, vars, this.file.escape, ins.line)) : words();
        if (paths.length === 0 || paths.some((p) => p === "")) throw new BuildError(`dockerfile parse error on line ${ins.line}: VOLUME specified can not be an empty string`);
        // Sorted, as docker's (a Go map) comes out.
        config.Volumes = Object.fromEntries(Object.entries({ ...(config.Volumes ?? {}), ...Object.fromEntries(paths.map((p) => [p, {}])) }).sort(([a], [b]) => compareText(a, b)));
        return meta(`VOLUME ${JSON.stringify(paths)}`);
      }
      case "STOPSIGNAL": {
        const signal = one();
        const problem = stopSignalProblem(signal);
        if (problem) throw new BuildError(`line ${ins.line}: ${problem}`);
        config.StopSignal = signal;
        return meta(`STOPSIGNAL ${signal}`);
      }
      case "HEALTHCHECK":
        config.Healthcheck = this.healthcheck(ins);
        // With its flags: a changed --interval is a changed image (the cache key) and shows in the history.
        return meta(ins.text);
      case "ONBUILD": {
        const trigger = ins.rest.trim();
        const kw = trigger.split(/\s+/)[0]!.toUpperCase();
        if (["ONBUILD", "FROM", "MAINTAINER"].includes(kw)) throw new BuildError(`dockerfile parse error on line ${ins.line}: ${kw} isn't allowed as an ONBUILD trigger`);
        config.OnBuild = [...(config.OnBuild ?? []), trigger];
        return meta(`ONBUILD ${trigger}`);
      }
      case "RUN": {
        const argv = this.command(stage, ins);
        const setup = this.runSetup(stage, ins);
        const key = `${this.runKey(stage, argv)} ${setup.network ?? ""} ${JSON.stringify(setup.mounts)}${setup.boundSources.length > 0 ? ` ${await this.sourcesDigest(this.context.resolve(setup.boundSources, ins.line), ins.line)}` : ""}`;
        return this.layerStep(stage, ins, shown, key, async (annotations) => {
          const binds = snapshotBinds(setup.mounts, setup.contextBinds, this.context, this.rt.dataDir, ins.line);
          try {
            return await runStep(this.rt, stage, ins, { argv, env: this.runEnv(stage), annotations, mounts: binds.mounts, ...(setup.network ? { network: setup.network } : {}) }, this.options, this.say);
          } finally {
            await binds.remove();
          }
        });
      }
      case "COPY":
      case "ADD": {
        const request = await this.copyRequest(stage, ins, ins.json ? [] : words());
        return this.layerStep(stage, ins, shown, `${ins.keyword} ${request.cacheKey}`, (annotations) => copyStep(this.rt, stage, request, annotations, this.say, this.options.signal));
      }
      default:
        throw new BuildError(`line ${ins.line}: ${ins.keyword} is not supported`);
    }
  }

  /** CMD/ENTRYPOINT/RUN's argv: the exec form as written, the shell form through SHELL. */
  private command(stage: Stage, ins: Instruction): string[] {
    if (ins.json) return ins.json;
    if (ins.heredocs) return [...(stage.config.Shell ?? DEFAULT_SHELL), heredocScript(ins.rest, ins.heredocs)];
    if (ins.rest.trim() === "") throw new BuildError(`dockerfile parse error on line ${ins.line}: ${ins.keyword} requires at least one argument`);
    return [...(stage.config.Shell ?? DEFAULT_SHELL), ins.rest];
  }

  /** RUN's `--mount`s (run-mounts.ts), `--network=default|none|host` and `--security=sandbox`; `--security=insecure` is refused. */
  private runSetup(stage: Stage, ins: Instruction): RunMounts & { network?: string } {
    // sandbox is BuildKit's default (a no-op to ask for); insecure needs an entitlement tsbox does not grant.
    const security = ins.flags.get("security");
    if (security === "insecure") throw new BuildError(`line ${ins.line}: RUN --security=insecure is not supported by tsbox build`);
    if (security !== undefined && security !== "sandbox") throw new BuildError(`line ${ins.line}: RUN --security=${security}: expected sandbox or insecure`);
    const values = (name: string) => ins.flagList.filter(([k]) => k === name).map(([, v]) => splitWords(v, this.vars(stage), this.file.escape, ins.line).join(" "));
    const setup: RunMounts & { network?: string } = runMounts(values("mount"), this.context, this.rt.dataDir, stage.config.WorkingDir || "/", ins.line);
    const network = ins.flags.get("network");
    if (network !== undefined) {
      if (!["default", "none", "host"].includes(network)) throw new BuildError(`line ${ins.line}: RUN --network=${network}: expected default, none or host`);
      if (network !== "default") setup.network = network;
    }
    return setup;
  }

  /**
   * RUN's environment: the substitution variables — ARGs in scope (not kept in the image), then the image's ENV —
   * after the proxy variables given with --build-arg, which docker passes to every RUN without an ARG for them
   * (corporate builds rely on it) and keeps out of the cache key and the history.
   */
  private runEnv(stage: Stage): string[] {
    const env = new Map(PREDEFINED.flatMap((k) => (this.buildArgs.has(k) ? [[k, this.buildArgs.get(k)!] as const] : [])));
    for (const [k, v] of this.vars(stage)) env.set(k, v);
    return [...env].map(([k, v]) => `${k}=${v}`);
  }

  /** RUN's cache step: the command and the build args it sees (docker's rule: ARG values are part of the key). */
  private runKey(stage: Stage, argv: string[]): string {
    const args = [...stage.args].sort(([a], [b]) => compareText(a, b)).map(([k, v]) => `${k}=${v}`);
    return `RUN ${JSON.stringify(argv)} ${JSON.stringify(args)} ${this.options.network ?? ""}`;
  }

  private healthcheck(ins: Instruction): unknown {
    const rest = ins.rest.trim();
    if (/^NONE$/i.test(rest)) return { Test: ["NONE"] };
    const m = /^CMD\s+([\s\S]+)$/i.exec(rest);
    if (!m) throw new BuildError(`dockerfile parse error on line ${ins.line}: HEALTHCHECK expects CMD COMMAND or NONE`);
    const cmd = m[1]!.trim();
    let test: string[];
    try {
      const v = JSON.parse(cmd) as unknown;
      test = Array.isArray(v) ? ["CMD", ...(v as string[])] : ["CMD-SHELL", cmd];
    } catch {
      test = ["CMD-SHELL", cmd];
    }
    const seconds = (flag: string) => {
      const v = ins.flags.get(flag);
      if (v === undefined) return undefined;
      let ns: number;
      try {
        ns = parseDuration(v, `--${flag}`);
      } catch {
        throw new BuildError(`line ${ins.line}: HEALTHCHECK --${flag}=${v}: expected a duration such as 30s`);
      }
      // docker's parseOptInterval: 0 is the default, anything else at least 1ms.
      if (ns !== 0 && ns < 1e6) throw new BuildError(`line ${ins.line}: HEALTHCHECK --${flag}=${v}: Interval "${flag}" cannot be less than 1ms`);
      return ns;
    };
    const out: Record<string, unknown> = { Test: test };
    for (const [flag, field] of [["interval", "Interval"], ["timeout", "Timeout"], ["start-period", "StartPeriod"], ["start-interval", "StartInterval"]] as const) {
      const ns = seconds(flag);
      if (ns !== undefined) out[field] = ns;
    }
    const retries = ins.flags.get("retries");
    if (retries !== undefined) {
      if (!/^[+-]?\d+$/.test(retries) || Math.abs(Number(retries)) > 2 ** 31 - 1) throw new BuildError(`line ${ins.line}: HEALTHCHECK --retries=${retries}: expected a whole number`);
      if (Number(retries) < 0) throw new BuildError(`line ${ins.line}: HEALTHCHECK --retries cannot be negative (${Number(retries)})`);
      out.Retries = Number(retries);
    }
    return out;
  }

  private async copyRequest(stage: Stage, ins: Instruction, words: string[]): Promise<CopyRequest> {
    const all = ins.json ?? words;
    if (all.length < 2) throw new BuildError(`dockerfile parse error on line ${ins.line}: ${ins.keyword} requires at least two arguments, but only ${all.length} provided`);
    const vars = this.vars(stage);
    const expanded = ins.json ? ins.json.map((w) => expandWord(w, vars, this.file.escape, ins.line)) : all;
    const sources = expanded.slice(0, -1);
    let dest = expanded[expanded.length - 1]!;
    const endsWithSlash = dest.endsWith("/") || dest === "." || dest.endsWith("/.");
    dest = posix.resolve(stage.config.WorkingDir || "/", dest);
    const flag = (name: string) => {
      const v = ins.flags.get(name);
      return v === undefined ? undefined : splitWords(v, vars, this.file.escape, ins.line).join(" ");
    };
    // --link (a layer of its own, for reuse) changes nothing of the result here: accepted.
    for (const unsupported of ["parents", "exclude", "checksum", "keep-git-dir"]) {
      if (ins.flags.has(unsupported)) throw new BuildError(`line ${ins.line}: ${ins.keyword} --${unsupported} is not supported by tsbox build`);
    }
    const chmod = flag("chmod");
    if (chmod !== undefined && !/^[0-7]{3,4}$/.test(chmod)) throw new BuildError(`line ${ins.line}: --chmod=${chmod}: expected an octal mode such as 755`);
    const chown = flag("chown");
    const base = { ins, dest, destIsDir: endsWithSlash, ...(chown !== undefined ? { chown } : {}), ...(chmod !== undefined ? { chmod: parseInt(chmod, 8) } : {}) };
    // Every branch's key ends with what it writes where, as expanded: the instruction as written has `${ARG}`s,
    // whose values are not in the chain (ARG's own key has the names only).
    const target = `to ${dest}${endsWithSlash ? "/" : ""} ${chown ?? ""} ${chmod ?? ""}`;
    const from = flag("from");
    if (from !== undefined) {
      if (ins.keyword === "ADD") throw new BuildError(`line ${ins.line}: ADD does not take --from`);
      if (from === "") throw new BuildError(`line ${ins.line}: COPY --from=${ins.flags.get("from")}: no stage or image found with that name (it is empty)`);
      const j = this.stageRef(from, stage.index);
      // A stage the plan could not see (its name from a variable only this stage sets, or an image base's ONBUILD
      // trigger naming a stage of this Dockerfile) is built now, as BuildKit resolves it.
      if (j !== undefined && !this.results.has(j)) await this.buildStages(this.needed(j));
      const image = j !== undefined ? this.results.get(j)!.image : await this.baseImage(from, ins);
      if (!image) throw new BuildError(`line ${ins.line}: stage ${from} has no files (FROM scratch with nothing added)`);
      // "following": the source's symlink is followed since stop 36; layers cached before hold zeros or a dangling link.
      // "owners": the source's owners are kept since stop 50; layers cached before have root's.
      return { ...base, kind: "image", image: image.configDigest, paths: sources, cacheKey: `${JSON.stringify(ins.text)} from ${image.configDigest} ${JSON.stringify(sources)} following owners ${target}` };
    }
    const urls = ins.keyword === "ADD" ? sources.filter((s) => /^https?:\/\//i.test(s)) : [];
    if (urls.length > 0) {
      if (urls.length !== sources.length) throw new BuildError(`line ${ins.line}: ADD mixes URLs and context files: give them one ADD each`);
      return { ...base, kind: "urls", urls, cacheKey: `${JSON.stringify(ins.text)} urls ${JSON.stringify(urls)} ${target}` };
    }
    // `COPY <<EOF /dest`: a here-document is a file named after its delimiter, its `$VAR`s expanded unless quoted.
    const docs = new Map((ins.heredocs ?? []).map((d) => [d.name, d]));
    const docName = (source: string) => /^<<-?([A-Za-z_][A-Za-z0-9_]*)$/.exec(source)?.[1];
    const heredocs = sources.flatMap((source) => {
      const doc = docs.get(docName(source) ?? "");
      return doc ? [{ name: doc.name, content: doc.expand ? expandWord(doc.body, vars, this.file.escape, ins.line) : doc.body }] : [];
    });
    const resolved = this.context.resolve(sources.filter((source) => !docs.has(docName(source) ?? "")), ins.line);
    const docsKey = heredocs.length > 0 ? ` heredocs ${createHash("sha256").update(JSON.stringify(heredocs)).digest("hex")}` : "";
    return { ...base, kind: ins.keyword === "ADD" ? "add" : "context", sources: resolved, heredocs, cacheKey: `${JSON.stringify(ins.text)} ${await this.sourcesDigest(resolved, ins.line)}${docsKey} ${target}` };
  }

  /** A step that adds a layer: taken from the cache when an earlier build made it, else run and kept. */
  private async layerStep(stage: Stage, ins: Instruction, shown: boolean, keyText: string, make: (annotations: Record<string, string>) => Promise<CopyResult>): Promise<void> {
    let key = chainKey(stage.key, keyText);
    const fetches = ins.keyword === "ADD" && /https?:\/\//i.test(ins.rest);
    const cached = this.options.noCache || fetches ? undefined : await findCached(this.rt.imageStore.layout, key);
    if (cached) {
      if (shown) this.progress(ins, " (cached)");
      const config = await this.rt.imageStore.layout.readJsonBlob<ImageConfig>(cached.configDigest);
      stage.image = cached;
      stage.config = structuredClone((config.config ?? {}) as StageConfig);
    } else {
      if (shown) this.progress(ins);
      const { fetched, ...made } = await make({ [CACHE_KEY_ANNOTATION]: key });
      stage.image = made;
      // An ADD of URLs fetches every time: the steps after it are keyed on what it fetched (its files), or a
      // changed download would be followed by the steps cached for the old one (BuildKit keys on the content).
      if (fetches && fetched) key = chainKey(key, `fetched ${fetched}`);
    }
    stage.pending = [];
    stage.key = key;
  }

  /** The target stage as the build's image: pending metadata and --label in a config of its own, then the tags. */
  private async finish(stage: Stage): Promise<BuildResult> {
    const labels = this.options.labels ?? {};
    if (Object.keys(labels).length > 0) {
      stage.config.Labels = { ...(stage.config.Labels ?? {}), ...labels };
      stage.pending.push(`LABEL ${Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(" ")}`);
    }
    const tags = (this.options.tags ?? []).map((t) => canonicalName(parseReference(t)));
    const store = this.rt.imageStore;
    // Nothing after the last layer step: the image is that step's (docker gives it the same id). Else a
    // config-only image, itself kept in the cache, so that an unchanged build gives the same id again.
    const key = chainKey(stage.key, `IMAGE ${JSON.stringify(stage.pending)} ${stage.author ?? ""}`);
    const cached = stage.pending.length === 0 || this.options.noCache ? undefined : await findCached(store.layout, key);
    const stored =
      stage.pending.length === 0 && stage.image
        ? await nameManifest(store, stage.image.manifestDigest, stage.platform, tags)
        : cached
          ? await nameManifest(store, cached.manifestDigest, stage.platform, tags)
          : await storeImageEntry(store, {
              ...(stage.image ? { parentManifest: stage.image.manifestDigest } : {}),
              config: stage.config,
              history: stage.pending,
              platform: stage.platform,
              ...(stage.author ? { author: stage.author } : {}),
              names: tags,
              annotations: { [CACHE_KEY_ANNOTATION]: key },
            });
    // Without a tag the image is listed as <none> (docker's dangling image), not only kept in the cache.
    if (tags.length === 0) await nameManifest(store, stored.manifest.digest, stage.platform, []);
    this.say(`writing image ${stored.id}\n`);
    for (const t of this.options.tags ?? []) this.say(`naming to ${t}\n`);
    return { id: stored.id, tags };
  }
}

