//! `tsbox-runtime exec`: start a process in a running container (joining
//! the namespaces of its init), forward signals, wait, report: the same
//! status events and exit codes as `run`.

use crate::helper::{self, Start};
use container::error::Error;
use container::join;
use container::spec::Process;
use std::path::PathBuf;

pub struct Options {
    /// Host pid of the container's init.
    pub pid: i32,
    /// An OCI `process` object (JSON).
    pub process: PathBuf,
    pub status_fd: Option<i32>,
    /// `exec -d`: leave the caller behind (detach.rs) and run on our own.
    pub detach: bool,
}

pub fn exec(opts: Options) -> i32 {
    let (pid, file) = (opts.pid, opts.process);
    helper::serve(Start {
        status_fd: opts.status_fd,
        detach: opts.detach,
        load: Box::new(move || Process::load(&file).map(|p| (pid, p)).map_err(Error::from)),
        terminal: |(_, process): &(i32, Process)| process.terminal,
        spawn: |(pid, process): &(i32, Process), on_fork: &mut dyn FnMut(i32)| {
            join::spawn(*pid, process, on_fork)
        },
    })
}
