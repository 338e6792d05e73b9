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
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

pub const FORWARDED: [c_int; 8] = [
    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
];

static TARGET: AtomicI32 = AtomicI32::new(0);
static FORWARD_KERNEL_SIGNALS: AtomicBool = AtomicBool::new(true);

extern "C" fn handler(sig: c_int, info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let pid = TARGET.load(Ordering::SeqCst);
        if pid <= 0 {
            return;
        }
        // Without a terminal of its own the container shares our process
        // group: a signal the kernel sent to the group (^C, ^\, hangup,
        // resize of our tty) has reached it already.
        let from_kernel = !info.is_null() && unsafe { (*info).si_code } == SI_KERNEL;
        if from_kernel && !FORWARD_KERNEL_SIGNALS.load(Ordering::SeqCst) {
            return;
        }
        let _ = process::kill(pid, sig);
    });
}

pub fn install(own_session: bool) -> Result<(), Errno> {
    FORWARD_KERNEL_SIGNALS.store(own_session, Ordering::SeqCst);
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
