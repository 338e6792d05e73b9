/**
 * docker's local volume driver options (`volume create -o`, `--mount
 * volume-opt=`), as far as tsbox applies them: `type=none,o=bind,device=DIR`
 * (the volume is that host directory) and `type=tmpfs,device=tmpfs[,o=…]`
 * (each container mounting it gets a tmpfs with those options). Anything
 * else (nfs, a block device…) is refused here, where both ways in meet,
 * instead of silently making an ordinary volume. Also the tmpfs option rules
 * `--tmpfs` shares.
 */
import { UsageError } from "../errors.js";

/** Where a volume's files live: its own `_data`, a host directory, or a tmpfs per container. */
export type VolumeBacking = { kind: "data" } | { kind: "bind"; device: string } | { kind: "tmpfs"; options: string[] };

const SUPPORTED = "tsbox's local driver takes type=none,o=bind,device=DIR (a host directory) or type=tmpfs,device=tmpfs[,o=size=…,mode=…,uid=…,gid=…]";

/** What a volume's options make it; a UsageError for options tsbox cannot apply. */
export function volumeBacking(options: Record<string, string>): VolumeBacking {
  const keys = Object.keys(options);
  if (keys.length === 0) return { kind: "data" };
  const bad = (what: string) => new UsageError(`invalid volume options (${optionsText(options)}): ${what}; ${SUPPORTED}`);
  const unknown = keys.find((k) => !["type", "o", "device"].includes(k));
  if (unknown !== undefined) throw bad(`unknown option "${unknown}"`);
  const { type, device, o = "" } = options;
  if (!type || !device) throw bad(`type and device are both needed`);
  const flags = o.split(",").filter((f) => f !== "");
  if (type === "none") {
    if (!flags.some((f) => f === "bind" || f === "rbind")) throw bad(`type=none mounts nothing without o=bind`);
    const other = flags.find((f) => f !== "bind" && f !== "rbind");
    if (other !== undefined) throw bad(`o=${other} is not applied to a bound directory`);
    if (!device.startsWith("/")) throw bad(`device ${device} must be an absolute path`);
    return { kind: "bind", device };
  }
  if (type === "tmpfs") {
    for (const f of flags) {
      const problem = tmpfsOptionProblem(f);
      if (problem) throw bad(`tmpfs option "${f}": ${problem}`);
    }
    return { kind: "tmpfs", options: flags };
  }
  throw bad(`type=${type} is not supported`);
}

/** The host directory a volume is bound to, if any (no error for options an older file may hold). */
export function boundDevice(options: Record<string, string> | undefined): string | undefined {
  try {
    const backing = volumeBacking(options ?? {});
    return backing.kind === "bind" ? backing.device : undefined;
  } catch {
    return undefined;
  }
}

/** `device=/d,o=bind,type=none`: sorted, as one line. */
export function optionsText(options: Record<string, string>): string {
  return Object.keys(options)
    .sort()
    .map((k) => `${k}=${options[k]}`)
    .join(",");
}

/** A tmpfs mode as docker (strconv.ParseUint(v, 8, 32)) and the kernel take it: octal, leading zeros allowed, at most 07777. */
export const OCTAL_MODE = /^0*[0-7]{1,4}$/;

/** Mount flags a tmpfs takes (mount(8)'s), and its own valued options with what their values look like. */
const TMPFS_FLAGS = new Set(["ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev", "sync", "async", "dirsync", "atime", "noatime", "relatime", "norelatime", "strictatime", "nostrictatime", "diratime", "nodiratime", "inode32", "inode64"]);
const TMPFS_VALUES: Record<string, [RegExp, string]> = {
  size: [/^\d+[kmgtpe%]?$/i, "bytes with k, m or g (e.g. 64m), or a % of memory"],
  nr_blocks: [/^\d+[kmgtpe]?$/i, "a number of pages (k, m or g)"],
  nr_inodes: [/^\d+[kmgtpe]?$/i, "a number of inodes (k, m or g)"],
  mode: [OCTAL_MODE, "octal permissions (e.g. 1777)"],
  uid: [/^\d+$/, "a numeric user id"],
  gid: [/^\d+$/, "a numeric group id"],
  huge: [/^(never|always|within_size|advise|deny|force)$/, "never, always, within_size or advise"],
  mpol: [/^(default|prefer|bind|interleave|local)(:[\d,-]+)?$/, "a NUMA policy (default, prefer:N, bind:N, interleave, local)"],
};

/** What is wrong with one tmpfs option (undefined: nothing); the kernel's EINVAL names none of it. */
export function tmpfsOptionProblem(option: string): string | undefined {
  const eq = option.indexOf("=");
  if (eq < 0) return TMPFS_FLAGS.has(option) ? undefined : `not a tmpfs option (size=, mode=, uid=, gid=, nr_inodes=, or a mount flag such as exec, ro)`;
  const rule = TMPFS_VALUES[option.slice(0, eq)];
  if (!rule) return `not a tmpfs option (size=, mode=, uid=, gid=, nr_inodes=, nr_blocks=, huge=, mpol=)`;
  return rule[0].test(option.slice(eq + 1)) ? undefined : `${option.slice(0, eq)} takes ${rule[1]}`;
}
