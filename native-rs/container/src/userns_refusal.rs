//! Why this process may not create a user namespace, in words that say what
//! to do. The kernel answers EPERM to several unrelated causes, and the
//! usual hint (a sysctl) is wrong for the two a CI runner or a container
//! meets most: a caller whose own uid is unmapped in its user namespace
//! (`unshare -U` without a map: the kernel requires the creator's ids to be
//! mapped), and a seccomp filter that refuses the clone (docker's, podman's
//! and tsbox's default profiles do for an unprivileged container).

use crate::sys::errno::{EINVAL, ENOSPC, EPERM, EUSERS};
use crate::sys::Errno;

/// The hint for `clone(CLONE_NEWUSER)` failing with `e`; None when `e` is not
/// a refusal (ENOMEM, …).
pub fn hint(e: Errno) -> Option<String> {
    if ![EPERM, EINVAL, ENOSPC, EUSERS].contains(&e) {
        return None;
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    Some(explain(e, unmapped_caller(), seccomp_filtered(&status)))
}

/// An empty uid_map or gid_map of our own: no clone of a user namespace can work. A run checks it before it makes
/// the container's cgroup, whose EACCES (the unmapped uid is nobody's) would otherwise be the error shown.
pub fn unmapped_caller() -> bool {
    let empty = |f: &str| std::fs::read_to_string(format!("/proc/self/{}", f)).map(|t| t.trim().is_empty()).unwrap_or(false);
    empty("uid_map") || empty("gid_map")
}

/// `Seccomp: 2` in /proc/self/status: a filter is installed.
fn seccomp_filtered(status: &str) -> bool {
    status.lines().any(|l| l.strip_prefix("Seccomp:").map_or(false, |v| v.trim() == "2"))
}

fn explain(e: Errno, unmapped: bool, filtered: bool) -> String {
    if unmapped {
        "this process's uid or gid is not mapped in its own user namespace (started with unshare -U and no map?), \
         and the kernel lets only a mapped user create one: run tsbox with its ids mapped (unshare -r, or a container's user), or use --backend vm"
            .into()
    } else if filtered && e == EPERM {
        "a seccomp filter on this process refuses user namespaces (tsbox inside docker, podman or tsbox?): \
         run that container with --security-opt seccomp=unconfined or --privileged, or use --backend vm"
            .into()
    } else {
        "are unprivileged user namespaces enabled?".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes() {
        assert!(seccomp_filtered("Name:\tx\nSeccomp:\t2\nSeccomp_filters:\t1\n"));
        assert!(!seccomp_filtered("Seccomp:\t0\nSeccomp_filters:\t0\n"));
        assert!(explain(EPERM, true, true).starts_with("this process's uid or gid is not mapped"));
        assert!(explain(EPERM, false, true).starts_with("a seccomp filter on this process"));
        // ENOSPC is the namespace limit, not the filter (a filter answers EPERM).
        assert_eq!(explain(ENOSPC, false, true), "are unprivileged user namespaces enabled?");
        assert!(hint(crate::sys::errno::ENOMEM).is_none());
    }
}
