//! Putting a new process into a cgroup, prepared before the fork: on v2 a
//! directory fd for `clone3(CLONE_INTO_CGROUP)`, so the process starts in
//! it; for v1 each hierarchy's `tasks` file, through which the child moves
//! itself (`enter`); for v2 on a kernel without clone3's cgroup, each
//! cgroup.procs, written with the child's pid before the child is released.
//! Opened up front because the kernel checks a move against the credentials
//! and cgroup namespace of whoever *opened* the file, and `exec` joins the
//! container's namespaces before it forks.
//!
//! Why the child moves itself on v1: a write of a pid to cgroup.procs takes
//! the kernel's global threadgroup lock for writing, and the first writer
//! after a quiet spell waits out an RCU grace period (19–26 ms on this
//! project's 6.18 test host, once per run); a single-threaded process
//! writing "0" (itself) to `tasks` is moved without that lock (0.1 ms
//! there). Where a kernel still takes it, the move costs what it did.

use super::common::Manager;
use crate::error::{Context, Error};
use crate::sys::errno::{EACCES, ENOENT, EPERM};
use crate::sys::{fd, Errno};
use std::fs::OpenOptions;
use std::os::raw::c_int;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::IntoRawFd;
use std::path::{Path, PathBuf};

const O_DIRECTORY: c_int = 0o200000;

pub struct Placement {
    dir_fd: Option<c_int>,
    /// v2's cgroup.procs: the parent writes the child's pid (`add`).
    procs: Vec<(PathBuf, c_int)>,
    /// v1's `tasks`: the child writes "0", moving itself (`enter`).
    tasks: Vec<(PathBuf, c_int)>,
    /// The cgroup's directories by controller, for the container's own view
    /// of them (cgroup_view.rs; empty when joining, as `exec` does).
    view: Vec<(String, PathBuf)>,
}

impl Placement {
    pub fn open(m: &dyn Manager) -> Result<Placement, Error> {
        let mut p = Placement {
            dir_fd: None,
            procs: Vec::new(),
            tasks: Vec::new(),
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
            if let Err(e) = p.open_mover(&dir) {
                p.close();
                return Err(e);
            }
        }
        Ok(p)
    }

    /// The file a process is moved into `dir` through: `tasks` where there
    /// is one (v1), else cgroup.procs (v2, which has no `tasks`).
    fn open_mover(&mut self, dir: &Path) -> Result<(), Error> {
        let tasks = dir.join("tasks");
        match OpenOptions::new().write(true).open(&tasks) {
            Ok(f) => {
                self.tasks.push((tasks, f.into_raw_fd()));
                return Ok(());
            }
            Err(e) if e.raw_os_error() != Some(ENOENT.0) => {
                return Err(e).step(|| format!("opening {}", tasks.display()));
            }
            Err(_) => {}
        }
        let procs = dir.join("cgroup.procs");
        let f = OpenOptions::new()
            .write(true)
            .open(&procs)
            .step(|| format!("opening {}", procs.display()))?;
        self.procs.push((procs, f.into_raw_fd()));
        Ok(())
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
            tasks: Vec::new(),
            view: Vec::new(),
        };
        for (_, dir) in m.dirs() {
            let _ = p.open_mover(&dir);
        }
        if p.procs.is_empty() && p.tasks.is_empty() {
            None
        } else {
            Some(p)
        }
    }

    /// The fd to hand `clone3` (v2).
    pub fn clone_fd(&self) -> Option<c_int> {
        self.dir_fd
    }

    /// The parent's part: moves `pid` in through the cgroup.procs files
    /// opened earlier (none on v1, where the child moves itself).
    pub fn add(&self, pid: i32) -> Result<(), Error> {
        for (file, f) in &self.procs {
            fd::write_all(*f, pid.to_string().as_bytes())
                .step(|| format!("moving the container process into {}", file.display()))?;
        }
        Ok(())
    }

    /// The child's part, while it is single-threaded and before it makes its
    /// cgroup namespace: moves itself in through the `tasks` files.
    pub fn enter(&self) -> Result<(), Error> {
        for (file, f) in &self.tasks {
            fd::write_all(*f, b"0").step(|| format!("moving the container process into {}", file.display()))?;
        }
        Ok(())
    }

    pub fn close(&mut self) {
        let files = self.procs.drain(..).chain(self.tasks.drain(..)).map(|(_, f)| f);
        for f in self.dir_fd.take().into_iter().chain(files) {
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
