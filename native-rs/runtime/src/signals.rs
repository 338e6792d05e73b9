//! Forwarding signals to the container's init.
//!
//! The handler only reads atomics and calls kill(2), both async-signal-safe.
//! The forwarded signals are blocked from `install` until the child's pid is
//! known (`forward_to`), so one arriving during clone is delivered late
//! rather than lost.

use container::sys::consts::*;
use container::sys::types::SigInfoHead;
use container::sys::{process, signal, Errno};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};

pub const FORWARDED: [c_int; 8] = [
    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
];

static TARGET: AtomicI32 = AtomicI32::new(0);

/// The container process always has a session of its own (never our
/// terminal's), so whatever reaches us, from kill(2) or from our terminal
/// (^C, hangup, resize), is passed on.
extern "C" fn handler(sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let pid = TARGET.load(Ordering::SeqCst);
        if pid > 0 {
            let _ = process::kill(pid, sig);
        }
    });
}

pub fn install() -> Result<(), Errno> {
    signal::block(&FORWARDED)?;
    for sig in FORWARDED {
        signal::install(sig, handler)?;
    }
    Ok(())
}

/// Called right after clone (or fork) with the container process's pid.
pub fn forward_to(pid: i32) {
    TARGET.store(pid, Ordering::SeqCst);
    let _ = signal::unblock(&FORWARDED);
}
