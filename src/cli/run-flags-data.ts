/**
 * `tsbox run`'s data and mount flags, docker's syntax: `--mount`,
 * `--tmpfs`, `--ulimit`, `-l/--label`, `--label-file`, `--init`, and
 * podman's `--image-volume`.
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve as resolvePath } from "node:path";
import { UsageError } from "../errors.js";
import { systemErrorText } from "../fs-util.js";
import type { MountOption, RunOptions, UlimitOption } from "../spec/run-options.js";
import { allValues, type FlagDef, intArgument, lastValue, type ParsedFlags } from "./flags.js";
import { setLabel, setOption } from "./key-value.js";
import { type BindRecursive, bindRecursiveProblem, PROPAGATIONS } from "../spec/propagation.js";
import { OCTAL_MODE } from "../containers/volume-options.js";

export const DATA_FLAGS: FlagDef[] = [
  { name: "mount", value: true, repeat: true },
  { name: "tmpfs", value: true, repeat: true },
  { name: "ulimit", value: true, repeat: true },
  { name: "label", short: "l", value: true, repeat: true },
  { name: "label-file", value: true, repeat: true },
  { name: "init" },
  { name: "image-volume", value: true },
];

export const DATA_USAGE = `      --mount SPEC       type=bind|volume|tmpfs,source=…,target=…[,readonly][,volume-nocopy]
                         [,volume-label=K=V][,tmpfs-size=64m][,tmpfs-mode=1777]
      --tmpfs PATH[:OPT] Mount a tmpfs at PATH (options: size=64m,mode=1777,exec,…)
      --ulimit N=S[:H]   Set a resource limit, e.g. nofile=1024:2048 (-1: unlimited)
  -l, --label K=V        Set a label on the container
      --label-file FILE  Read labels from FILE (K=V lines)
      --init             Run a tiny init as PID 1 that reaps zombies and forwards signals
      --image-volume M   The image's VOLUME paths: volume (default: an anonymous volume each),
                         tmpfs, or ignore
`;

export function dataFlagOptions(flags: ParsedFlags, _env: NodeJS.ProcessEnv): Partial<RunOptions> {
  const out: Partial<RunOptions> = {};
  const mounts = allValues(flags, "mount").map(parseMount);
  if (mounts.length > 0) out.mounts = mounts;
  const tmpfs: Record<string, string> = {};
  for (const spec of allValues(flags, "tmpfs")) {
    const colon = spec.indexOf(":");
    const path = colon < 0 ? spec : spec.slice(0, colon);
    if (!isAbsolute(path)) throw new UsageError(`invalid --tmpfs ${spec}: the path must be absolute`);
    tmpfs[path] = colon < 0 ? "" : spec.slice(colon + 1);
  }
  if (Object.keys(tmpfs).length > 0) out.tmpfs = tmpfs;
  const ulimits = allValues(flags, "ulimit").map(parseUlimit);
  if (ulimits.length > 0) out.ulimits = ulimits;
  const labels: Record<string, string> = {};
  for (const file of allValues(flags, "label-file")) for (const line of readKeyValueFile(file, "label")) setLabel(labels, line);
  for (const entry of allValues(flags, "label")) setLabel(labels, entry);
  if (Object.keys(labels).length > 0) out.labels = labels;
  if (flags.bools.has("init")) out.init = true;
  const imageVolume = lastValue(flags, "image-volume");
  if (imageVolume !== undefined) {
    if (imageVolume !== "volume" && imageVolume !== "tmpfs" && imageVolume !== "ignore") {
      throw new UsageError(`invalid --image-volume ${imageVolume}: volume, tmpfs or ignore`);
    }
    out.imageVolume = imageVolume;
  }
  return out;
}

/** `nofile=1024:2048`, `nproc=512` (soft = hard), -1 for unlimited. */
export function parseUlimit(spec: string): UlimitOption {
  const m = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(spec);
  if (!m) throw new UsageError(`invalid ulimit argument: ${spec} (expected NAME=SOFT[:HARD], e.g. nofile=1024:2048)`);
  const soft = intArgument(m[2]!, "ulimit", spec);
  const hard = m[3] === undefined ? soft : intArgument(m[3], "ulimit", spec);
  return { name: m[1]!, soft, hard };
}

