//! docker's `OOMKilled` and `oom` event for an OOM kill while an exec'd
//! process runs (moby's EventOOM is the container cgroup's, exec or not).
//! The run holding the init reads its cgroup's OOM kills only once the init
//! ends, so a kill that took an exec'd process (the init lives on) went
//! unseen until then: `inspect` said false, `events` had no `oom`.
//!
//! The exec helper joins the container's namespaces, where neither the
//! cgroup nor the bundle is in reach; so before the join it forks a watcher
//! that stays outside. Told the exec'd process's pid, the watcher waits for
//! its end (a pidfd), and when the cgroup's count grew meanwhile it sets
//! state.json's `oomKilled`, whose change is the `oom` event (events.rs;
//! once: the init's end finds the flag set already). The helper reaps its
//! children before it exits (status.rs `reap_all_children`), so whoever ran
//! `tsbox exec` sees the record as soon as the exec has returned.

use crate::state_file::{Lock, StateFile};
use container::cgroups::{record, Manager};
use container::json::Json;
use container::sys::consts::{POLLIN, SIG_BLOCK};
use container::sys::process::{self, Forked};
use container::sys::types::PollFd;
use container::sys::{fd, signal};
use std::os::raw::c_int;
use std::path::Path;

/// The helper's end of the pipe to the watcher; closed on drop, which ends
/// a watcher never told a pid (the process could not be started).
pub struct Watcher {
    tell: c_int,
}

impl Watcher {
    /// Forks the watcher of the container whose bundle this is. None without
    /// a cgroup, or when the fork failed (best effort: the init's end still
    /// records the kill). Called while we are single-threaded, before the join.
    pub fn start(bundle: &Path) -> Option<Watcher> {
        let cgroup = record::load(bundle).ok().flatten()?;
        let before = cgroup.oom_kills();
        let (from, tell) = fd::pipe().ok()?;
        match process::clone_fork(0) {
            Ok(Forked::Child) => {
                // Nothing of the helper's held open (a caller reading our stdout to its end waits for no watcher),
                // and no signal for the exec'd process (a Ctrl-C) ends the watch before the end it is there for.
                fd::detach_from_parent_fds(&[from]);
                signal::reset_for_our_code();
                let _ = signal::set_mask(SIG_BLOCK, &signal::all());
                watch(from, &*cgroup, before, bundle);
                process::exit_now(0)
            }
            Ok(Forked::Parent(_)) => {
                fd::close(from);
                Some(Watcher { tell })
            }
            Err(_) => {
                fd::close(from);
                fd::close(tell);
                None
            }
        }
    }

    /// The exec'd process runs as `pid` (ours and the watcher's PID namespace's).
    pub fn started(&self, pid: i32) {
        let _ = fd::write_all(self.tell, &pid.to_ne_bytes());
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        fd::close(self.tell);
    }
}

fn watch(from: c_int, cgroup: &dyn Manager, before: u64, bundle: &Path) {
    let mut pid = [0u8; 4];
    if !matches!(fd::read(from, &mut pid), Ok(4)) {
        return; // never started
    }
    // ESRCH: it has ended, and been reaped, already.
    if let Ok(pidfd) = process::pidfd_open(i32::from_ne_bytes(pid)) {
        let mut fds = [PollFd { fd: pidfd, events: POLLIN, revents: 0 }];
        while matches!(fd::poll(&mut fds, -1), Ok(0)) {}
        fd::close(pidfd);
    }
    if cgroup.oom_kills() > before {
        let _ = StateFile::new(bundle).update(Lock::Take, vec![("oomKilled", Json::from(true))]);
    }
}
