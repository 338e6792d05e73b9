/**
 * A mount namespace of a test's own (FullDisk, HostFiles): `setup` (a shell line of mounts) runs in a new one, whose
 * holder then waits on its stdin, a pipe from this process. So it dies with this process however that ends: a
 * `sleep infinity` outlived a test file that ended without its close() (killed at its timeout, say), holding the
 * file's stderr and with it `node --test`, which waits for every holder of a file's output, open for good.
 */
import { spawn, type ChildProcess } from "node:child_process";

export async function mountNamespaceHolder(setup: string, what: string): Promise<ChildProcess> {
  const holder = spawn("unshare", ["-m", "--propagation", "private", "sh", "-c", `${setup} && echo ready && exec cat >/dev/null`], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    holder.stdout!.once("data", () => resolve());
    holder.once("exit", (code) => reject(new Error(`${what} failed (${code})`)));
  });
  return holder;
}
