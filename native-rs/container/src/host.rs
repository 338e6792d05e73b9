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

/// The initial user namespace's `/proc/self/ns/user` link: its inode number
/// is fixed (PROC_USER_INIT_INO, 0xEFFFFFFD, include/linux/proc_ns.h); every
/// other namespace's is allocated from 0xF0000000 up.
const INITIAL_USER_NS: &str = "user:[4026531837]";

/// This process is in the initial user namespace, where root is the host's
/// root. Not the uid_map heuristic alone (runc's): a namespace mapped
/// `0 0 4294967295`, as tsbox's own root containers are, looks initial by
/// it, and its root then took the paths only the host's root can take
/// (trusted.* xattrs). The namespace link says it; without /proc/self/ns
/// (very old kernels) the map is all there is.
pub fn in_initial_user_ns() -> bool {
    match std::fs::read_link("/proc/self/ns/user") {
        Ok(link) => link.as_os_str() == INITIAL_USER_NS,
        Err(_) => std::fs::read_to_string("/proc/self/uid_map")
            .map(|s| s.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"])
            .unwrap_or(true),
    }
}

/// ioctl_ns(2): a descriptor of the user namespace that owns a namespace.
const NS_GET_USERNS: std::os::raw::c_ulong = 0xb701;

/// Root of this user namespace administers the network namespace it is in
/// (bridges, veths, NAT): that namespace belongs to this user namespace or
/// to one below it, as a container's own does. Not the host's network seen
/// from `unshare -U` or a container run with the host's network: there
/// NS_GET_USERNS answers EPERM (the owner is outside this namespace), and
/// root inside has no CAP_NET_ADMIN. A kernel without the ioctl (before
/// 4.9) is taken at its word that root is root.
pub fn owns_network_ns() -> bool {
    use std::os::unix::io::AsRawFd;
    let ns = match std::fs::File::open("/proc/self/ns/net") {
        Ok(f) => f,
        Err(_) => return true,
    };
    let owner = unsafe { crate::sys::ffi::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
    if owner < 0 {
        return crate::sys::Errno::last() != crate::sys::errno::EPERM;
    }
    crate::sys::fd::close(owner);
    true
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
