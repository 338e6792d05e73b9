/**
 * Rootless layers with their owners and file capabilities. An unprivileged
 * unpack leaves every file the user's (the container's root); the owners the
 * tar gave are then applied by root of the user's own user namespace
 * (user-namespace.ts), so a file of uid 1000 in the image is uid 1000 in
 * every container, as with podman. Nothing to do as root (the unpack chowns
 * itself) or without subordinate ids (one mapped id: nobody else to give a
 * file to). An id beyond the user's range stays root's (podman refuses such
 * a layer; here the image still runs), and so the set-uid bit of a file whose
 * owner is not kept, or the set-gid bit where its group is not, is cleared:
 * kept, it would make a program the image meant to run as some unprivileged
 * id run as the container's root.
 *
 * Capabilities (`setcap`'s `security.capability`) are set by that root too,
 * after the chown (which clears them), also for a user with one mapped id:
 * the kernel stores a layer's v2 capability written there as a v3 one whose
 * root is the namespace's root, the user's own uid, and honours it only in
 * user namespaces whose root (or an ancestor's) is that uid — every
 * container of this user, none of anyone else's, nothing on the host
 * (docs/security.md). Podman's rootless unpack does the same.
 */
import { recordHeader } from "./copy-records.js";
import type { LayerCapability, LayerOwner } from "../image/unpack.js";
import { hasRawBytes, nameBytes } from "../name-bytes.js";
import { idMappings } from "../spec/id-mappings.js";
import { isMapped } from "../spec/validate.js";
import type { LifecycleContext } from "./context.js";
import { inUserNamespace, setXattrsInUserNamespace, shQuote } from "./user-namespace.js";

/** `sh -c` takes one argument of at most 128 KiB. */
const SCRIPT_BYTES = 96 * 1024;

/**
 * Whether the owners were given: false where this user cannot (no
 * subordinate ids), and the layer keeps them as notes
 * (image/owner-notes.ts). The capabilities are set either way (rootless).
 */
export async function applyLayerOwners(ctx: LifecycleContext, dir: string, owners: LayerOwner[], capabilities: LayerCapability[] = []): Promise<boolean> {
  const host = ctx.host();
  if (host.uid === 0) return false;
  if (host.subuid) {
    const todo = keptOwners(owners, idMappings(host));
    for (const batch of batches(todo)) await inUserNamespace(ctx, dir, script(batch), `giving the files of layer ${dir} their owners`);
  }
  if (capabilities.length > 0) await setXattrsInUserNamespace(ctx, dir, capabilityRecords(capabilities), `setting the file capabilities of layer ${dir}`);
  return host.subuid !== undefined;
}

/**
 * What each file gets in the user's namespace: its owner and group where mapped, else root (what the unpack
 * left), without the set-id bit that would then be root's. Files left as the unpack made them are not listed.
 */
export function keptOwners(owners: LayerOwner[], maps: ReturnType<typeof idMappings>): LayerOwner[] {
  const out: LayerOwner[] = [];
  for (const o of owners) {
    const uidKept = isMapped(maps.uidMappings, o.uid);
    const gidKept = isMapped(maps.gidMappings, o.gid);
    const mode = o.mode === undefined ? undefined : o.mode & ~(uidKept ? 0 : 0o4000) & ~(gidKept ? 0 : 0o2000);
    const kept = { path: o.path, uid: uidKept ? o.uid : 0, gid: gidKept ? o.gid : 0, ...(mode !== undefined ? { mode } : {}) };
    // Root's with no set-id bit cleared: as unpacked already.
    if (kept.uid === 0 && kept.gid === 0 && mode === o.mode) continue;
    out.push(kept);
  }
  return out;
}

/** One copy record per file, its capability its only xattr (copy/write.rs set_xattrs_of_existing). */
function capabilityRecords(capabilities: LayerCapability[]): Buffer {
  return Buffer.concat(
    capabilities.map((c) => recordHeader({ path: c.path, type: "file", mode: 0, uid: 0, gid: 0, mtime: 0, size: 0, xattrs: { "security.capability": c.value.toString("hex") } })),
  );
}

/** `./path`, single-quoted for sh (never read as an option). */
const quote = (path: string) => shQuote(`./${path}`);

/**
 * A name that is not UTF-8 (src/name-bytes.ts) cannot be in the script as
 * it is (an argument is UTF-8 text): `$p`, set to its bytes by printf from
 * octal escapes (the `x` keeps a trailing newline from `$(…)`).
 */
function setRawPath(path: string): string {
  const escaped = [...nameBytes(`./${path}`)].map((b) => (/[A-Za-z0-9._/-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, "0")}`));
  return `p=$(printf '${escaped.join("")}x'); p=\${p%x}`;
}

function script(owners: LayerOwner[]): string {
  const byOwner = new Map<string, string[]>();
  const lines = ["set -e", "cd /mnt"];
  for (const o of owners) {
    if (o.uid === 0 && o.gid === 0) continue; // root's already: only its mode changes, below
    if (hasRawBytes(o.path)) lines.push(`${setRawPath(o.path)}; chown -h ${o.uid}:${o.gid} "$p"`);
    else byOwner.set(`${o.uid}:${o.gid}`, [...(byOwner.get(`${o.uid}:${o.gid}`) ?? []), quote(o.path)]);
  }
  for (const [owner, paths] of byOwner) lines.push(`chown -h ${owner} ${paths.join(" ")}`);
  // chown clears setuid and setgid: the modes that have them (or sticky) again; a file left root's gets its mode
  // without the set-id bits keptOwners cleared.
  for (const o of owners) {
    if (o.mode === undefined || ((o.mode & 0o7000) === 0 && (o.uid !== 0 || o.gid !== 0))) continue;
    lines.push(hasRawBytes(o.path) ? `${setRawPath(o.path)}; chmod ${o.mode.toString(8)} "$p"` : `chmod ${o.mode.toString(8)} ${quote(o.path)}`);
  }
  return lines.join("\n");
}

function batches(owners: LayerOwner[]): LayerOwner[][] {
  const out: LayerOwner[][] = [];
  let current: LayerOwner[] = [];
  let bytes = 0;
  for (const o of owners) {
    const size = o.path.length * 4 + 96;
    if (bytes + size > SCRIPT_BYTES && current.length > 0) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(o);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}
