//! A process that only holds namespaces for others to join through
//! /proc/PID/ns/*: the rootless network's (a user and a network namespace,
//! net/rootless.rs) and the CLI's nest (a user namespace with the id maps,
//! tsbox-runtime's nest_holder.rs). It dies with the holder that made it.

use crate::idmap;
use crate::spec::IdMapping;
use crate::sys::consts::{CLONE_NEWNET, CLONE_NEWUSER, SIGKILL};
use crate::sys::process::{self, Forked};
use crate::sys::{cred, fd};
use std::os::raw::c_int;

pub struct NamespaceProcess {
    pub pid: i32,
    pub start: u64,
    keep_w: c_int,
}

impl NamespaceProcess {
    /// Clones it into new namespaces (`flags`, CLONE_NEWUSER among them),
    /// writes its id maps, then has it run `setup` in there (false: failed,
    /// and `setup_failed` says so).
    pub fn start(flags: c_int, uid_maps: &[IdMapping], gid_maps: &[IdMapping], setup: fn() -> bool, setup_failed: &str) -> Result<NamespaceProcess, String> {
        let (go_r, go_w) = fd::pipe().map_err(|e| format!("creating a pipe: {}", e))?;
        let (done_r, done_w) = fd::pipe().map_err(|e| format!("creating a pipe: {}", e))?;
        let pid = match process::clone_fork(flags) {
            Ok(Forked::Child) => {
                let _ = cred::set_pdeathsig(SIGKILL);
                fd::close(go_w);
                fd::close(done_r);
                let mut b = [0u8; 1];
                if fd::read(go_r, &mut b) != Ok(1) {
                    process::exit_now(1);
                }
                let ok = setup();
                let _ = fd::write_all(done_w, if ok { b"1" } else { b"0" });
                fd::close(done_w);
                fd::detach_from_parent_fds(&[go_r]);
                // Until the holder closes its end (or dies).
                while fd::read(go_r, &mut b).map_or(false, |n| n > 0) {}
                process::exit_now(0)
            }
            Ok(Forked::Parent(pid)) => pid,
            Err(e) => {
                fd::close(go_r);
                fd::close(go_w);
                fd::close(done_r);
                fd::close(done_w);
                let what = if flags & CLONE_NEWNET != 0 { "the user and network namespaces" } else { "a user namespace" };
                let why = crate::userns_refusal::hint(e).map_or(String::new(), |w| format!(" ({})", w));
                return Err(format!("creating {}{}: {}", what, why, e));
            }
        };
        debug_assert!(flags & CLONE_NEWUSER != 0);
        fd::close(go_r);
        fd::close(done_w);
        let ns = NamespaceProcess { pid, start: process::start_time(pid).unwrap_or(0), keep_w: go_w };
        if let Err(e) = idmap::write_both(pid, uid_maps, gid_maps, cred::geteuid() == 0) {
            fd::close(done_r);
            ns.stop();
            return Err(e.message);
        }
        let _ = fd::write_all(ns.keep_w, b"1");
        let mut b = [0u8; 1];
        let ok = fd::read(done_r, &mut b) == Ok(1) && b[0] == b'1';
        fd::close(done_r);
        if !ok {
            ns.stop();
            return Err(setup_failed.to_string());
        }
        Ok(ns)
    }

    pub fn alive(&self) -> bool {
        process::alive(self.pid, self.start)
    }

    pub fn stop(self) {
        fd::close(self.keep_w);
        let _ = process::kill(self.pid, SIGKILL);
        let _ = process::wait(self.pid);
    }
}
