//! Removing a container's cgroup: whatever still runs in it is killed (a
//! process exec'd into it, or everything when the supervisor died), and the
//! directories go once the kernel has let the processes go.

use super::fs;
use crate::error::{Context, Error};
use crate::sys::consts::SIGKILL;
use crate::sys::errno::{EBUSY, ENOENT};
use crate::sys::process;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

/// `kill_file`: try v2's cgroup.kill (5.14+), which kills every process at
/// once and cannot hit a recycled pid; else each pid of cgroup.procs gets
/// SIGKILL.
pub fn kill_and_remove(dirs: &[&Path], kill_file: bool) -> Result<(), Error> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut busy = None;
        for dir in dirs {
            if !dir.exists() {
                continue;
            }
            kill_all(dir, kill_file);
            match std::fs::remove_dir(dir) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(ENOENT.0) => {}
                // Killed processes leave the cgroup a moment after they die.
                Err(e) if e.raw_os_error() == Some(EBUSY.0) => busy = Some(dir),
                Err(e) => return Err(e).step(|| format!("removing cgroup {}", dir.display())),
            }
        }
        let dir = match busy {
            None => return Ok(()),
            Some(d) => d,
        };
        if Instant::now() > deadline {
            return Err(Error::setup(format!(
                "removing cgroup {}: its processes did not exit",
                dir.display()
            )));
        }
        sleep(Duration::from_millis(5));
    }
}

/// SIGKILLs everything in the cgroup and leaves it in place (its processes
/// leave it as they die): a container's init has ended, its record stays.
pub fn kill_processes(dirs: &[&Path], kill_file: bool) {
    for dir in dirs {
        kill_all(dir, kill_file);
    }
}

fn kill_all(dir: &Path, kill_file: bool) {
    if kill_file && fs::write_if_present(dir, "cgroup.kill", "1").unwrap_or(false) {
        return;
    }
    for pid in fs::pids(dir) {
        let _ = process::kill(pid, SIGKILL);
    }
}
