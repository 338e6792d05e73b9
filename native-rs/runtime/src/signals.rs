//! Forwarding signals to the container's init.
//!
//! The handler only reads atomics and calls kill(2), both async-signal-safe.
//! The forwarded signals are blocked from `install` until the child's pid is
//! known (`forward_to`), so one arriving during clone is delivered late
//! rather than lost.

use container::sys::consts::*;
use container::sys::types::SigInfoHead;
use container::sys::{ffi, process, signal, Errno};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

pub const FORWARDED: [c_int; 8] = [
    SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
];

static TARGET: AtomicI32 = AtomicI32::new(0);

/// Our parent-death signal (helper.rs `die_with_parent`): a real-time one
/// nobody else sends us, so it is never forwarded.
pub const ORPHANED: c_int = 36; // SIGRTMIN + 2

/// Asks for the process and its process group to be killed: the monitor's
/// health check past its timeout (monitor/health.rs). The check's command
/// leads a session of its own (process_setup), so its group is what it
/// started: a `sh -c` check's children outlived a SIGKILL of the helper
/// alone and piled up in the container, one set per interval.
pub const KILL_GROUP: c_int = 37; // SIGRTMIN + 3

/// The container's thaw file and value (`thaw_on_orphan`), leaked C strings.
static THAW_PATH: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());
static THAW_VALUE: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());

/// Our parent died: the container goes with it, as SIGKILL took us before,
/// but we stay to reap, record and clean up. A frozen (paused) container
/// takes no SIGKILL under the v1 freezer until thawed, so it is thawed
/// too; before there is a container we just end.
extern "C" fn orphaned(_sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    let pid = TARGET.load(Ordering::SeqCst);
    if pid <= 0 {
        container::copy::pending::discard();
        process::exit_now(128 + SIGKILL);
    }
    signal::preserving_errno(|| kill_thawed(pid));
}

/// SIGKILL for the container, thawed if paused (async-signal-safe).
fn kill_thawed(pid: i32) {
    let _ = process::kill(pid, SIGKILL);
    let (path, value) = (THAW_PATH.load(Ordering::SeqCst), THAW_VALUE.load(Ordering::SeqCst));
    if !path.is_null() && !value.is_null() {
        // open/write/close: async-signal-safe.
        unsafe {
            let f = ffi::open(path, O_WRONLY | O_CLOEXEC);
            if f >= 0 {
                let len = CStr::from_ptr(value).to_bytes().len();
                let _ = ffi::write(f, value as *const c_void, len);
                ffi::close(f);
            }
        }
    }
}

extern "C" fn kill_group(_sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let pid = TARGET.load(Ordering::SeqCst);
        if pid > 0 {
            // (the group is the pid's once it ran setsid; before that, the process alone)
            let _ = process::kill(-pid, SIGKILL);
            let _ = process::kill(pid, SIGKILL);
        }
    });
}

/// Handles `ORPHANED` (before it is armed as the parent-death signal).
pub fn install_orphaned() -> Result<(), Errno> {
    signal::install(ORPHANED, orphaned)
}

/// The file whose write thaws the container, for `orphaned`.
pub fn thaw_on_orphan(path: &std::path::Path, value: &str) {
    use std::os::unix::ffi::OsStrExt;
    if let (Ok(p), Ok(v)) = (CString::new(path.as_os_str().as_bytes()), CString::new(value)) {
        THAW_VALUE.store(v.into_raw(), Ordering::SeqCst);
        THAW_PATH.store(p.into_raw(), Ordering::SeqCst);
    }
}

/// The container process always has a session of its own (never our
/// terminal's), so whatever reaches us, from kill(2) or from our terminal
/// (^C, hangup, resize), is passed on.
extern "C" fn handler(sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let pid = TARGET.load(Ordering::SeqCst);
        if pid > 0 {
            let _ = process::kill(pid, sig);
            if (sig == SIGINT || sig == SIGTERM) && INTERRUPTS.fetch_add(1, Ordering::SeqCst) + 1 == FORCE_AFTER {
                forcefully_exit(pid);
            }
        }
    });
}

/// SIGINTs and SIGTERMs passed on so far, counted only as the CLI (`count_interrupts`).
static INTERRUPTS: AtomicI32 = AtomicI32::new(i32::MIN);

/// docker-cli's `exitLimit` (the CLI's `countInterrupts`, cli/interrupt.ts): the third SIGINT/SIGTERM ends us.
const FORCE_AFTER: i32 = 3;

/// As the CLI (`--front-end`), count the interrupts we pass on: a container
/// that ignores them (a PID 1 without handlers does) must not make Ctrl-C
/// and a CI's SIGTERM useless.
pub fn count_interrupts() {
    INTERRUPTS.store(0, Ordering::SeqCst);
}

/// The third one: docker's line, then the container, which dies with us
/// anyway, is killed; we reap, record and clean up (`--rm`) as after any
/// end, and exit 137. Before, only SIGKILL from elsewhere ended us.
fn forcefully_exit(pid: i32) {
    const LINE: &[u8] = b"got 3 SIGTERM/SIGINTs, forcefully exiting\n";
    unsafe {
        let _ = ffi::write(2, LINE.as_ptr() as *const c_void, LINE.len());
    }
    kill_thawed(pid);
}

pub fn install() -> Result<(), Errno> {
    signal::block(&FORWARDED)?;
    signal::block(&[KILL_GROUP])?;
    for sig in FORWARDED {
        signal::install(sig, handler)?;
    }
    signal::install(KILL_GROUP, kill_group)
}

/// Called right after clone (or fork) with the container process's pid.
pub fn forward_to(pid: i32) {
    TARGET.store(pid, Ordering::SeqCst);
    let _ = signal::unblock(&FORWARDED);
    let _ = signal::unblock(&[KILL_GROUP]);
}
