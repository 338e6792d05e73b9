//! What a container leaves running when its init ends and neither the kernel
//! nor a cgroup ends it: one that joined another container's PID namespace
//! (`--pid container:X`) is not that namespace's init, so its other
//! processes live on in X's, and without a cgroup (rootless without
//! delegation) nothing kills them — they would keep its overlay mounted and
//! writable while its bundle is deleted, and outlive `tsbox rm`. They are
//! found by the container's own mount namespace (every process of it, `exec`
//! ones too, is in it; X's are not) within X's PID namespace, and killed
//! before the bundle goes, as runc and crun kill a container's cgroup.
//! tsbox-runtime does it at the end of each run (`run.rs`) when there is no
//! cgroup; the vm guest's agent after every such container's init has ended
//! (a foreground run there waited for them: they held its stdio open).

use crate::sys::consts::SIGKILL;
use crate::sys::errno::ENOSYS;
use crate::namespaces::NamespaceKind;
use crate::spec::Spec;
use crate::sys::{fd, process};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

/// Whether the init's end leaves the rest running, findable by namespace:
/// it joined another container's PID namespace (it is not that namespace's
/// init, so the kernel kills nothing else) and has a mount namespace of its own.
pub fn outlive_init(spec: &Spec) -> bool {
    spec.has_namespace(NamespaceKind::Pid) && !spec.creates_namespace(NamespaceKind::Pid) && spec.creates_namespace(NamespaceKind::Mount)
}

/// Scans of /proc before giving up on processes that do not die (2 ms apart).
const SCANS: usize = 1000;

/// A process's mount and PID namespaces, by their nsfs inodes (dev, ino).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Namespaces {
    mnt: (u64, u64),
    pid: (u64, u64),
}

impl Namespaces {
    /// Of process `pid`. For a container's init: read right after its clone,
    /// before it is released, so it is surely alive and in its own mount
    /// namespace (and the PID namespace it joined).
    pub fn of(pid: i32) -> Option<Namespaces> {
        Self::at(&Path::new("/proc").join(pid.to_string()))
    }

    /// Of the process (or thread) whose /proc directory is `dir`; None once it has exited.
    fn at(dir: &Path) -> Option<Namespaces> {
        let inode = |name: &str| fs::metadata(dir.join("ns").join(name)).ok().map(|m| (m.dev(), m.ino()));
        Some(Namespaces { mnt: inode("mnt")?, pid: inode("pid")? })
    }
}

/// SIGKILLs every process in both of `ns` until a scan of /proc finds none
/// (bounded). Both: an `exec` helper joined the container's mount namespace
/// but stays in the host's PID namespace, to report how its process ended.
/// Never our own mount namespace (a namespace recorded wrongly must not take
/// the host's processes down).
pub fn kill_all_in(ns: Namespaces) {
    if Namespaces::at(Path::new("/proc/self")).map_or(true, |ours| ours.mnt == ns.mnt) {
        return;
    }
    for _ in 0..SCANS {
        if kill_scan(ns) == 0 {
            return;
        }
        sleep(Duration::from_millis(2));
    }
}

/// One pass over /proc: how many processes of `ns` it signalled.
fn kill_scan(ns: Namespaces) -> usize {
    let own = process::own_pid();
    let list = match fs::read_dir("/proc") {
        Ok(l) => l,
        Err(_) => return 0,
    };
    let mut found = 0;
    for entry in list.flatten() {
        let pid = match entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) {
            Some(p) if p != own => p,
            _ => continue,
        };
        // Pinned first, checked after: a pid reused meanwhile is checked as the process it now is.
        let pidfd = match process::pidfd_open(pid) {
            Ok(fd) => Some(fd),
            Err(ENOSYS) => None,
            Err(_) => continue,
        };
        if in_ns(&entry.path(), ns) {
            found += 1;
            let _ = match pidfd {
                Some(fd) => process::pidfd_send_signal(fd, SIGKILL),
                None => process::kill(pid, SIGKILL),
            };
        }
        if let Some(fd) = pidfd {
            fd::close(fd);
        }
    }
    found
}

/// Whether the process at `dir` is in `ns`: its leader's namespaces, or,
/// once the leader has exited and its other threads run on, any thread's.
fn in_ns(dir: &Path, ns: Namespaces) -> bool {
    if let Some(own) = Namespaces::at(dir) {
        return own == ns;
    }
    fs::read_dir(dir.join("task")).map_or(false, |tasks| tasks.flatten().any(|t| Namespaces::at(&t.path()) == Some(ns)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::consts::CLONE_NEWNS;
    use crate::sys::process::Forked;

    #[test]
    fn never_kills_its_own_namespace() {
        let ours = Namespaces::of(process::own_pid()).unwrap();
        assert_eq!(Namespaces::at(Path::new("/proc/self")), Some(ours));
        kill_all_in(ours);
    }

    /// Needs root (a mount namespace of its own): then a child in one is
    /// killed with a grandchild it left behind, and we are not.
    #[test]
    fn kills_every_process_of_a_mount_namespace() {
        if crate::sys::cred::geteuid() != 0 {
            return;
        }
        let (r, w) = fd::pipe().unwrap();
        let child = match process::clone_fork(CLONE_NEWNS).unwrap() {
            Forked::Child => {
                // A grandchild that outlives it (reparented), then it waits.
                let grandchild = match process::clone_fork(0) {
                    Ok(Forked::Parent(pid)) => pid,
                    _ => {
                        sleep(Duration::from_secs(600));
                        process::exit_now(0)
                    }
                };
                let _ = fd::write_all(w, &grandchild.to_ne_bytes());
                sleep(Duration::from_secs(600));
                process::exit_now(0)
            }
            Forked::Parent(pid) => pid,
        };
        fd::close(w);
        let mut b = [0u8; 4];
        assert_eq!(fd::read(r, &mut b), Ok(4));
        fd::close(r);
        let grandchild = i32::from_ne_bytes(b);
        let ns = Namespaces::of(child).unwrap();
        assert_ne!(ns.mnt, Namespaces::of(process::own_pid()).unwrap().mnt);
        assert_eq!(Namespaces::of(grandchild), Some(ns));
        kill_all_in(ns);
        assert!(process::wait(child).is_ok());
        // Gone, or a zombie until its new parent reaps it: no namespace either way.
        assert_eq!(Namespaces::of(grandchild), None, "the process it left behind is killed too");
    }
}
