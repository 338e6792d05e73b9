import { TsboxError } from "../errors.js";
import { readFileInTree } from "../image/safe-open.js";

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

/** /etc/passwd and /etc/group of a real image are a few KiB; a container could make them any size. */
const MAX_ACCOUNT_FILE = 4 * 1024 * 1024;

/**
 * (Sync: two small files on every `run` with a user.)
 * Reads a file as the container would see it through overlay: topmost
 * layer that has it wins; a whiteout (or a non-regular file) hides it.
 * The topmost "layer" of a running container is its writable upper dir,
 * which the container changes while we read: every name is opened
 * without following symlinks (src/image/safe-open.ts), so a symlinked
 * /etc or /etc/passwd is treated as "no file" and can never lead the
 * read to a host file, and a FIFO or device node is never opened.
 */
export async function readImageFile(layers: string[], rel: string): Promise<string | undefined> {
  for (const layer of layers) {
    let found;
    try {
      found = readFileInTree(layer, rel, MAX_ACCOUNT_FILE);
    } catch (err) {
      if (err instanceof TsboxError) throw new TsboxError(`unable to read the container's /${rel}: it is larger than ${MAX_ACCOUNT_FILE / 1024 / 1024} MiB`, { code: "usage" });
      throw err;
    }
    if (found.kind === "hidden") return undefined; // whiteout, symlink or wrong type: lower layers are not visible here
    if (found.kind === "file") return found.data.toString("utf8");
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
