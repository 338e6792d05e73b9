import { mkdirSync, readlinkSync, symlinkSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { ContainerError, UsageError } from "../errors.js";
import { isErrno, readdirOrEmpty } from "../fs-util.js";
import type { DataPaths } from "../paths.js";
import { bundleLive } from "./bundle-dir.js";
import { generatedName } from "./generated-name.js";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A name as docker's daemon takes it: one leading "/" dropped (it stores names as "/name", inspect's .Name). */
export function withoutSlash(name: string): string {
  return name.startsWith("/") ? name.slice(1) : name;
}

/** Docker's container name rule (pure: the browser's Runtime checks names with it too); a bad name is the caller's (docker's 400): a UsageError. */
export function checkContainerName(name: string): void {
  if (typeof name === "string" && NAME_RE.test(name) && name.length > 128) {
    throw new UsageError(`invalid container name "${name.slice(0, 32)}…": at most 128 characters`);
  }
  if (typeof name !== "string" || !NAME_RE.test(name)) {
    throw new UsageError(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
}

export function nameInUse(name: string, owner: string): ContainerError {
  return new ContainerError(`the container name "${name}" is already in use by container ${owner.slice(0, 12)}`, "name_in_use");
}

/**
 * Container names are symlinks `<data>/names/<name> → <id>`: creating a
 * symlink is atomic, so two runs racing for one name cannot both win.
 */
export class ContainerNames {
  private readonly dir: string;

  constructor(private readonly data: DataPaths) {
    this.dir = join(data.root, "names");
  }

  reserve(name: string, id: string): void {
    checkContainerName(name);
    mkdirSync(this.dir, { recursive: true });
    const link = join(this.dir, name);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        symlinkSync(id, link);
        return;
      } catch (err) {
        if (!isErrno(err, "EEXIST")) throw err;
      }
      const owner = this.lookup(name);
      if (owner !== undefined) throw nameInUse(name, owner);
      // Stale: its container is gone. Drop it and try once more.
      try {
        unlinkSync(link);
      } catch {
        // raced with another cleanup
      }
    }
    throw new ContainerError(`the container name "${name}" is already in use`, "name_in_use");
  }

  /** A generated name (docker's `adjective_surname`) reserved for `id`: another pick while one is taken. */
  reserveGenerated(id: string): string {
    for (let attempt = 0; ; attempt++) {
      const name = generatedName(attempt);
      try {
        this.reserve(name, id);
        return name;
      } catch (err) {
        if (!(err instanceof ContainerError) || attempt >= 50) throw err;
      }
    }
  }

  /** The id holding `name`, if that container still exists. */
  lookup(name: string): string | undefined {
    if (!NAME_RE.test(name) || name.length > 128) return undefined;
    let id: string;
    try {
      id = readlinkSync(join(this.dir, name));
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "EINVAL")) return undefined;
      throw err;
    }
    return bundleLive(this.data.container(id)) ? id : undefined;
  }

  /** Drops the names whose container is gone (its remover was killed before it let go of them). */
  sweep(): void {
    for (const name of readdirOrEmpty(this.dir)) {
      let id: string;
      try {
        id = readlinkSync(join(this.dir, name));
      } catch {
        continue;
      }
      if (this.lookup(name) === undefined) this.release(name, id);
    }
  }

  release(name: string, id: string): void {
    const link = join(this.dir, name);
    try {
      if (readlinkSync(link) === id) unlinkSync(link);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
  }
}
