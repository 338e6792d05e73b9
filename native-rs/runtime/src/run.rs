//! `tsbox-runtime run`: load the bundle, start the container, forward
//! signals, wait, report. Exits with the container's code, 128+signal, or
//! 125/126/127 when it could not be started.

use crate::signals;
use container::error::Error;
use container::launch;
use container::status::{self, StatusEvents};
use container::sys::process;
use container::sys::consts::SIGKILL;
use container::sys::cred;
use container::Spec;
use std::path::PathBuf;

pub struct Options {
    pub bundle: PathBuf,
    pub status_fd: Option<i32>,
}

pub fn run(opts: &Options) -> i32 {
    let events = StatusEvents::new(opts.status_fd, "tsbox-runtime");
    // Die with whoever started us: a container must not outlive a front end
    // that was SIGKILLed (the container init in turn dies with us). If the
    // parent is already gone, the check after arming tells.
    let parent = process::parent_pid();
    if cred::set_pdeathsig(SIGKILL).is_err() || process::parent_pid() != parent {
        return events.error(&Error::setup("the process that started tsbox-runtime has exited".to_string()));
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
    let pid = match launch::spawn(&spec, &mut signals::forward_to) {
        Ok(pid) => pid,
        Err(e) => return events.error(&e),
    };
    events.started(pid);
    let (code, sig) = match status::wait_exit(pid) {
        Ok(exit) => exit,
        Err(e) => return events.error(&Error::errno("waiting for the container", e)),
    };
    events.exited(code, sig);
    code
}
