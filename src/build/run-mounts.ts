/**
 * RUN's `--mount` (BuildKit's Dockerfile syntax) as the step container's
 * mounts: `type=cache` is a directory of the data dir kept between builds
 * (package managers' caches: pip, npm, apt), `type=bind` a read-only part of
 * the build context as `.dockerignore` filters it, `type=tmpfs` a scratch tmpfs. None of them ends up in
 * the step's layer. Secrets and SSH agents (which need `build --secret` /
 * `--ssh`) and binds of another stage are refused by name.
 */
import { createHash } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import { join, posix } from "node:path";
import type { MountOption } from "../spec/run-options.js";
import { BuildError } from "./build-error.js";
import type { BuildContext } from "./context.js";
import type { ContextBind } from "./bind-snapshot.js";

export interface RunMounts {
  mounts: MountOption[];
  /** Context paths the binds show: their content is part of the step's cache key. */
  boundSources: string[];
  /** The binds of the context: the step mounts a filtered snapshot of each (bind-snapshot.ts). */
  contextBinds: ContextBind[];
}

const KEYS: Record<string, string[]> = {
  cache: ["target", "id", "sharing", "mode", "uid", "gid", "readonly", "ro", "from", "source", "src"],
  bind: ["target", "source", "src", "readonly", "ro", "rw", "readwrite", "from"],
  tmpfs: ["target", "size"],
};

/** `--mount` values of one RUN (`flagList`'s "mount" entries), for a build whose context is `context`. */
export function runMounts(values: string[], context: BuildContext, dataDir: string, workdir: string, line: number): RunMounts {
  const out: RunMounts = { mounts: [], boundSources: [], contextBinds: [] };
  for (const value of values) {
    const fields = new Map<string, string>();
    for (const part of value.split(",")) {
      const eq = part.indexOf("=");
      const key = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
      fields.set(key === "dst" || key === "destination" ? "target" : key === "src" ? "source" : key, eq < 0 ? "true" : part.slice(eq + 1));
    }
    const type = fields.get("type") ?? "bind";
    fields.delete("type");
    const bad = (why: string) => new BuildError(`line ${line}: RUN --mount=${value}: ${why}`);
    if (type === "secret" || type === "ssh") throw bad(`type=${type} is not supported by tsbox build (it has no --secret or --ssh)`);
    const known = KEYS[type];
    if (!known) throw bad(`unknown mount type ${type} (tsbox build knows cache, bind and tmpfs)`);
    for (const key of fields.keys()) if (!known.includes(key)) throw bad(`unknown option ${key} for type=${type}`);
    const target = fields.get("target");
    if (!target) throw bad("target is required");
    const at = posix.resolve(workdir, target);
    if (at === "/") throw bad("cannot mount over /");
    if (fields.has("from")) throw bad("from= (a mount of another stage or image) is not supported by tsbox build");
    const flag = (key: string) => fields.get(key) === "true" || fields.get(key) === "1";
    switch (type) {
      case "cache": {
        // One directory per id (default: the target), shared by every build of this data dir, as BuildKit's sharing=shared.
        const id = fields.get("id") ?? at;
        const dir = join(cacheMountsDir(dataDir), createHash("sha256").update(id).digest("hex").slice(0, 32));
        const mode = fields.get("mode");
        if (mode !== undefined && !/^0?[0-7]{3}$/.test(mode)) throw bad(`mode=${mode}: expected an octal mode such as 0755`);
        for (const key of ["uid", "gid"]) {
          const v = fields.get(key);
          if (v !== undefined && v !== "0") throw bad(`${key}=${v}: tsbox build's cache directories belong to the container's root`);
        }
        mkdirSync(dir, { recursive: true, mode: 0o755 });
        // Exactly the mode asked (BuildKit's), not less the umask: mode=0777 is how a non-root USER writes there.
        if (mode !== undefined) chmodSync(dir, parseInt(mode, 8));
        out.mounts.push({ type: "bind", source: dir, target: at, readonly: flag("readonly") || flag("ro") });
        break;
      }
      case "bind": {
        if (flag("rw") || flag("readwrite")) throw bad("rw (writes thrown away after the step) is not supported by tsbox build: mount it read-only");
        const source = fields.get("source") ?? ".";
        // The source on disk names the mount in the step's cache key; the step gets its filtered snapshot.
        const host = contextPath(context, source, bad);
        out.contextBinds.push({ index: out.mounts.length, source });
        out.mounts.push({ type: "bind", source: host, target: at, readonly: true });
        out.boundSources.push(source);
        break;
      }
      case "tmpfs": {
        const size = fields.get("size");
        if (size !== undefined && !/^\d+$/.test(size)) throw bad(`size=${size}: expected bytes`);
        out.mounts.push({ type: "tmpfs", target: at, ...(size !== undefined ? { size: Number(size) } : {}) });
        break;
      }
    }
  }
  return out;
}

/** Where RUN --mount=type=cache keeps its directories (`system prune` empties it, `system df` counts it). */
export function cacheMountsDir(dataDir: string): string {
  return join(dataDir, "build-cache-mounts");
}

/** A context path for a bind: it must be in the filtered context and, links followed, stay inside it (`BuildContext.locate`). */
function contextPath(context: BuildContext, source: string, bad: (why: string) => BuildError): string {
  const real = context.locate(posix.normalize(`/${source}`).slice(1));
  if ("outside" in real) throw bad(`source ${source} leads outside the build context`);
  if ("nowhere" in real) throw bad(`source ${source} is not in the build context`);
  return real.path;
}
