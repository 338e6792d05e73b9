//! `tsbox-runtime exec`: start a process in a running container (joining
//! the namespaces of its init), forward signals, wait, report: the same
//! status events and exit codes as `run`.

use crate::helper::{self, Start};
use container::join;
use container::seccomp::Seccomp;
use container::spec::Process;
use container::Spec;
use std::path::PathBuf;

pub struct Options {
    /// Host pid of the container's init.
    pub pid: i32,
    /// An OCI `process` object (JSON).
    pub process: PathBuf,
    /// The container's bundle: its config.json's `linux.seccomp` applies to
    /// the exec'd process too.
    pub bundle: Option<PathBuf>,
    pub status_fd: Option<i32>,
    /// `exec -d`: leave the caller behind (detach.rs) and run on our own.
    pub detach: bool,
    /// We replaced the `tsbox exec` CLI's process (helper::Start); the
    /// process file, written for us alone, goes once read.
    pub front_end: bool,
}

struct Input {
    pid: i32,
    process: Process,
    seccomp: Option<Seccomp>,
}

pub fn exec(opts: Options) -> i32 {
    let (pid, file, bundle, front_end) = (opts.pid, opts.process, opts.bundle, opts.front_end);
    helper::serve(Start {
        status_fd: opts.status_fd,
        front_end,
        detach: opts.detach,
        load: Box::new(move |_| {
            let process = Process::load(&file);
            if front_end {
                let _ = std::fs::remove_file(&file);
            }
            let process = process?;
            let seccomp = match bundle {
                Some(b) => Spec::load(&b)?.linux.seccomp,
                None => None,
            };
            Ok(Input { pid, process, seccomp })
        }),
        spawn: |input: &Input, on_fork: &mut dyn FnMut(i32)| {
            join::spawn_with(input.pid, &input.process, input.seccomp.as_ref(), on_fork)
        },
        terminal: |input: &Input| input.process.terminal,
        log: None,
        on_started: None,
        on_ended: None,
        on_failed: None,
        // The container's init reports its OOM kills.
        oom_killed: |_| false,
    })
}