/** Docker's --mount: comma-separated key=value fields (a field may be "quoted" to hold commas). */
export function parseMount(spec: string): MountOption {
  const fields = splitCsv(spec);
  const get = new Map<string, string | undefined>();
  const labels: Record<string, string> = {};
  const volumeOptions: Record<string, string> = {};
  for (const field of fields) {
    const eq = field.indexOf("=");
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? undefined : field.slice(eq + 1);
    if (key === "volume-label") {
      if (value === undefined) throw new UsageError(`invalid --mount ${spec}: volume-label needs K=V`);
      setLabel(labels, value);
      continue;
    }
    if (key === "volume-opt") {
      setOption(volumeOptions, value, () => `invalid --mount ${spec}: volume-opt needs K=V`);
      continue;
    }
    get.set(key, value);
  }
  const type = get.get("type") ?? "volume";
  const source = get.get("source") ?? get.get("src");
  const target = get.get("target") ?? get.get("destination") ?? get.get("dst");
  if (target === undefined || target === "") throw new UsageError(`invalid --mount ${spec}: target is required`);
  const readonly = boolField(get, ["readonly", "ro"], spec);
  const allowed: Record<string, string[]> = {
    bind: ["bind-propagation", "bind-recursive", "consistency"],
    volume: ["volume-nocopy", "volume-driver", "volume-opt", "consistency"],
    tmpfs: ["tmpfs-size", "tmpfs-mode", "consistency"],
  };
  if (!allowed[type]) throw new UsageError(`invalid --mount ${spec}: type must be bind, volume or tmpfs, not "${type}"`);
  if (type !== "volume" && Object.keys(volumeOptions).length > 0) throw new UsageError(`invalid --mount ${spec}: unexpected key 'volume-opt' for a ${type} mount`);
  for (const key of get.keys()) {
    if (!["type", "source", "src", "target", "destination", "dst", "readonly", "ro", ...allowed[type]!].includes(key)) {
      throw new UsageError(`invalid --mount ${spec}: unexpected key '${key}' for a ${type} mount`);
    }
  }
  switch (type) {
    case "bind": {
      if (!source) throw new UsageError(`invalid --mount ${spec}: a bind mount needs a source`);
      // docker 23+'s CLI: a relative source (`src=.`, `src=./www`) is from the current directory.
      const propagation = get.get("bind-propagation");
      if (propagation !== undefined && !PROPAGATIONS.includes(propagation)) {
        throw new UsageError(`invalid --mount ${spec}: bind-propagation must be private, rprivate, slave, rslave, shared or rshared`);
      }
      const recursive = get.get("bind-recursive");
      const problem = bindRecursiveProblem(recursive, readonly, propagation);
      if (problem) throw new UsageError(`invalid --mount ${spec}: ${problem}`);
      return { type, source: resolvePath(source), target, ...(readonly ? { readonly } : {}), ...(propagation ? { propagation } : {}), ...(recursive ? { recursive: recursive as BindRecursive } : {}) };
    }
    case "volume": {
      const driver = get.get("volume-driver");
      if (driver !== undefined && driver !== "local") throw new UsageError(`invalid --mount ${spec}: only the local volume driver exists here`);
      if (source !== undefined && source.includes("/")) throw new UsageError(`invalid --mount ${spec}: a volume's source is a volume name (use type=bind for a host path)`);
      const noCopy = boolField(get, ["volume-nocopy"], spec);
      return {
        type,
        ...(source ? { source } : {}),
        target,
        ...(readonly ? { readonly } : {}),
        ...(noCopy ? { noCopy } : {}),
        ...(Object.keys(labels).length > 0 ? { labels } : {}),
        ...(Object.keys(volumeOptions).length > 0 ? { volumeOptions } : {}),
      };
    }
    default: {
      if (source) throw new UsageError(`invalid --mount ${spec}: a tmpfs mount takes no source`);
      const sizeText = get.get("tmpfs-size");
      const modeText = get.get("tmpfs-mode");
      const size = sizeText === undefined ? undefined : parseRamBytes(sizeText, `tmpfs-size in --mount ${spec}`);
      if (modeText !== undefined && !OCTAL_MODE.test(modeText)) throw new UsageError(`invalid --mount ${spec}: tmpfs-mode must be an octal mode of at most 07777, e.g. 1777`);
      return {
        type: "tmpfs",
        target,
        ...(size !== undefined ? { size } : {}),
        ...(modeText !== undefined ? { mode: parseInt(modeText, 8) } : {}),
        ...(readonly ? { options: ["ro"] } : {}),
      };
    }
  }
}

function boolField(get: Map<string, string | undefined>, keys: string[], spec: string): boolean {
  for (const key of keys) {
    if (!get.has(key)) continue;
    const v = get.get(key);
    if (v === undefined || ["1", "true"].includes(v.toLowerCase())) return true;
    if (["0", "false"].includes(v.toLowerCase())) return false;
    throw new UsageError(`invalid --mount ${spec}: ${key} must be true or false`);
  }
  return false;
}

/** CSV fields as Go's encoding/csv reads one line: `"a,b"` is one field, `""` an escaped quote. */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") out.push(field), (field = "");
    else field += c;
  }
  out.push(field);
  return out.filter((f) => f !== "");
}

/** go-units RAMInBytes: 64m, 1.5g, 512k, 100 (bytes); binary multiples. */
export function parseRamBytes(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(text.trim());
  if (!m) throw new UsageError(`invalid size "${text}" for ${what} (e.g. 64m, 1g)`);
  const power = m[2] ? "kmgtp".indexOf(m[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(m[1]) * 1024 ** power);
}

/** The lines of an env or label file: blank lines and `#` comments skipped, leading blanks and CRs dropped. */
export function readKeyValueFile(file: string, what: string): string[] {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UsageError(`cannot read ${what} file ${file}: ${systemErrorText(err as NodeJS.ErrnoException)}`);
  }
  return utf8Lines(bytes, file, what)
    .map((raw) => raw.replace(/^\s+/, "").replace(/\r$/, ""))
    .filter((line) => line !== "" && !line.startsWith("#"));
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A file's lines, refused with the line's number where one is not UTF-8 (docker's parseKeyValueFile): decoded
 * leniently, a Latin-1 or UTF-16 file's bytes became U+FFFD in the container's variables and labels, silently.
 */
function utf8Lines(bytes: Buffer, file: string, what: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start);
    if (end < 0) end = bytes.length;
    try {
      lines.push(strictUtf8.decode(bytes.subarray(start, end)));
    } catch {
      throw new UsageError(`${what} file ${file} contains invalid utf8 bytes at line ${lines.length + 1}`);
    }
    start = end + 1;
  }
  return lines;
}

