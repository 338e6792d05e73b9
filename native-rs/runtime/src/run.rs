//! `tsbox-runtime run`: load the bundle, start the container, forward
//! signals, wait, report. Exits with the container's code, 128+signal, or
//! 125/126/127 when it could not be started.

use crate::signals;
use container::error::Error;
use container::launch;
use container::status::StatusEvents;
use container::Spec;
use std::path::PathBuf;

pub struct Options {
    pub bundle: PathBuf,
    pub status_fd: Option<i32>,
}

pub fn run(opts: &Options) -> i32 {
    let events = StatusEvents::new(opts.status_fd, "tsbox-runtime");
    if let Err(e) = crate::die_with_parent() {
        return events.error(&e);
    }
    let spec = match Spec::load(&opts.bundle) {
        Ok(s) => s,
        Err(e) => return events.error(&Error::from(e)),
    };
    // With a terminal the container gets its own session, so signals our
    // terminal sends to our process group no longer reach it: forward those too.
    if let Err(e) = signals::install(spec.process.terminal) {
        return events.error(&Error::errno("installing signal handlers", e));
    }
    events.supervise(launch::spawn(&spec, &mut signals::forward_to))
}
