/**
 * Users and groups of an image (docker's `-u`), without file access of its
 * own: shared by hosts (user.ts reads unpacked layers) and the browser
 * Worker (its in-memory image root).
 */
import { TsboxError, UsageError } from "../errors.js";

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups from /etc/group (docker adds them too) and `groupAdd`'s. */
  additionalGids: number[];
  /** `groupAdd`'s gids, one per entry, in its order. */
  addedGids: number[];
  /** From /etc/passwd; becomes $HOME when the image does not set it. */
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

const MAX_UID = 2 ** 31 - 1;

/** A file of the image's root by its relative path (`etc/passwd`), or undefined when it has none. */
export type ImageFileReader = (rel: string) => Promise<string | undefined> | string | undefined;

/**
 * Docker's `-u` semantics: `name`, `uid`, `name:group`, `uid:gid` (and
 * mixes), names looked up in the image's /etc/passwd and /etc/group (read
 * through `read`: unpacked layers on hosts, the in-memory root in browsers).
 * A numeric uid needs no passwd entry (gid then defaults to 0).
 */
/**
 * A user or group the image's passwd or group file does not name. docker finds that out as the process starts (runc's
 * "unable to find user"): `run` exits 125 for it, an exec that could not start 126 (cli/commands/exec.ts).
 */
export class UnknownUserError extends UsageError {}

export async function lookupUser(spec: string, read: ImageFileReader, groupAdd: string[] = []): Promise<ResolvedUser> {
  const colon = spec.indexOf(":");
  const userPart = colon >= 0 ? spec.slice(0, colon) : spec;
  const groupPart = colon >= 0 ? spec.slice(colon + 1) : undefined;
  if (userPart === "") throw new UsageError(`invalid user "${spec}": empty user name`);

  const passwd = parsePasswd((await read("etc/passwd")) ?? "");
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isNumeric(userPart)) {
    uid = numericId(userPart, spec);
    entry = passwd.find((e) => e.uid === uid);
  } else {
    entry = passwd.find((e) => e.name === userPart);
    if (!entry) throw new UnknownUserError(`unable to find user ${userPart}: no matching entries in passwd file`);
    uid = entry.uid;
  }

  const needGroups = (groupPart !== undefined ? !isNumeric(groupPart) : entry !== undefined) || groupAdd.some((g) => !isNumeric(g));
  const groups = needGroups ? parseGroup((await read("etc/group")) ?? "") : [];
  let gid: number;
  if (groupPart === undefined || groupPart === "") {
    gid = entry?.gid ?? 0;
  } else if (isNumeric(groupPart)) {
    gid = numericId(groupPart, spec);
  } else {
    const group = groups.find((g) => g.name === groupPart);
    if (!group) throw new UnknownUserError(`unable to find group ${groupPart}: no matching entries in group file`);
    gid = group.gid;
  }
  const members = entry ? groups.filter((g) => g.members.includes(entry!.name)).map((g) => g.gid) : [];
  // docker's --group-add: a group name of the image's, or any gid.
  const added = groupAdd.map((g) => {
    if (isNumeric(g)) return numericId(g, `--group-add ${g}`);
    const group = groups.find((e) => e.name === g);
    if (!group) throw new UnknownUserError(`unable to find group ${g}: no matching entries in group file`);
    return group.gid;
  });
  const additionalGids = [...new Set([...members, ...added])].filter((g) => g !== gid);
  return { uid, gid, additionalGids, addedGids: added, home: entry?.home || "/" };
}

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 7 || !isNumeric(f[2]!) || !isNumeric(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4 || !isNumeric(f[2]!)) continue;
    out.push({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter((m) => m !== "") });
  }
  return out;
}

function isNumeric(s: string): boolean {
  return /^\d+$/.test(s);
}

function numericId(s: string, spec: string): number {
  const n = Number(s);
  if (n > MAX_UID) throw new UsageError(`invalid user "${spec}": id ${s} out of range`);
  return n;
}
