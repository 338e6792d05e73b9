/**
 * Running one container in a guest: the host spec translated to guest paths
 * (layers and volumes as 9p exports under /mnt/host, the root and the
 * overlay's writable layer in a tmpfs of the guest), `create` + `start`
 * through the agent, stdio channels as Node streams, `wait` + `delete`.
 */
import { statSync } from "node:fs";
import { createHash } from "node:crypto";
import { basename, dirname } from "node:path";
import type { Readable, Writable } from "node:stream";
import { constants } from "node:os";
import { TsboxError } from "../../errors.js";
import type { ContainerSpec } from "../../spec/container-spec.js";
import type { ContainerProcess, ExitStatus, StartOptions } from "../backend.js";
import type { AgentLink } from "./agent-link.js";
import type { Export } from "./p9/server.js";

export const GUEST_HOST_MOUNT = "/mnt/host";
export const GUEST_RUN_DIR = "/run/tsbox";

export interface GuestSpec {
  spec: ContainerSpec;
  /** 9p exports this container needs: name → host dir. */
  exports: { name: string; path: string; readonly: boolean; shared: boolean }[];
}

/** Host paths → guest paths. `cid` names the container in the guest. */
export function toGuestSpec(spec: ContainerSpec, cid: string): GuestSpec {
  const exports: GuestSpec["exports"] = [];
  const dir = `${GUEST_RUN_DIR}/${cid}`;
  const out: ContainerSpec = structuredClone(spec);
  out.root = { ...spec.root, path: `${dir}/rootfs` };
  if (spec.root.overlay) {
    const lower = spec.root.overlay.lower.map((hostDir) => {
      // Layers are content-addressed and immutable: one export per layer, shared.
      const name = `l-${createHash("sha256").update(hostDir).digest("hex").slice(0, 24)}`;
      if (!exports.some((e) => e.name === name)) exports.push({ name, path: hostDir, readonly: true, shared: true });
      return `${GUEST_HOST_MOUNT}/${name}`;
    });
    out.root.overlay = { lower, upper: `${dir}/upper`, work: `${dir}/work` };
  } else {
    // A plain directory root: exported as is (read-only when the spec says so).
    const name = `r-${cid.slice(0, 16)}`;
    exports.push({ name, path: spec.root.path, readonly: spec.root.readonly, shared: false });
    out.root = { path: `${dir}/rootfs`, readonly: spec.root.readonly };
    out.mounts = [{ destination: "/", type: "bind", source: `${GUEST_HOST_MOUNT}/${name}`, options: ["rbind"] }, ...out.mounts];
  }
  let n = 0;
  out.mounts = out.mounts.map((m) => {
    if (m.type !== "bind" || m.source.startsWith(GUEST_HOST_MOUNT + "/")) return m;
    const readonly = m.options.includes("ro");
    const name = `v-${cid.slice(0, 16)}-${n++}`;
    let isDir = true;
    try {
      isDir = statSync(m.source).isDirectory();
    } catch {
      // the container crate reports a missing source with the usual message
    }
    // A file volume: its directory is exported, the file bound from it.
    const exportDir = isDir ? m.source : dirname(m.source);
    exports.push({ name, path: exportDir, readonly, shared: false });
    return { ...m, source: isDir ? `${GUEST_HOST_MOUNT}/${name}` : `${GUEST_HOST_MOUNT}/${name}/${basename(m.source)}` };
  });
  return { spec: out, exports };
}

/** Where 9p exports are registered: the in-process server, or the vm daemon's. */
export interface ExportTable {
  add(name: string, exp: Export): Promise<void> | void;
  remove(name: string): void;
}

export interface RunContext {
  link: AgentLink;
  p9: ExportTable;
  /** Called once the container is gone from the guest (exports released). */
  done: () => void;
  /** Export reference counts, shared by every container of the guest. */
  exportRefs: Map<string, number>;
}

