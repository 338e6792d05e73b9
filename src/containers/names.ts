import { mkdir, readlink, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { ContainerError } from "../errors.js";
import { isErrno, pathExists } from "../fs-util.js";
import type { DataPaths } from "../paths.js";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * Container names are symlinks `<data>/names/<name> → <id>`: creating a
 * symlink is atomic, so two runs racing for one name cannot both win.
 */
export class ContainerNames {
  private readonly dir: string;

  constructor(private readonly data: DataPaths) {
    this.dir = join(data.root, "names");
  }

  async reserve(name: string, id: string): Promise<void> {
    if (!NAME_RE.test(name) || name.length > 128) {
      throw new ContainerError(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    await mkdir(this.dir, { recursive: true });
    const link = join(this.dir, name);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await symlink(id, link);
        return;
      } catch (err) {
        if (!isErrno(err, "EEXIST")) throw err;
      }
      const owner = await this.lookup(name);
      if (owner !== undefined) throw new ContainerError(`the container name "${name}" is already in use by container ${owner.slice(0, 12)}`);
      // Stale: its container is gone. Drop it and try once more.
      await unlink(link).catch(() => {});
    }
    throw new ContainerError(`the container name "${name}" is already in use`);
  }

  /** The id holding `name`, if that container still exists. */
  async lookup(name: string): Promise<string | undefined> {
    if (!NAME_RE.test(name)) return undefined;
    let id: string;
    try {
      id = await readlink(join(this.dir, name));
    } catch (err) {
      if (isErrno(err, "ENOENT") || isErrno(err, "EINVAL")) return undefined;
      throw err;
    }
    return (await pathExists(this.data.container(id).dir)) ? id : undefined;
  }

  async release(name: string, id: string): Promise<void> {
    const link = join(this.dir, name);
    try {
      if ((await readlink(link)) === id) await unlink(link);
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw err;
    }
  }
}
