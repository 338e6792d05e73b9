//! Facts about where the setup runs that change how it is done.

use crate::namespaces::NamespaceKind;
use crate::spec::Spec;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The setup runs in a non-initial user namespace: overlay needs
    /// `userxattr`, and flags of inherited mounts are locked.
    pub in_user_ns: bool,
    /// `/proc/self/setgroups` is "deny" (a single mapping written without
    /// privilege): setgroups(2) would fail.
    pub setgroups_denied: bool,
    /// /proc/sys/kernel/cap_last_cap: higher capability numbers do not exist.
    pub last_cap: u32,
    /// The child makes its own cgroup namespace, first thing: the parent
    /// moved it into its cgroup after the clone (no clone3 into a cgroup on
    /// v1), and a cgroup namespace is rooted where its creator is.
    pub unshare_cgroupns: bool,
    /// The container's cgroup directories, named by their controllers
    /// (`Manager::dirs`): what a `cgroup` mount shows it (cgroup_view.rs).
    pub cgroup_view: Vec<(String, PathBuf)>,
}

impl Host {
    /// Read in the parent, before clone.
    pub fn detect(spec: &Spec) -> Host {
        Host {
            in_user_ns: spec.has_namespace(NamespaceKind::User) || !in_initial_user_ns(),
            setgroups_denied: false,
            last_cap: last_cap(),
            unshare_cgroupns: false,
            cgroup_view: Vec::new(),
        }
    }

    /// For a process joining the namespaces of `pid` (read before joining:
    /// /proc is the container's afterwards).
    pub fn of_process(pid: i32) -> Host {
        Host {
            in_user_ns: true,
            setgroups_denied: setgroups_denied_in(&format!("/proc/{}/setgroups", pid)),
            last_cap: last_cap(),
            unshare_cgroupns: false,
            cgroup_view: Vec::new(),
        }
    }
}

fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// The initial user namespace maps every id onto itself.
pub fn in_initial_user_ns() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|s| s.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
        .unwrap_or(true)
}

/// Read in the child once the parent has written the maps.
pub fn setgroups_denied() -> bool {
    setgroups_denied_in("/proc/self/setgroups")
}

fn setgroups_denied_in(file: &str) -> bool {
    std::fs::read_to_string(file)
        .map(|s| s.trim() == "deny")
        .unwrap_or(false)
}
