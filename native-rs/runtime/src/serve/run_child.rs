//! One run, forked from the warm helper: exactly `tsbox-runtime run
//! --status-fd 3` (`run::run`) on the descriptors the request brought, as
//! the monitor's per-run supervisor is (monitor/supervisor.rs); or one exec,
//! exactly `tsbox-runtime exec --status-fd 3` (`exec::exec`). Nothing of
//! the server stays open in it: fds 0-3 are the run's, 4 the nest's (if
//! any: container::nest, the user namespace of the rootless id maps), the
//! rest is closed.

use super::request::RunRequest;
use crate::{exec, run};
use container::error::{Context, Error};
use container::nest::Nest;
use container::sys::consts::{O_CLOEXEC, O_RDWR};
use container::sys::process::{self, Forked};
use container::sys::{cred, fd, signal, tty};
use std::os::raw::c_int;
use std::path::Path;

/// `fds`: the status pipe, then the stdio slots the request marked present.
pub fn fork(run: &RunRequest, fds: &[c_int], nest: Option<&Nest>) -> Result<i32, Error> {
    match process::clone_fork(0).step(|| "forking the run's supervisor")? {
        Forked::Parent(pid) => Ok(pid),
        Forked::Child => child(run, fds, nest),
    }
}

fn child(run: &RunRequest, fds: &[c_int], nest: Option<&Nest>) -> ! {
    // The server's ignored signals and SIGCHLD handler are not ours.
    container::trace::mark("child: forked");
    signal::reset_for_our_code();
    let _ = cred::set_name("tsbox-supervise");
    let mut sources = fds[1..].iter();
    let mut stdio: [c_int; 3] = [-1; 3];
    for (slot, given) in run.stdio.iter().enumerate() {
        let source = if *given { sources.next() } else { None };
        stdio[slot] = match source {
            Some(f) => *f,
            None => match fd::open_path(Path::new("/dev/null"), O_RDWR | O_CLOEXEC, 0) {
                Ok(null) => null,
                Err(_) => process::exit_now(125),
            },
        };
    }
    // Every source is received (>= 4: the server holds 0-3), so dup2 onto
    // 0-3 never overwrites one not yet moved.
    for (target, source) in stdio.iter().chain(Some(&fds[0])).enumerate() {
        if fd::dup_onto(*source, target as c_int).is_err() {
            process::exit_now(125);
        }
    }
    // The nest's descriptor is >= 4 too (the server opened it after 0-3).
    let nest = match nest.map(|n| n.copy_at(4)).transpose() {
        Ok(n) => n,
        Err(_) => process::exit_now(125),
    };
    fd::close_from(if nest.is_some() { 5 } else { 4 });
    if run.new_session && tty::setsid().is_err() {
        process::exit_now(125);
    }
    if let Some(e) = &run.exec {
        process::exit_now(exec::exec(exec::Options {
            pid: e.pid,
            process: e.process.clone(),
            bundle: Some(run.bundle.clone()),
            status_fd: Some(3),
            detach: false,
            front_end: false,
        }));
    }
    process::exit_now(run::run(run::Options {
        bundle: run.bundle.clone(),
        status_fd: Some(3),
        record: run.record,
        remove: run.remove,
        front_end: false,
        // (the server is a subreaper: it reaps the remover)
        remove_after_exit: true,
        // The server's own nest, made once (serve/mod.rs).
        nest,
        nest_idle: None,
        log: None,
    }))
}

