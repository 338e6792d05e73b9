//! `tsbox-runtime exec`: start a process in a running container (joining
//! the namespaces of its init), forward signals, wait, report: the same
//! status events and exit codes as `run`.

use crate::signals;
use container::error::Error;
use container::join;
use container::spec::Process;
use container::status::StatusEvents;
use std::path::PathBuf;

pub struct Options {
    /// Host pid of the container's init.
    pub pid: i32,
    /// An OCI `process` object (JSON).
    pub process: PathBuf,
    pub status_fd: Option<i32>,
}

pub fn exec(opts: &Options) -> i32 {
    let events = StatusEvents::new(opts.status_fd, "tsbox-runtime");
    if let Err(e) = crate::die_with_parent() {
        return events.error(&e);
    }
    let process = match Process::load(&opts.process) {
        Ok(p) => p,
        Err(e) => return events.error(&Error::from(e)),
    };
    if let Err(e) = signals::install(process.terminal) {
        return events.error(&Error::errno("installing signal handlers", e));
    }
    events.supervise(join::spawn(opts.pid, &process, &mut signals::forward_to))
}
