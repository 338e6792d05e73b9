/** A bind mount's propagation modes (`--mount bind-propagation=`, `-v …:rslave`, VolumeOption.propagation). */
export const PROPAGATIONS = ["private", "rprivate", "slave", "rslave", "shared", "rshared"];
