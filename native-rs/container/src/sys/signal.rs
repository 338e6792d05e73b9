//! Signal dispositions and masks.

use super::consts::*;
use super::types::{SigAction, SigInfoHead, SigSet};
use super::{ffi, Errno};
use std::os::raw::{c_int, c_ulong, c_void};

pub type Handler = extern "C" fn(c_int, *mut SigInfoHead, *mut c_void);

impl SigSet {
    pub fn empty() -> SigSet {
        SigSet {
            val: [0; 1024 / (8 * std::mem::size_of::<c_ulong>())],
        }
    }

    pub fn of(signals: &[c_int]) -> SigSet {
        let mut set = SigSet::empty();
        let bits = 8 * std::mem::size_of::<c_ulong>();
        for &sig in signals {
            let i = (sig - 1) as usize;
            set.val[i / bits] |= 1 << (i % bits);
        }
        set
    }
}

/// Installs an SA_SIGINFO handler with SA_RESTART, so interrupted reads and
/// writes resume on their own.
pub fn install(sig: c_int, handler: Handler) -> Result<(), Errno> {
    let act = SigAction {
        sa_sigaction: handler as usize,
        sa_mask: SigSet::empty(),
        sa_flags: SA_SIGINFO | SA_RESTART,
        sa_restorer: 0,
    };
    Errno::check(unsafe { ffi::sigaction(sig, &act, std::ptr::null_mut()) }).map(drop)
}

/// Every catchable signal back to SIG_DFL and an empty mask. A forked child
/// must do this: ignored signals (Rust ignores SIGPIPE) and the mask survive
/// execve, and the parent's handlers make no sense in the child.
pub fn reset_all() {
    let act = SigAction {
        sa_sigaction: SIG_DFL,
        sa_mask: SigSet::empty(),
        sa_flags: 0,
        sa_restorer: 0,
    };
    for sig in 1..NSIG {
        if sig != SIGKILL && sig != SIGSTOP {
            // glibc refuses its internal signals (32, 33) with EINVAL: fine.
            unsafe { ffi::sigaction(sig, &act, std::ptr::null_mut()) };
        }
    }
    let _ = set_mask(SIG_SETMASK, &SigSet::empty());
}

/// `reset_all` for a fork that goes on running our own code instead of
/// exec'ing: SIGPIPE stays ignored, as Rust's start-up had it, so a reader
/// that went away (a killed Node program's status socket, a closed stdout)
/// is an EPIPE to handle, not a death before the exit is recorded.
pub fn reset_for_our_code() {
    reset_all();
    let _ = ignore(SIGPIPE);
}

/// SIG_IGN for `sig`.
pub fn ignore(sig: c_int) -> Result<(), Errno> {
    let act = SigAction {
        sa_sigaction: 1,
        sa_mask: SigSet::empty(),
        sa_flags: 0,
        sa_restorer: 0,
    };
    Errno::check(unsafe { ffi::sigaction(sig, &act, std::ptr::null_mut()) }).map(drop)
}

pub fn set_mask(how: c_int, set: &SigSet) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::sigprocmask(how, set, std::ptr::null_mut()) }).map(drop)
}

pub fn block(signals: &[c_int]) -> Result<(), Errno> {
    set_mask(SIG_BLOCK, &SigSet::of(signals))
}

pub fn unblock(signals: &[c_int]) -> Result<(), Errno> {
    set_mask(SIG_UNBLOCK, &SigSet::of(signals))
}

/// Every signal (SIGKILL and SIGSTOP cannot be blocked anyway).
pub fn all() -> SigSet {
    let mut set = SigSet::empty();
    for v in set.val.iter_mut() {
        *v = !0;
    }
    set
}

/// Waits for one of `set` (blocked beforehand) to arrive; its number.
pub fn wait_for(set: &SigSet) -> Result<c_int, Errno> {
    // siginfo_t is 128 bytes on every Linux ABI; only the number is used.
    let mut info = [0u8; 128];
    loop {
        let r = unsafe { ffi::sigwaitinfo(set, info.as_mut_ptr() as *mut c_void) };
        if r > 0 {
            return Ok(r);
        }
        let e = Errno::last();
        if e != super::errno::EINTR {
            return Err(e);
        }
    }
}

/// Saves and restores errno around a signal handler body.
pub fn preserving_errno<F: FnOnce()>(f: F) {
    let saved = unsafe { *ffi::__errno_location() };
    f();
    unsafe { *ffi::__errno_location() = saved };
}

/// "SIGTERM" for 15; "SIG40" for numbers without a classic name.
pub fn name(sig: c_int) -> String {
    const NAMES: [&str; 32] = [
        "",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    match NAMES.get(sig as usize) {
        Some(n) if !n.is_empty() => n.to_string(),
        _ => format!("SIG{}", sig),
    }
}
