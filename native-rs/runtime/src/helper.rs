//! What `run` and `exec` have in common: status events on the status fd,
//! dying with our parent, the input (spec or process) loaded, signals
//! forwarded to the process once it exists, then `started`/`exited` (or
//! `error`) and its exit code as ours.

use crate::signals;
use container::error::Error;
use container::status::StatusEvents;
use container::sys::consts::SIGKILL;
use container::sys::{cred, process};

pub struct Start<T> {
    pub status_fd: Option<i32>,
    /// Detach from the caller first (`exec -d`): then nobody's death is ours.
    pub detach: bool,
    pub load: Box<dyn FnOnce() -> Result<T, Error>>,
    /// With a terminal the process gets its own session, so signals our
    /// terminal sends to our process group no longer reach it: forward those too.
    pub terminal: fn(&T) -> bool,
    /// Starts it; the callback gets its pid right after the clone or fork.
    pub spawn: fn(&T, &mut dyn FnMut(i32)) -> Result<i32, Error>,
}

pub fn serve<T>(start: Start<T>) -> i32 {
    let events = StatusEvents::new(start.status_fd, "tsbox-runtime");
    let attached = if start.detach { crate::detach::detach() } else { die_with_parent() };
    let ready = attached
        .and_then(|()| (start.load)())
        .and_then(|input| {
            signals::install((start.terminal)(&input))
                .map_err(|e| Error::errno("installing signal handlers", e))?;
            Ok(input)
        });
    match ready {
        Ok(input) => events.supervise((start.spawn)(&input, &mut signals::forward_to)),
        Err(e) => events.error(&e),
    }
}

/// Die with whoever started us: a container process must not outlive a
/// front end that was SIGKILLed (the container's process in turn dies with
/// us). If the parent is already gone, the check after arming tells.
fn die_with_parent() -> Result<(), Error> {
    let parent = process::parent_pid();
    if cred::set_pdeathsig(SIGKILL).is_err() || process::parent_pid() != parent {
        return Err(Error::setup(
            "the process that started tsbox-runtime has exited",
        ));
    }
    Ok(())
}
