//! docker's `OOMKilled` and `oom` event for an OOM kill while an exec'd
//! process runs (moby's EventOOM is the container cgroup's, exec or not).
//! The run holding the init reads its cgroup's OOM kills only once the init
//! ends, so a kill that took an exec'd process (the init lives on) went
//! unseen until then: `inspect` said false, `events` had no `oom`.
//!
//! The exec helper joins the container's namespaces, where neither the
//! cgroup nor the bundle is in reach; so before the join it forks a watcher
//! that stays outside. Handed the exec'd process as a pidfd, the watcher
//! waits for its end, and when the cgroup's count grew meanwhile it sets
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
use container::sys::{fd, fdpass, signal};
use std::os::raw::c_int;
use std::path::Path;

/// The helper's end of the socket to the watcher; closed on drop, which ends
/// a watcher never handed a process (it could not be started).
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
        let (from, tell) = fdpass::socket_pair().ok()?;
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
        hand_over(self.tell, pid);
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        fd::close(self.tell);
    }
}

/// Sends our unreaped child `pid` as a pidfd, opened while it cannot have been
/// reaped: it names that process for good. The watcher opened the pid itself
/// before, when the process could have ended, been reaped by us and its pid
/// been taken (a container's processes take pids of ours): it then waited for
/// another process's end, and we, reaping the watcher, with it (`tsbox exec`
/// hung). Without pidfds (Linux before 5.3) nothing is sent: no watch.
fn hand_over(sock: c_int, pid: i32) {
    if let Ok(pidfd) = process::pidfd_open(pid) {
        let _ = fdpass::send(sock, &[1], &[pidfd]);
        fd::close(pidfd);
    }
}

/// The pidfd `hand_over` sent; None at the end of the stream (never started).
fn received(sock: c_int) -> Option<c_int> {
    let mut byte = [0u8; 1];
    let mut fds = Vec::new();
    let got = fdpass::recv(sock, &mut byte, &mut fds);
    let first = match got {
        Ok(1) => fds.first().copied(),
        _ => None,
    };
    for &extra in fds.iter().filter(|&&f| Some(f) != first) {
        fd::close(extra);
    }
    first
}

fn watch(from: c_int, cgroup: &dyn Manager, before: u64, bundle: &Path) {
    let pidfd = match received(from) {
        Some(p) => p,
        None => return, // never started
    };
    let mut fds = [PollFd { fd: pidfd, events: POLLIN, revents: 0 }];
    while matches!(fd::poll(&mut fds, -1), Ok(0)) {}
    fd::close(pidfd);
    if cgroup.oom_kills() > before {
        let _ = StateFile::new(bundle).update(Lock::Take, vec![("oomKilled", Json::from(true))]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ended(pidfd: c_int) -> bool {
        let mut fds = [PollFd { fd: pidfd, events: POLLIN, revents: 0 }];
        matches!(fd::poll(&mut fds, 0), Ok(1))
    }

    /// The exec'd process ended and was reaped before the watcher looked, and its pid went to a process that lives
    /// on: the watcher, handed the first one, sees its end; opened by pid (as before) it waited for the other's.
    /// Root only: the pid is given out again through /proc/sys/kernel/ns_last_pid.
    #[test]
    fn the_watcher_waits_for_the_process_started_not_one_that_took_its_pid() {
        if process::own_pid() == 1 || container::sys::cred::geteuid() != 0 {
            return;
        }
        let (from, tell) = fdpass::socket_pair().unwrap();
        let first = match process::clone_fork(0).unwrap() {
            Forked::Child => process::exit_now(0),
            Forked::Parent(pid) => pid,
        };
        hand_over(tell, first);
        process::wait(first).unwrap();
        // Other tests (and, in CI, the other lane) fork too: until the next pid given out is the first's. Each try
        // is a fork; a busy machine took more than 50.
        let mut taken = None;
        for _ in 0..5000 {
            if std::fs::write("/proc/sys/kernel/ns_last_pid", (first - 1).to_string()).is_err() {
                break;
            }
            let second = match process::clone_fork(0).unwrap() {
                Forked::Child => loop {
                    std::thread::sleep(Duration::from_secs(60));
                },
                Forked::Parent(pid) => pid,
            };
            if second == first {
                taken = Some(second);
                break;
            }
            let _ = process::kill(second, 9);
            let _ = process::wait(second);
        }
        let second = taken.expect("the first process's pid given to a second one");
        let by_pid = process::pidfd_open(first).unwrap();
        assert!(!ended(by_pid), "opened by its pid, the process is the second one, which runs on");
        let handed = received(from).expect("the pidfd handed over");
        assert!(ended(handed), "the process handed over is the first one, which has ended");
        for f in [by_pid, handed, from, tell] {
            fd::close(f);
        }
        let _ = process::kill(second, 9);
        let _ = process::wait(second);
    }
}
