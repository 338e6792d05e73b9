/**
 * A standby: a container the Worker starts ahead of the page's `run` (the
 * Runtime's `standby` option, e.g. the playground's shell), kept in the
 * saved guest state so a returning visit's first `run` with the same options
 * takes a container that is already running — no create and start in a
 * restored guest whose JIT is empty. Its output until then (a shell's
 * prompt) is held and handed to the run that takes it.
 */
import { canonicalName, parseReference } from "../../../image/reference.js";
import type { ContainerSpec } from "../../../spec/container-spec.js";
import type { GuestChannels, GuestExport } from "../core/guest-spec.js";
import type { RunRequest } from "./protocol.js";

/** A chunk of a standby's output, with the stream it came on. */
export interface HeldOutput {
  stream: "stdout" | "stderr";
  data: Uint8Array;
}

/** What a saved state keeps of its standby (browser-store.ts StoredState). */
export interface StandbyRecord {
  /** `standbyKey` of the request it was started for. */
  key: string;
  cid: string;
  pid: number;
  /** The image as it was (a reloaded name with other content does not match). */
  image: { name: string; manifestDigest: string };
  imageRoot: string;
  spec: ContainerSpec;
  exports: GuestExport[];
  channels: GuestChannels;
  /** Its terminal size, when it has one (a `run` with another size resizes it). */
  size: { cols: number; rows: number } | null;
  /**
   * What it printed before the state was saved, in order; a state saved before the streams were kept has
   * it as one run of bytes (`heldOutput` reads both).
   */
  output: HeldOutput[] | Uint8Array;
}

/**
 * The request without its terminal size (the one thing a `run` may change:
 * it becomes a resize), keys sorted and the image name canonical: equal keys,
 * the same container.
 */
export function standbyKey(request: RunRequest): string {
  const { tty, image, ...rest } = request;
  const normal: Record<string, unknown> = { ...rest, image: canonicalName(parseReference(image)), tty: Boolean(tty) };
  return JSON.stringify(Object.fromEntries(Object.keys(normal).sort().map((k) => [k, normal[k]])));
}

/**
 * The key of the spare container (core/spare.ts) a request may take: its
 * standby key (which leaves out the terminal size) without the rest of what a
 * spare is given at start (the process's command, environment, working
 * directory and user).
 */
export function spareKey(request: RunRequest): string {
  const { cmd: _cmd, entrypoint: _entrypoint, env: _env, workdir: _workdir, user: _user, ...shape } = request;
  return standbyKey(shape);
}

/** The terminal size a request asks for, if it gives one. */
export function requestedSize(request: RunRequest): { cols: number; rows: number } | null {
  return typeof request.tty === "object" && request.tty !== null ? { cols: request.tty.cols, rows: request.tty.rows } : null;
}

/** A record's output as chunks: an untagged run of bytes (an older saved state's) was replayed as stdout, and still is. */
export function heldOutput(output: StandbyRecord["output"]): HeldOutput[] {
  if (!(output instanceof Uint8Array)) return output;
  return output.length > 0 ? [{ stream: "stdout", data: output }] : [];
}

/** A standby record as JSON (a served snapshot's sidecar): its output's chunks in base64. */
export function standbyToJson(record: StandbyRecord): Record<string, unknown> {
  return { ...record, output: heldOutput(record.output).map(({ stream, data }) => ({ stream, data: base64(data) })) };
}

/**
 * A sidecar's standby, checked for the shape the Worker relies on (it comes
 * from the page's host, beside a state whose digest is checked); undefined
 * for anything else: the guest's container is then deleted, not taken.
 */
export function standbyFromJson(value: unknown): StandbyRecord | undefined {
  const v = value as Record<string, any> | null;
  if (typeof v !== "object" || v === null) return undefined;
  const channel = (c: unknown) => c === null || (Number.isSafeInteger(c) && (c as number) > 0);
  const ok =
    typeof v.key === "string" &&
    typeof v.cid === "string" &&
    /^[0-9a-f]{64}$/.test(v.cid) &&
    Number.isSafeInteger(v.pid) &&
    typeof v.image?.name === "string" &&
    typeof v.image?.manifestDigest === "string" &&
    typeof v.imageRoot === "string" &&
    typeof v.spec?.process?.terminal === "boolean" &&
    Array.isArray(v.exports) &&
    v.exports.every((e: any) => typeof e?.name === "string" && typeof e?.path === "string" && typeof e?.readonly === "boolean") &&
    channel(v.channels?.stdin) &&
    Number.isSafeInteger(v.channels?.stdout) &&
    channel(v.channels?.stderr) &&
    (v.size === null || (Number.isSafeInteger(v.size?.cols) && Number.isSafeInteger(v.size?.rows))) &&
    (typeof v.output === "string" || (Array.isArray(v.output) && v.output.every((c: any) => (c?.stream === "stdout" || c?.stream === "stderr") && typeof c.data === "string")));
  if (!ok) return undefined;
  try {
    // A sidecar written before the streams were kept: one base64 run of bytes.
    const output = typeof v.output === "string" ? unbase64(v.output) : v.output.map((c: { stream: HeldOutput["stream"]; data: string }) => ({ stream: c.stream, data: unbase64(c.data) }));
    return { ...(v as StandbyRecord), output };
  } catch {
    return undefined;
  }
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unbase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
