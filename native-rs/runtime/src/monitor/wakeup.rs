//! Signals become bytes on a self-pipe that the monitor's poll loop reads
//! (the handler only calls write(2), which is async-signal-safe): SIGCHLD
//! (a supervisor ended) and the signals forwarded to the container.

use crate::signals::FORWARDED;
use container::sys::consts::SIGCHLD;
use container::sys::types::SigInfoHead;
use container::sys::{fd, signal, Errno};
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};

static WRITE_END: AtomicI32 = AtomicI32::new(-1);

extern "C" fn handler(sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let w = WRITE_END.load(Ordering::SeqCst);
        if w >= 0 {
            // A full pipe already holds a wake-up: dropping this byte is fine
            // for SIGCHLD; a forwarded signal lost that way is one of a burst.
            let _ = fd::write(w, &[sig as u8]);
        }
    });
}

/// Installs the handlers (SIGCHLD and the forwarded signals); returns the
/// read end to poll.
pub fn install() -> Result<c_int, Errno> {
    let mut signals = vec![SIGCHLD];
    signals.extend_from_slice(&FORWARDED);
    install_for(&signals)
}

/// The handler for `signals` only (the warm helper wakes up on SIGCHLD alone).
pub fn install_for(signals: &[c_int]) -> Result<c_int, Errno> {
    let (r, w) = fd::pipe()?;
    fd::set_nonblocking(r)?;
    fd::set_nonblocking(w)?;
    WRITE_END.store(w, Ordering::SeqCst);
    for &sig in signals {
        signal::install(sig, handler)?;
    }
    Ok(r)
}

/// The signals that arrived since the last call, oldest first.
pub fn drain(r: c_int) -> Vec<c_int> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n) = fd::read(r, &mut buf) {
        if n == 0 {
            break;
        }
        got.extend(buf[..n].iter().map(|b| *b as c_int));
    }
    got
}
