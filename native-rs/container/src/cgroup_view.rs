//! The container's own cgroup at `/sys/fs/cgroup`, read-only: a spec mount
//! of type `cgroup`, as docker's and runc's. Programs that size themselves
//! by their limits look there (Node's `process.constrainedMemory()`, the
//! JVM, Go's and Python's CPU-count helpers), and `cat
//! /sys/fs/cgroup/memory.max` is how people check a limit took.
//!
//! * v2: the container's cgroup directory bind-mounted there (with the
//!   cgroup namespace, `/proc/self/cgroup` reads `/` too);
//! * v1 and hybrid hosts: a tmpfs with one directory per hierarchy, each the
//!   container's cgroup of that hierarchy bind-mounted (docker's layout:
//!   `cpu,cpuacct` with `cpu` and `cpuacct` symlinks to it);
//! * no cgroup (rootless without a delegated one, `--cgroups=disabled`):
//!   nothing; sysfs's empty directory stays, and no host cgroup shows.
//!
//! Only the container's own directories are bound, never a parent's: what a
//! container sees of the host's cgroup tree is its own limits.

use crate::error::{Context, Error};
use crate::host::Host;
use crate::mounts::bind_host_dir;
use crate::paths::{self, Create};
use crate::sys::consts::{MS_NODEV, MS_NOEXEC, MS_NOSUID, MS_RDONLY, MS_REMOUNT};
use crate::syscall::Syscall;
use std::os::raw::c_ulong;
use std::path::{Path, PathBuf};

const LOCKED: c_ulong = MS_NOSUID | MS_NODEV | MS_NOEXEC;
/// Each bind's options (docker's cgroup mount's).
const READ_ONLY: &[&str] = &["ro", "nosuid", "nodev", "noexec"];

/// Mounts the view of `dirs` (the container's cgroup directories, named by
/// their controllers as `Manager::dirs` names them: "unified" on v2) at
/// `destination` under `root`.
pub fn mount(sys: &dyn Syscall, root: &Path, destination: &str, dirs: &[(String, PathBuf)], host: &Host) -> Result<(), Error> {
    let step = || format!("mounting the container's cgroup on {}", destination);
    match dirs {
        [] => Ok(()),
        [(name, dir)] if name == "unified" => bind_host_dir(sys, root, dir, destination, READ_ONLY, host),
        _ => {
            let target = paths::open_in_root(root, destination, Create::Dir).step(step)?;
            sys.mount(Some(Path::new("tmpfs")), &target.proc_path(), Some("tmpfs"), LOCKED, Some("mode=755,size=64k"))
                .map_err(|e| Error::errno(step(), e))?;
            let verify = |now: &paths::Resolved| sys.verify_mount(now, None, &target);
            let tmpfs = paths::reopen_mounted(root, destination, &verify).step(step)?;
            for (name, dir) in dirs {
                let at = format!("{}/{}", destination.trim_end_matches('/'), name);
                bind_host_dir(sys, root, dir, &at, READ_ONLY, host)?;
                if name.contains(',') {
                    for part in name.split(',') {
                        // A fresh tmpfs of our own mount namespace: nobody else can have planted anything in it.
                        std::os::unix::fs::symlink(name, tmpfs.proc_path().join(part)).step(step)?;
                    }
                }
            }
            sys.mount(None, &tmpfs.proc_path(), None, MS_REMOUNT | MS_RDONLY | LOCKED, None)
                .map_err(|e| Error::errno(step(), e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::RecordingSyscall;

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("tsbox-cgview-{}-{}", tag, std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn host() -> Host {
        Host { in_user_ns: true, setgroups_denied: false, last_cap: 40, unshare_cgroupns: true, cgroup_view: Vec::new() }
    }

    /// The mounts (statvfs reads of remount_bind left out).
    fn mounts(sys: &RecordingSyscall) -> Vec<String> {
        sys.calls().into_iter().filter(|c| c.starts_with("mount")).collect()
    }

    // Read-only bind: MS_REMOUNT|MS_BIND|MS_RDONLY|nosuid,nodev,noexec, and
    // strictatime (what the recorder's statvfs answers).
    const RO_BIND: &str = "flags=0x100102f";

    #[test]
    fn v2_binds_the_one_directory_read_only() {
        let (root, cg) = (tempdir("root2"), tempdir("cg2"));
        let sys = RecordingSyscall::new(&root);
        mount(&sys, &root, "/sys/fs/cgroup", &[("unified".into(), cg.clone())], &host()).unwrap();
        assert_eq!(
            mounts(&sys),
            [format!("mount {} -> $ROOT/sys/fs/cgroup flags=0x1000", cg.display()), format!("mount none -> $ROOT/sys/fs/cgroup {}", RO_BIND)]
        );
        for d in [root, cg] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn v1_one_directory_per_hierarchy_in_a_tmpfs() {
        let (root, memory, cpu) = (tempdir("root1"), tempdir("mem"), tempdir("cpu"));
        let sys = RecordingSyscall::new(&root);
        let dirs = vec![("memory".to_string(), memory.clone()), ("cpu,cpuacct".to_string(), cpu.clone())];
        mount(&sys, &root, "/sys/fs/cgroup", &dirs, &host()).unwrap();
        assert_eq!(
            mounts(&sys),
            [
                "mount tmpfs -> $ROOT/sys/fs/cgroup type=tmpfs flags=0xe data=mode=755,size=64k".to_string(),
                format!("mount {} -> $ROOT/sys/fs/cgroup/memory flags=0x1000", memory.display()),
                format!("mount none -> $ROOT/sys/fs/cgroup/memory {}", RO_BIND),
                format!("mount {} -> $ROOT/sys/fs/cgroup/cpu,cpuacct flags=0x1000", cpu.display()),
                format!("mount none -> $ROOT/sys/fs/cgroup/cpu,cpuacct {}", RO_BIND),
                // The tmpfs itself read-only last.
                "mount none -> $ROOT/sys/fs/cgroup flags=0x2f".to_string(),
            ]
        );
        for part in ["cpu", "cpuacct"] {
            assert_eq!(std::fs::read_link(root.join("sys/fs/cgroup").join(part)).unwrap(), Path::new("cpu,cpuacct"));
        }
        for d in [root, memory, cpu] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    #[test]
    fn nothing_without_a_cgroup() {
        let root = tempdir("root0");
        let sys = RecordingSyscall::new(&root);
        mount(&sys, &root, "/sys/fs/cgroup", &[], &host()).unwrap();
        assert!(sys.calls().is_empty());
        assert!(!root.join("sys").exists(), "not even the mount point is made");
        std::fs::remove_dir_all(root).unwrap();
    }
}
