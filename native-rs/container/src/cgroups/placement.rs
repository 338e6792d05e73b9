//! Putting a new process into a cgroup, prepared before the fork: on v2 a
//! directory fd for `clone3(CLONE_INTO_CGROUP)`, so the process starts in
//! it; and (for v1, or a kernel without clone3's cgroup) each hierarchy's
//! cgroup.procs, opened now, written with the child's pid before the child
//! is released. Opened up front because the kernel checks a move against
//! the credentials and cgroup namespace of whoever *opened* cgroup.procs,
//! and `exec` joins the container's namespaces before it forks.

use super::common::Manager;
use crate::error::{Context, Error};
use crate::sys::errno::{EACCES, EPERM};
use crate::sys::{fd, Errno};
use std::fs::OpenOptions;
use std::os::raw::c_int;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::IntoRawFd;
use std::path::PathBuf;

const O_DIRECTORY: c_int = 0o200000;

pub struct Placement {
    dir_fd: Option<c_int>,
    procs: Vec<(PathBuf, c_int)>,
    /// The cgroup's directories by controller, for the container's own view
    /// of them (cgroup_view.rs; empty when joining, as `exec` does).
    view: Vec<(String, PathBuf)>,
}

impl Placement {
    pub fn open(m: &dyn Manager) -> Result<Placement, Error> {
        let mut p = Placement {
            dir_fd: None,
            procs: Vec::new(),
            view: m.dirs(),
        };
        if let Some(dir) = m.clone_into() {
            let f = OpenOptions::new()
                .read(true)
                .custom_flags(O_DIRECTORY)
                .open(dir)
                .step(|| format!("opening cgroup {}", dir.display()))?;
            p.dir_fd = Some(f.into_raw_fd());
        }
        for (_, dir) in m.dirs() {
            let file = dir.join("cgroup.procs");
            match OpenOptions::new().write(true).open(&file) {
                Ok(f) => p.procs.push((file, f.into_raw_fd())),
                Err(e) => {
                    p.close();
                    return Err(e).step(|| format!("opening {}", file.display()));
                }
            }
        }
        Ok(p)
    }

    /// The cgroup's directories by controller (`Manager::dirs`).
    pub fn view(&self) -> &[(String, PathBuf)] {
        &self.view
    }

    /// For joining a running container's cgroups (exec): only the
    /// cgroup.procs files (see `join::spawn` for why not clone3). The ones we
    /// may not move a process into (someone else's, gone) are skipped rather
    /// than failing the exec, which then runs in the caller's cgroup there.
    pub fn open_lenient(m: &dyn Manager) -> Option<Placement> {
        let mut p = Placement {
            dir_fd: None,
            procs: Vec::new(),
            view: Vec::new(),
        };
        for (_, dir) in m.dirs() {
            let file = dir.join("cgroup.procs");
            if let Ok(f) = OpenOptions::new().write(true).open(&file) {
                p.procs.push((file, f.into_raw_fd()));
            }
        }
        if p.procs.is_empty() {
            None
        } else {
            Some(p)
        }
    }

    /// The fd to hand `clone3` (v2).
    pub fn clone_fd(&self) -> Option<c_int> {
        self.dir_fd
    }

    /// Moves `pid` in through the files opened earlier.
    pub fn add(&self, pid: i32) -> Result<(), Error> {
        for (file, f) in &self.procs {
            fd::write_all(*f, pid.to_string().as_bytes())
                .step(|| format!("moving the container process into {}", file.display()))?;
        }
        Ok(())
    }

    pub fn close(&mut self) {
        for f in self.dir_fd.take().into_iter().chain(self.procs.drain(..).map(|(_, f)| f)) {
            fd::close(f);
        }
    }
}

impl Drop for Placement {
    fn drop(&mut self) {
        self.close();
    }
}

/// clone3 could not place the child: a kernel before 5.7 or without clone3
/// (ENOSYS, E2BIG, EINVAL), or a caller whose credentials changed since it
/// opened the cgroup (EACCES, EPERM: clone3 checks the current ones; the vm
/// agent's supervisor switches its fs ids to the container's root). The
/// caller forks the old way and moves the child through the files opened
/// earlier, which the kernel checks against the opener's credentials.
pub fn clone3_cannot_place(e: Errno) -> bool {
    use crate::sys::errno::{E2BIG, EINVAL, ENOSYS};
    [ENOSYS, E2BIG, EINVAL, EACCES, EPERM].contains(&e)
}
