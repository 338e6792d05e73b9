//! Capability names ↔ numbers, and applying the spec's five sets.
//!
//! Order matters and follows runc/crun: the bounding set is reduced first
//! (needs CAP_SETPCAP, which we still hold), then after the uid switch (done
//! with PR_SET_KEEPCAPS so the permitted set survives it) capset(2) sets
//! effective/permitted/inheritable, and the ambient set is rebuilt last since
//! raising an ambient cap needs it in permitted and inheritable.

use crate::error::{Context, Error};
use crate::syscall::Syscall;

/// Index = capability number (linux/capability.h, up to 6.x).
pub const NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Accepts `CAP_NET_RAW`, `cap_net_raw` and `NET_RAW`.
pub fn from_name(name: &str) -> Option<u32> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{}", upper)
    };
    NAMES.iter().position(|n| *n == full).map(|i| i as u32)
}

pub fn name(cap: u32) -> Option<&'static str> {
    NAMES.get(cap as usize).copied()
}

/// The five sets as bit masks (bit n = capability n).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CapSets {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Bits for capabilities 0..=last_cap: the kernel rejects the others.
pub fn known_mask(last_cap: u32) -> u64 {
    if last_cap >= 63 {
        u64::MAX
    } else {
        (1u64 << (last_cap + 1)) - 1
    }
}

fn caps_in(mask: u64) -> impl Iterator<Item = u32> {
    (0..64u32).filter(move |c| mask & (1 << c) != 0)
}

fn describe(cap: u32) -> String {
    name(cap).map_or_else(|| format!("capability {}", cap), str::to_string)
}

/// Drops from the bounding set every capability not in `keep`.
pub fn limit_bounding(sys: &dyn Syscall, keep: u64, last_cap: u32) -> Result<(), Error> {
    for cap in caps_in(known_mask(last_cap) & !keep) {
        sys.capbset_drop(cap)
            .step(|| format!("dropping {} from the bounding set", describe(cap)))?;
    }
    Ok(())
}

/// Sets effective/permitted/inheritable, then the ambient set.
pub fn apply(sys: &dyn Syscall, sets: &CapSets, last_cap: u32) -> Result<(), Error> {
    let known = known_mask(last_cap);
    sys.capset(
        sets.effective & known,
        sets.permitted & known,
        sets.inheritable & known,
    )
    .step(|| "setting capabilities")?;
    sys.ambient_clear()
        .step(|| "clearing ambient capabilities")?;
    for cap in caps_in(sets.ambient & known) {
        sys.ambient_raise(cap)
            .step(|| format!("raising ambient {}", describe(cap)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        assert_eq!(from_name("CAP_CHOWN"), Some(0));
        assert_eq!(from_name("cap_net_raw"), Some(13));
        assert_eq!(from_name("SYS_ADMIN"), Some(21));
        assert_eq!(from_name("CAP_CHECKPOINT_RESTORE"), Some(40));
        assert_eq!(from_name("CAP_BOGUS"), None);
        for (i, n) in NAMES.iter().enumerate() {
            assert_eq!(from_name(n), Some(i as u32));
            assert_eq!(name(i as u32), Some(*n));
        }
        assert_eq!(name(41), None);
        assert_eq!(known_mask(40), (1 << 41) - 1);
        assert_eq!(known_mask(63), u64::MAX);
    }
}