/** Creates and starts the container; resolves once its command runs. */
export async function startInGuest(ctx: RunContext, options: StartOptions, cid: string): Promise<ContainerProcess> {
  const { spec: guestSpec, exports } = toGuestSpec(options.spec, cid);
  for (const e of exports) {
    const refs = ctx.exportRefs.get(e.name) ?? 0;
    if (refs === 0) await ctx.p9.add(e.name, { path: e.path, readonly: e.readonly });
    ctx.exportRefs.set(e.name, refs + 1);
  }
  const releaseExports = () => {
    for (const e of exports) {
      const refs = (ctx.exportRefs.get(e.name) ?? 1) - 1;
      if (refs <= 0) {
        ctx.exportRefs.delete(e.name);
        ctx.p9.remove(e.name);
      } else ctx.exportRefs.set(e.name, refs);
    }
  };

  const terminal = options.spec.process.terminal;
  const stdinCh = options.stdin === "ignore" ? undefined : ctx.link.openInput();
  const stdoutCh = options.stdout === "ignore" ? undefined : ctx.link.openOutput();
  const stderrCh = terminal || options.stderr === "ignore" ? undefined : ctx.link.openOutput();
  const channels = { stdin: stdinCh?.channel ?? null, stdout: stdoutCh?.channel ?? null, stderr: stderrCh?.channel ?? null };

  const cleanupFailed = async () => {
    const gone = new TsboxError("container did not start", { code: "runtime" });
    stdinCh?.fail(gone);
    stdoutCh?.onEof();
    stderrCh?.onEof();
    await ctx.link.request("delete", { cid }, 10_000).catch(() => {});
    releaseExports();
    ctx.done();
  };

  let pid: number;
  try {
    await ctx.link.request("create", { cid, spec: guestSpec, ...channels }, 60_000);
    const started = await ctx.link.request("start", { cid }, 120_000);
    pid = typeof started.pid === "number" ? started.pid : -1;
  } catch (err) {
    await cleanupFailed();
    throw err;
  }

  // "inherit": our own stdio, as the native backend hands over its fds.
  if (options.stdout === "inherit" && stdoutCh) stdoutCh.readable.pipe(process.stdout, { end: false });
  if (options.stderr === "inherit" && stderrCh) stderrCh.readable.pipe(process.stderr, { end: false });
  if (options.stdin === "inherit" && stdinCh) process.stdin.pipe(stdinCh.writable);
  const outputDone = (r: Readable | undefined) =>
    r ? new Promise<void>((resolve) => (r.readableEnded || r.destroyed ? resolve() : (r.once("end", resolve), r.once("close", resolve)))) : Promise.resolve();

  let exitStatus: ExitStatus | undefined;
  const exited: Promise<ExitStatus> = (async () => {
    try {
      const r = await ctx.link.request("wait", { cid }, 0x7fffffff);
      const code = typeof r.exitCode === "number" ? r.exitCode : 125;
      const signal = typeof r.signal === "string" ? r.signal : null;
      exitStatus = { exitCode: code, signal };
      // Inherited output reaches our stdout before the exit is reported.
      if (options.stdout === "inherit") await outputDone(stdoutCh?.readable);
      if (options.stderr === "inherit") await outputDone(stderrCh?.readable);
      return exitStatus;
    } finally {
      if (options.stdin === "inherit" && stdinCh) {
        process.stdin.unpipe(stdinCh.writable);
        process.stdin.pause();
      }
      stdinCh?.writable.destroy();
      await ctx.link.request("delete", { cid }, 10_000).catch(() => {});
      releaseExports();
      ctx.done();
    }
  })();
  exited.catch(() => {});

  return {
    pid,
    monitorPid: process.pid,
    stdin: options.stdin === "pipe" && stdinCh ? (stdinCh.writable as Writable) : null,
    stdout: options.stdout === "pipe" && stdoutCh ? stdoutCh.readable : null,
    stderr: options.stderr === "pipe" && stderrCh ? stderrCh.readable : null,
    exited,
    kill(signal) {
      if (exitStatus || ctx.link.closed) return false;
      const num = typeof signal === "number" ? signal : constants.signals[signal];
      if (num === undefined) return false;
      ctx.link.request("signal", { cid, signal: num }, 30_000).catch(() => {});
      return true;
    },
    resize(cols, rows) {
      if (terminal && !exitStatus) ctx.link.request("resize", { cid, cols, rows }, 30_000).catch(() => {});
    },
  };
}
