/**
 * A bind source checked before the vm backend exports it: the rule the
 * native backend holds in native-rs/container/src/paths.rs (`open_source`,
 * docs/security.md "Paths"), here in TS because the vm backend also runs
 * where the Rust addon is absent (macOS, Windows). Both read the cases of
 * test/fixtures/contract/bind-sources.json, and its refusal wording.
 *
 * A container that can write a volume can plant a symlink in it, so a
 * symlink on the way to a source is followed only when its owner is not one
 * a container's writes could have made. The walk (path-walk.ts) reads each
 * component with lstat and each link itself, as the Rust walk does; the result is the
 * symlink-free path and the identity of what it names, which the 9p server
 * pins the export to (p9/server.ts addExport).
 */
import { walkPath } from "../../../path-walk.js";
import type { FileIdentity } from "../core/p9/server.js";

/** Host uids whose files a container could have written: (first, count) ranges, or every uid. */
export type Planters = "everyone" | readonly (readonly [number, number])[];

export interface CheckedSource {
  /** The source with no symlink on the way (what was checked). */
  path: string;
  identity: FileIdentity;
}

/**
 * Who could have planted a link for a vm container: every file the guest
 * makes in an export is made by the 9p server, as the user running tsbox
 * (can it chown, as root, any uid). Windows has no uids: every link counts.
 * (A /proc magic link of ours is ours, so no rule of its own is needed.)
 */
export function vmPlanters(): Planters {
  const uid = process.getuid?.();
  return uid === undefined || uid === 0 ? "everyone" : [[uid, 1]];
}

export function plantedBy(planters: Planters, uid: number): boolean {
  return planters === "everyone" || planters.some(([first, count]) => uid >= first && uid - first < count);
}

/** The refusal; its wording is native-rs/container/src/paths.rs `check_link`'s (the contract fixture holds both to it). */
export function plantedLinkMessage(link: string, target: string, owner: number): string {
  return `${link} is a symlink (to ${target}) owned by uid ${owner}, which a container could have planted: tsbox does not follow it (give the real path)`;
}

/**
 * Resolves the absolute host path `path`, following a symlink only when
 * `planters` cannot have made it. Throws the refusal, or an error with a
 * `code` (ENOENT, ENOTDIR, ELOOP, EINVAL) as the Rust walk's errno.
 */
export function checkBindSource(path: string, planters: Planters): CheckedSource {
  const { path: real, st } = walkPath(path, (here, st, target) => {
    if (target !== undefined && plantedBy(planters, Number(st.uid))) throw new Error(plantedLinkMessage(here, target, Number(st.uid)));
  });
  return { path: real, identity: { dev: String(st.dev), ino: String(st.ino) } };
}
