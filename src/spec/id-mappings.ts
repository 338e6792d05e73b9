import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { onPath } from "../on-path.js";
import { ID_HELPERS_PACKAGE, missingIdHelpers } from "./id-helpers.js";
import type { IdMapping } from "./container-spec.js";
import { inInitialUserNamespace, ownIdRanges, ownsNetworkNamespace } from "./nested-root.js";

export interface IdRange {
  start: number;
  count: number;
}

/** Who runs tsbox, as far as user-namespace mappings care. */
export interface HostIdentity {
  uid: number;
  gid: number;
  /** The user's subordinate ranges, when /etc/subuid + /etc/subgid have one and newuidmap/newgidmap exist. */
  subuid?: IdRange;
  subgid?: IdRange;
  /** Why the ranges /etc/subuid and /etc/subgid list are not used (the single-id mapping instead), when they are listed. */
  rangeUnused?: { cause: "helpers-missing" | "no-new-privs"; text: string };
  /**
   * Root of a user namespace other than the initial one (nested-root.ts): the ids its namespace maps, which
   * are all its containers can have; its overlay metadata and probes are user.*, as rootless.
   */
  nested?: {
    uids: IdMapping[];
    gids: IdMapping[];
    /** Its network namespace is its own (a container's): bridges as root's; else through the rootless helpers. */
    ownNetwork: boolean;
  };
}

export function probeHostIdentity(): HostIdentity {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  if (uid === 0) {
    if (inInitialUserNamespace()) return { uid, gid };
    return { uid, gid, nested: { uids: ownIdRanges("uid"), gids: ownIdRanges("gid"), ownNetwork: ownsNetworkNamespace() } };
  }
  const { subuid, subgid } = listedRanges(uid);
  if (!subuid || !subgid) return { uid, gid };
  const missing = missingIdHelpers();
  if (missing.length > 0) return { uid, gid, rangeUnused: { cause: "helpers-missing", text: `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} not installed (${ID_HELPERS_PACKAGE})` } };
  // The kernel ignores setuid bits and file capabilities under no_new_privs: newuidmap would fail on every run.
  // podman maps the single id then, with a warning; so does tsbox (runtime.ts, info).
  if (noNewPrivs()) return { uid, gid, rangeUnused: { cause: "no-new-privs", text: NO_NEW_PRIVS } };
  return { uid, gid, subuid, subgid };
}

const NO_NEW_PRIVS =
  "no_new_privs is set on this process (setpriv --no-new-privs, a container's no-new-privileges, systemd's NoNewPrivileges=), under which the setuid newuidmap and newgidmap cannot work; start tsbox without it to use your range";

/** `NoNewPrivs: 1` in /proc/self/status: inherited by every child, newuidmap included. */
function noNewPrivs(): boolean {
  try {
    return /^NoNewPrivs:\s*1$/m.test(readFileSync("/proc/self/status", "utf8"));
  } catch {
    return false;
  }
}

/**
 * The warning of a rootless run whose listed range cannot be used for a reason of this process's, not the host's
 * (missing helpers are `info`'s warning: a host's set-up, the same on every run).
 */
export function rangeUnusedWarning(host: HostIdentity): string | undefined {
  return host.rangeUnused?.cause === "no-new-privs" ? `your /etc/subuid range is not used: ${host.rangeUnused.text}; containers have only uid 0 (-u with another id fails)` : undefined;
}

/**
 * Root of the initial user namespace, the host's root: the only caller with trusted.* xattrs, device nodes and
 * every id. Root inside a container takes the rootless paths for those (`nested`).
 */
export function isHostRoot(host: HostIdentity): boolean {
  return host.uid === 0 && !host.nested;
}

/**
 * Bridges through the rootless helpers (pasta, slirp4netns) in a network namespace of the user's own, not in the
 * caller's: rootless, and root inside a container whose network namespace is not its own.
 */
export function rootlessNetworking(host: HostIdentity): boolean {
  return host.uid !== 0 || host.nested?.ownNetwork === false;
}

/** This user's ranges as /etc/subuid and /etc/subgid list them, whether or not the helpers exist to apply them. */
export function listedRanges(uid: number): { subuid?: IdRange; subgid?: IdRange } {
  const name = userName();
  const subuid = findSubordinateRange("/etc/subuid", name, uid);
  const subgid = findSubordinateRange("/etc/subgid", name, uid);
  return { ...(subuid && { subuid }), ...(subgid && { subgid }) };
}

/**
 * The user namespace layout (crun/podman's choice):
 * - root: identity over the whole id space;
 * - root of a user namespace inside a container: identity over the ids that namespace maps;
 * - rootless with subordinate ids: 0 → the user, 1.. → the subordinate range;
 * - rootless otherwise: only 0 → the user.
 */
