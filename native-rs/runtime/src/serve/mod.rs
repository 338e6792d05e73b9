//! `tsbox-runtime serve --control-fd N`: the warm helper. One per `Runtime`
//! of the native backend (src/backends/native/warm-helper.ts), started on its
//! first run and sealed once (main.rs `protected`, as every run was), so a
//! run costs a fork of this process instead of Node's spawn of a fresh
//! helper, its dynamic link and its sealed re-exec.
//!
//! Each `run` request (request.rs) forks a supervisor (run_child.rs) that is
//! exactly `tsbox-runtime run --status-fd 3 [--record [--remove]]`
//! (`run::run`: the same `helper::serve`, `launch::spawn`, status events and
//! exit codes), on the stdio and status pipe that came with the request; each
//! `exec` request, one that is exactly `tsbox-runtime exec --status-fd 3`.
//! Here: one poll loop, single-threaded (forking is only safe so), over the
//! control socket and a SIGCHLD self-pipe; replies are the supervisor's pid
//! once forked and its exit status once reaped.
//!
//! Rootless, the first run whose id maps need newuidmap/newgidmap makes the
//! nest (container::nest): a user namespace with those maps, kept by a
//! descriptor, that every later run clones its container's user namespace
//! from, writing the maps itself instead of through two setuid helpers.
//!
//! Lifetime: we die with the process that started us — its end of the
//! control socket closing (EOF: we exit), or its death (PDEATHSIG SIGKILL,
//! armed before reading anything) — and each supervisor dies with us
//! (its own PDEATHSIG), each container with its supervisor: nothing
//! outlives the Runtime's process.

mod request;
mod run_child;

use crate::helper;
use crate::monitor::wakeup;
use crate::signals::FORWARDED;
use container::nest::Nest;
use container::Spec;
use container::sys::consts::{POLLERR, POLLHUP, POLLIN, SIGCHLD};
use container::sys::process::{self, ExitStatus};
use container::sys::types::PollFd;
use container::sys::{cred, fd, fdpass, signal};
use request::Request;
use std::collections::HashMap;
use std::os::raw::c_int;
use std::path::Path;

pub fn serve(control: c_int) -> i32 {
    if let Err(e) = helper::die_with_parent() {
        eprintln!("tsbox-runtime serve: {}", e.message);
        return 125;
    }
    // Signals sent to our caller's process group (^C on its terminal) are
    // for the containers: each supervisor forwards them, as a spawned helper
    // did. We must outlive them; a supervisor resets these at fork. (Rust's
    // start-up ignores SIGPIPE already: a gone owner is an EPIPE.)
    for sig in FORWARDED {
        let _ = signal::ignore(sig);
    }
    let _ = fd::set_cloexec(control);
    // A --rm run's remover outlives its supervisor (run.rs): orphaned to us, it is reaped by `reap` with the rest,
    // not left a zombie of a PID 1 that reaps only its own children (Node in a container, a CI job's `tail`).
    if let Err(e) = cred::set_child_subreaper() {
        eprintln!("tsbox-runtime serve: becoming a subreaper: {}", e);
        return 125;
    }
    let wake = match wakeup::install_for(&[SIGCHLD]) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tsbox-runtime serve: installing the SIGCHLD handler: {}", e);
            return 125;
        }
    };
    Server { control, runs: HashMap::new(), pending: Vec::new(), fds: Vec::new(), nest: None }.run(wake)
}

struct Server {
    control: c_int,
    /// Supervisors not yet reaped: pid → request id.
    runs: HashMap<i32, u64>,
    /// Bytes of a request line not complete yet.
    pending: Vec<u8>,
    /// Descriptors received and not yet claimed by a request, oldest first.
    fds: Vec<c_int>,
    /// None until the first run; then the nest, if its maps needed one and
    /// it could be made (otherwise each run maps its ids as ever).
    nest: Option<Option<Nest>>,
}

impl Server {
    fn run(mut self, wake: c_int) -> i32 {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut polled = [
                PollFd { fd: self.control, events: POLLIN, revents: 0 },
                PollFd { fd: wake, events: POLLIN, revents: 0 },
            ];
            if fd::poll(&mut polled, -1).is_err() {
                return 125;
            }
            if polled[1].revents != 0 {
                wakeup::drain(wake);
                self.reap();
            }
            if polled[0].revents & (POLLIN | POLLHUP | POLLERR) != 0 {
                match fdpass::recv(self.control, &mut buf, &mut self.fds) {
                    // Our owner is gone or let go of us: so do we (and, by their
                    // parent-death signal, every supervisor and container).
                    Ok(0) | Err(_) => return 0,
                    Ok(n) => {
                        self.pending.extend_from_slice(&buf[..n]);
                        self.handle_lines();
                    }
                }
            }
        }
    }

    fn handle_lines(&mut self) {
        while let Some(nl) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line[..nl]).into_owned();
            if text.trim().is_empty() {
                continue;
            }
            match request::parse(&text) {
                Ok(Request::Run(run)) => self.start(run),
                Ok(Request::Kill { id, signal }) => {
                    // Only a supervisor not yet reaped: its pid is still its own.
                    if let Some((&pid, _)) = self.runs.iter().find(|(_, r)| **r == id) {
                        let _ = process::kill(pid, signal);
                    }
                }
                Err((id, why)) => self.reply(&request::failed(id, &format!("bad request: {}", why))),
            }
        }
    }

    fn start(&mut self, run: request::RunRequest) {
        let count = run.fd_count();
        if self.fds.len() < count {
            // The descriptors travel with the line's first bytes: never after it.
            self.reply(&request::failed(Some(run.id), "the request's descriptors did not arrive"));
            return;
        }
        container::trace::mark("serve: request");
        let fds: Vec<c_int> = self.fds.drain(..count).collect();
        // (An exec joins its container's namespaces: a nest is for the id maps of a new one.)
        if self.nest.is_none() && run.exec.is_none() {
            self.nest = Some(make_nest(&run.bundle));
        }
        let nest = if run.exec.is_some() { None } else { self.nest.as_ref().and_then(Option::as_ref) };
        match run_child::fork(&run, &fds, nest) {
            Ok(pid) => {
                self.runs.insert(pid, run.id);
                self.reply(&request::forked(run.id, pid));
            }
            Err(e) => self.reply(&request::failed(Some(run.id), &e.message)),
        }
        // The supervisor holds its copies; ours would keep its pipes open.
        for f in fds {
            fd::close(f);
        }
    }

    fn reap(&mut self) {
        while let Ok(Some((pid, status))) = process::reap_any() {
            if let Some(id) = self.runs.remove(&pid) {
                let (code, signal) = match status {
                    ExitStatus::Code(c) => (c, None),
                    ExitStatus::Signal(s) => (128 + s, Some(signal::name(s))),
                };
                self.reply(&request::reaped(id, code, signal));
            }
        }
    }

    fn reply(&self, line: &str) {
        // Blocking, whole lines: our owner reads them as they come. One that
        // stopped reading is gone (EPIPE), which the next poll tells us.
        let _ = fd::write_all(self.control, line.as_bytes());
    }
}

/// The nest for the maps of the first run's spec, when they need one. Not
/// made (an unreadable spec, no newuidmap): the runs map their own ids and
/// report what fails there.
fn make_nest(bundle: &Path) -> Option<Nest> {
    let spec = Spec::load(bundle).ok().filter(Nest::worth_it)?;
    Nest::make(&spec.linux.uid_mappings, &spec.linux.gid_mappings).ok()
}
