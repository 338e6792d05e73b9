//! Timing marks for profiling the set-up (the vm guest's agent turns them
//! on with `TSBOX_TRACE=1` on the guest kernel's command line, the host's
//! `tsbox-runtime` with `TSBOX_TRACE_FD=N` in its environment): one line
//! `tsbox-trace <unix ms> <pid> <what>` per mark on a descriptor the caller
//! chose (the guest's console). Off, a mark is one atomic load.

use crate::sys::fd;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static FD: AtomicI32 = AtomicI32::new(-1);

/// Marks go to `fd` from now on (-1: off). Inherited across fork.
pub fn set_fd(to: c_int) {
    FD.store(to, Ordering::SeqCst);
}

pub fn fd() -> c_int {
    FD.load(Ordering::Relaxed)
}

/// One mark, if tracing is on. Wall-clock time, so marks of different
/// processes (and the host's, the guest clock being set from it) line up.
pub fn mark(what: &str) {
    let to = fd();
    if to < 0 {
        return;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0);
    let line = format!(
        "tsbox-trace {}.{:03} {} {}\n",
        now / 1000,
        now % 1000,
        std::process::id(),
        what
    );
    let _ = fd::write_all(to, line.as_bytes());
}
