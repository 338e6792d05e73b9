/**
 * `--chown=USER[:GROUP]`: ids as given, or names looked up in the image's
 * own /etc/passwd and /etc/group (read through the copy helper, inside the
 * image's root), as docker does. A user without a group gets its primary one.
 */
import { PassThrough } from "node:stream";
import { copyFromContainer, type ContainerFiles } from "../containers/copy.js";
import { readTar } from "../image/tar.js";
import { BuildError } from "./build-error.js";

export interface Owner {
  uid: number;
  gid: number;
}

export async function lookupOwner(files: ContainerFiles | undefined, chown: string, line: number): Promise<Owner> {
  const [user, group] = chown.split(":", 2) as [string, string | undefined];
  if (user === "") throw new BuildError(`line ${line}: --chown=${chown}: no user`);
  const numeric = (s: string) => /^\d+$/.test(s);
  let uid: number;
  let gid: number | undefined;
  if (numeric(user)) uid = Number(user);
  else {
    const entry = (await table(files, "/etc/passwd", line, chown)).find((f) => f[0] === user);
    if (!entry) throw new BuildError(`line ${line}: --chown=${chown}: no user ${user} in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (group !== undefined && group !== "") {
    if (numeric(group)) gid = Number(group);
    else {
      const entry = (await table(files, "/etc/group", line, chown)).find((f) => f[0] === group);
      if (!entry) throw new BuildError(`line ${line}: --chown=${chown}: no group ${group} in the image's /etc/group`);
      gid = Number(entry[2]);
    }
  }
  return { uid, gid: gid ?? uid };
}

async function table(files: ContainerFiles | undefined, path: string, line: number, chown: string): Promise<string[][]> {
  if (!files) throw new BuildError(`line ${line}: --chown=${chown}: names need an image with ${path}; this stage is FROM scratch`);
  const stream = new PassThrough();
  const reading = copyFromContainer(files, path, "-", stream).then(
    () => stream.end(),
    (err: unknown) => stream.destroy(err as Error),
  );
  let text = "";
  try {
    for await (const e of readTar(stream)) for await (const chunk of e.body) text += chunk.toString("utf8");
  } catch {
    throw new BuildError(`line ${line}: --chown=${chown}: the image has no ${path}`);
  } finally {
    await reading;
  }
  return text.split("\n").map((l) => l.split(":"));
}
