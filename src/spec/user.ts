import { lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { TsboxError } from "../errors.js";
import { isErrno } from "../fs-util.js";

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Supplementary groups from /etc/group (docker adds them too). */
  additionalGids: number[];
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

/**
 * Docker's `-u` semantics: `name`, `uid`, `name:group`, `uid:gid` (and
 * mixes), names looked up in the image's /etc/passwd and /etc/group.
 * A numeric uid needs no passwd entry (gid then defaults to 0).
 */
export async function resolveUser(spec: string, layers: string[]): Promise<ResolvedUser> {
  const colon = spec.indexOf(":");
  const userPart = colon >= 0 ? spec.slice(0, colon) : spec;
  const groupPart = colon >= 0 ? spec.slice(colon + 1) : undefined;
  if (userPart === "") throw new TsboxError(`invalid user "${spec}": empty user name`, { code: "usage" });

  const passwd = parsePasswd((await readImageFile(layers, "etc/passwd")) ?? "");
  let entry: PasswdEntry | undefined;
  let uid: number;
  if (isNumeric(userPart)) {
    uid = numericId(userPart, spec);
    entry = passwd.find((e) => e.uid === uid);
  } else {
    entry = passwd.find((e) => e.name === userPart);
    if (!entry) throw new TsboxError(`unable to find user ${userPart}: no matching entries in passwd file`, { code: "usage" });
    uid = entry.uid;
  }

  const needGroups = groupPart !== undefined ? !isNumeric(groupPart) : entry !== undefined;
  const groups = needGroups ? parseGroup((await readImageFile(layers, "etc/group")) ?? "") : [];
  let gid: number;
  if (groupPart === undefined || groupPart === "") {
    gid = entry?.gid ?? 0;
  } else if (isNumeric(groupPart)) {
    gid = numericId(groupPart, spec);
  } else {
    const group = groups.find((g) => g.name === groupPart);
    if (!group) throw new TsboxError(`unable to find group ${groupPart}: no matching entries in group file`, { code: "usage" });
    gid = group.gid;
  }
  const additionalGids = entry ? [...new Set(groups.filter((g) => g.members.includes(entry!.name) && g.gid !== gid).map((g) => g.gid))] : [];
  return { uid, gid, additionalGids, home: entry?.home || "/" };
}

/**
 * (Sync: two small files on every `run` with a user.)
 * Reads a file as the container would see it through overlay: topmost
 * layer that has it wins; a whiteout (or a non-regular file) hides it.
 * Parents must be real directories: a symlinked /etc in a layer could
 * point anywhere on the host, so it is treated as "no file".
 */
export async function readImageFile(layers: string[], rel: string): Promise<string | undefined> {
  const parts = rel.split("/");
  for (const layer of layers) {
    let dir = layer;
    let hidden = false;
    let missing = false;
    for (let i = 0; i < parts.length; i++) {
      const path = join(dir, parts[i]!);
      let st;
      try {
        st = lstatSync(path);
      } catch (err) {
        if (!isErrno(err, "ENOENT") && !isErrno(err, "ENOTDIR")) throw err;
        missing = true;
        break;
      }
      const last = i === parts.length - 1;
      if (last ? !st.isFile() : !st.isDirectory()) {
        hidden = true; // whiteout, symlink or wrong type: lower layers are not visible here
        break;
      }
      dir = path;
    }
    if (hidden) return undefined;
    if (!missing) return readFileSync(dir, "utf8");
  }
  return undefined;
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
  if (n > MAX_UID) throw new TsboxError(`invalid user "${spec}": id ${s} out of range`, { code: "usage" });
  return n;
}
