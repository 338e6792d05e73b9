/** A bind mount's propagation modes (`--mount bind-propagation=`, `-v …:rslave`, VolumeOption.propagation). */
export const PROPAGATIONS = ["private", "rprivate", "slave", "rslave", "shared", "rshared"];

/**
 * `--mount bind-recursive=` (docker 25+), what a bind does with the mounts below its source: `enabled` (the
 * default) binds them too, read-only with the rest when the bind is; `disabled` binds the source's mount alone;
 * `writable` leaves them writable under a read-only bind (docker 24's way); `readonly` insists on read-only.
 */
export const BIND_RECURSIVE = ["enabled", "disabled", "writable", "readonly"] as const;
export type BindRecursive = (typeof BIND_RECURSIVE)[number];

/** docker-cli's rules for `bind-recursive` (opts/mount.go), in its words; undefined when the combination is fine. */
export function bindRecursiveProblem(recursive: string | undefined, readonly: boolean, propagation: string | undefined): string | undefined {
  if (recursive === undefined) return undefined;
  if (!(BIND_RECURSIVE as readonly string[]).includes(recursive)) {
    return `invalid value for bind-recursive: ${recursive} (must be "enabled", "disabled", "writable", or "readonly")`;
  }
  if ((recursive === "writable" || recursive === "readonly") && !readonly) return `option 'bind-recursive=${recursive}' requires 'readonly' to be specified in conjunction`;
  // A mount the host makes later below a slave would arrive writable: docker asks for rprivate.
  if (recursive === "readonly" && propagation !== "rprivate") return "option 'bind-recursive=readonly' requires 'bind-propagation=rprivate' to be specified in conjunction";
  return undefined;
}

/**
 * The OCI options of a bind of a host path or a volume, as runc takes them: `bind` for the source's mount alone,
 * `rbind` with what is mounted below it; read-only binds add runc's `rro`, which makes every mount of the tree
 * read-only (docker 25+), unless `writable` asks for the top alone.
 */
export function bindOptions(readonly: boolean, recursive: BindRecursive = "enabled"): string[] {
  const bind = recursive === "disabled" ? "bind" : "rbind";
  if (!readonly) return [bind, "rw"];
  return recursive === "writable" || recursive === "disabled" ? [bind, "ro"] : [bind, "ro", "rro"];
}
