//! Leaving the front end behind, as a daemon does: fork, new session, fork
//! again (the session leader exits, so the monitor can never acquire a
//! controlling terminal), stdio on /dev/null. The monitor is then nobody's
//! child but init's (or a subreaper's): the tsbox process that started it
//! may exit or be killed, and no parent-death signal ties it to that
//! process. Only fds the caller names survive (status pipe, lock).

use container::error::{Context, Error};
use container::sys::consts::{O_CLOEXEC, O_RDWR};
use container::sys::process::{self, Forked};
use container::sys::{fd, tty};
use std::os::raw::c_int;
use std::path::Path;

/// Returns in the detached grandchild; the original process and the middle
/// one exit (0 once the grandchild exists, 125 if a fork failed, which the
/// front end also learns from the status pipe closing without a word).
pub fn detach() -> Result<(), Error> {
    detach_then(|| 0)
}

/// `detach`, the original process running `stay` once the grandchild exists
/// and exiting with its code (a front end waiting to hear how the start went).
pub fn detach_then(stay: impl FnOnce() -> i32) -> Result<(), Error> {
    match process::clone_fork(0).step(|| "forking the monitor")? {
        Forked::Parent(middle) => {
            // The middle process exits at once: reap it, so no zombie is left
            // to whoever started us.
            let code = match process::wait(middle) {
                Ok(process::ExitStatus::Code(c)) => c,
                _ => 125,
            };
            let code = if code == 0 { stay() } else { code };
            // (main's end, which this exit skips: the CLI's old memory's holder)
            container::old_image::reap();
            process::exit_now(code)
        }
        Forked::Child => {}
    }
    tty::setsid().step(|| "starting the monitor's session")?;
    match process::clone_fork(0) {
        Ok(Forked::Parent(_)) => process::exit_now(0),
        Ok(Forked::Child) => {}
        Err(_) => process::exit_now(125),
    }
    null_stdio()
}

/// fds 0-2 on /dev/null: nothing of the front end's terminal or pipes stays open.
fn null_stdio() -> Result<(), Error> {
    let null = fd::open_path(Path::new("/dev/null"), O_RDWR | O_CLOEXEC, 0).step(|| "opening /dev/null")?;
    for target in 0..3 as c_int {
        fd::dup_onto(null, target).step(|| "redirecting the monitor's stdio")?;
    }
    fd::close(null);
    Ok(())
}
