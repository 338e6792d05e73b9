/**
 * Timing one layer's unpack for bench/unpack.ts and bench/pull.ts: GNU
 * `tar -xzf` (the peer) and tsbox's LayerCache (lib/unpack-child.ts), each
 * as root or as an unprivileged user, and the identities to measure.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ensureUser } from "../../test/helpers/identities.js";

export interface Timing {
  wallMs: number;
  cpuMs: number;
}

export interface BenchIdentity {
  name: string;
  /** Unset: the invoking user. */
  user?: string;
  uid: number;
  gid: number;
}

/** The invoking user, and when that is root also the rootless `tsbox-test` (subuid range). */
export function benchIdentities(only?: string): BenchIdentity[] {
  const ids: BenchIdentity[] = [];
  const root = process.getuid!() === 0;
  if (only !== "user") ids.push({ name: root ? "root" : "rootless", uid: process.getuid!(), gid: process.getgid!() });
  if (only !== "root" && root) ids.push({ name: "rootless (tsbox-test)", user: "tsbox-test", ...ensureUser("tsbox-test", false) });
  return ids;
}

/** argv run as `user` (runuser), with its own HOME so tools keep their config apart. */
export function asUser(user: string | undefined, argv: string[], home?: string): [string, string[]] {
  if (!user) return [argv[0]!, argv.slice(1)];
  return ["runuser", ["-u", user, "--", "env", ...(home ? [`HOME=${home}`] : []), ...argv]];
}

export function run(command: string, argv: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(command, argv, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => (err ? reject(new Error(`${command} ${argv.join(" ")}: ${stderr || err.message}`)) : resolve({ stdout, stderr })));
  });
}

/** `tar -xzf` under /usr/bin/time: wall and CPU of tar and its gzip child. */
export async function timeTar(user: string | undefined, layer: string, dest: string): Promise<Timing> {
  const [cmd, argv] = asUser(user, ["/usr/bin/time", "-f", "TIME %e %U %S", "tar", "-xzf", layer, "-C", dest]);
  // Rootless, tar cannot make the layer's device nodes (tsbox skips them too): that failure is expected.
  const stderr = await new Promise<string>((resolve, reject) => {
    execFile(cmd, argv, (err, _out, errText) => {
      const unexpected = errText.split("\n").filter((l) => l.startsWith("tar: ") && !/Cannot mknod|Exiting with failure/.test(l));
      if (unexpected.length > 0 || (err && !user)) reject(new Error(`tar: ${errText || err?.message}`));
      else resolve(errText);
    });
  });
  const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+)/.exec(stderr);
  if (!m) throw new Error(`no timing from tar: ${stderr}`);
  return { wallMs: Number(m[1]) * 1000, cpuMs: (Number(m[2]) + Number(m[3])) * 1000 };
}

/** tsbox's unpack of one gzip layer of `layout` into a fresh store `dataDir` (owned by `user`). */
export async function timeTsboxUnpack(user: string | undefined, layout: string, dataDir: string, layer: { digest: string; size: number; diffId: string }): Promise<Timing> {
  const child = fileURLToPath(new URL("./unpack-child.ts", import.meta.url));
  const [cmd, argv] = asUser(user, [process.execPath, "--import", "tsx", child, layout, dataDir, layer.digest, String(layer.size), layer.diffId]);
  const { stdout } = await run(cmd, argv);
  return JSON.parse(stdout.trim().split("\n").pop()!) as Timing;
}