export function idMappings(host: HostIdentity): { uidMappings: IdMapping[]; gidMappings: IdMapping[] } {
  if (host.nested) return { uidMappings: host.nested.uids.map((m) => ({ ...m })), gidMappings: host.nested.gids.map((m) => ({ ...m })) };
  if (host.uid === 0) {
    const all = [{ containerID: 0, hostID: 0, size: 4294967295 }];
    return { uidMappings: all, gidMappings: all.map((m) => ({ ...m })) };
  }
  const build = (own: number, sub: IdRange | undefined): IdMapping[] => [
    { containerID: 0, hostID: own, size: 1 },
    ...(sub ? [{ containerID: 1, hostID: sub.start, size: sub.count }] : []),
  ];
  return { uidMappings: build(host.uid, host.subuid), gidMappings: build(host.gid, host.subgid) };
}

/**
 * The user an administrator's command names: this user's name, not `$USER`, which a root shell expands to root
 * (and which is unset under env -i).
 */
export function userForAdmin(): string {
  return userName() ?? String(process.getuid?.() ?? "$USER");
}

function userName(): string | undefined {
  try {
    return userInfo().username;
  } catch {
    return undefined;
  }
}

/** Another owner's range in /etc/subuid or /etc/subgid that shares ids with this user's. */
export interface Overlap extends IdRange {
  file: string;
  owner: string;
  /** The shared ids, first to last. */
  first: number;
  last: number;
}

/**
 * The other owners' ranges that overlap this user's (`host`'s): their containers' files are this user's
 * containers' files, both ways (a misconfiguration tsbox can see, as it reads every range anyway).
 */
export function overlappingRanges(host: HostIdentity, files = { subuid: "/etc/subuid", subgid: "/etc/subgid" }): Overlap[] {
  const name = userName();
  const mine = (owner: string) => owner === name || owner === String(host.uid);
  return (["subuid", "subgid"] as const).flatMap((kind) => {
    const own = host[kind];
    if (!own) return [];
    return subordinateRanges(files[kind]).flatMap((r) => {
      const first = Math.max(r.start, own.start);
      const last = Math.min(r.start + r.count, own.start + own.count) - 1;
      return !mine(r.owner) && first <= last ? [{ file: files[kind], owner: r.owner, start: r.start, count: r.count, first, last }] : [];
    });
  });
}

/** What `info` and each rootless run say of overlappingRanges (a security problem), if any. */
export function overlapWarning(host: HostIdentity): string | undefined {
  const shared = overlappingRanges(host).map((o) => `${o.owner}'s ${o.start}+${o.count} in ${o.file} (ids ${o.first}-${o.last})`);
  if (shared.length === 0) return undefined;
  return (
    `your subordinate ids overlap ${shared.join(", ")}: those ids' files are theirs as much as yours (their containers read and write what yours own, and yours theirs); ` +
    `ask an administrator for a range of your own (${subordinateIdAdvice()}, after usermod --del-subuids/--del-subgids of the shared one)`
  );
}

/** `name:start:count` or `uid:start:count` lines; the first match wins, as in shadow-utils. */
export function findSubordinateRange(file: string, name: string | undefined, uid: number): IdRange | undefined {
  const found = subordinateRanges(file).find((r) => r.owner === name || r.owner === String(uid));
  return found && { start: found.start, count: found.count };
}

/** The well-formed ranges of an /etc/subuid or /etc/subgid file, in order; none when it cannot be read. */
function subordinateRanges(file: string): (IdRange & { owner: string })[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text.split("\n").flatMap((line) => {
    const [owner, start, count] = line.trim().split(":");
    if (owner === undefined || start === undefined || count === undefined) return [];
    const range = { owner, start: Number(start), count: Number(count) };
    return Number.isSafeInteger(range.start) && Number.isSafeInteger(range.count) && range.count > 0 ? [range] : [];
  });
}

/**
 * What an administrator runs to give `user` subordinate ids: a range of
 * 65536 after every range /etc/subuid and /etc/subgid hand out (useradd's
 * rule, from 100000), so it collides with no other user's; and the setuid
 * helpers that apply ranges, when they are missing.
 */
export function subordinateIdAdvice(files = { subuid: "/etc/subuid", subgid: "/etc/subgid" }, helpers = onPath("newuidmap") && onPath("newgidmap")): string {
  let start = 100_000;
  for (const r of [...subordinateRanges(files.subuid), ...subordinateRanges(files.subgid)]) start = Math.max(start, r.start + r.count);
  const range = `${start}-${start + 65_535}`;
  const add = `usermod --add-subuids ${range} --add-subgids ${range} ${userForAdmin()}`;
  return helpers ? add : `${add}, and install newuidmap/newgidmap (${ID_HELPERS_PACKAGE})`;
}
