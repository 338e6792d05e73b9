//! The file a copy is writing under its temporary name, for a signal handler
//! to remove: a copy interrupted (Ctrl-C, SIGTERM of an aborted copy, its
//! caller's death) leaves neither a half-written file nor a stray
//! `.tsbox-cp.<pid>.tmp` beside what it replaced. Only atomics, unlinkat(2)
//! and _exit(2) in the handlers: async-signal-safe.

use crate::sys::consts::{SIGHUP, SIGINT, SIGTERM};
use crate::sys::types::SigInfoHead;
use crate::sys::{ffi, process, signal, Errno};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

static DIR: AtomicI32 = AtomicI32::new(-1);
/// A child of ours that does the writing (a stopped container's view), or 0.
static WRITER: AtomicI32 = AtomicI32::new(0);
static NAME: AtomicPtr<c_char> = AtomicPtr::new(std::ptr::null_mut());

/// The temporary name of this process's file writes, made once (leaked: the
/// handler reads it at any moment).
pub fn temp_name() -> &'static [u8] {
    let mut name = NAME.load(Ordering::SeqCst);
    if name.is_null() {
        let made = CString::new(format!(".tsbox-cp.{}.tmp", crate::sys::process::own_pid())).expect("no NUL in a number");
        name = made.into_raw();
        NAME.store(name, Ordering::SeqCst);
    }
    unsafe { std::ffi::CStr::from_ptr(name) }.to_bytes()
}

/// While `dir` holds the temporary file (until it is renamed or removed).
pub fn hold(dir: c_int) {
    DIR.store(dir, Ordering::SeqCst);
}

pub fn release() {
    DIR.store(-1, Ordering::SeqCst);
}

/// From a signal handler: removes the file being written, if any.
pub fn discard() {
    let dir = DIR.swap(-1, Ordering::SeqCst);
    let name = NAME.load(Ordering::SeqCst);
    if dir >= 0 && !name.is_null() {
        unsafe { ffi::unlinkat(dir, name, 0) };
    }
}

/// A write's Ctrl-C (the terminal signals the CLI's whole process group),
/// SIGTERM (an aborted copy) or hang-up: the file being written goes, then
/// the process, with the signal's status.
extern "C" fn interrupted(sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    let writer = WRITER.load(Ordering::SeqCst);
    if writer > 0 {
        // Its handler removes the file; we end with it, as our wait for it returns.
        signal::preserving_errno(|| {
            let _ = process::kill(writer, sig);
        });
        return;
    }
    discard();
    process::exit_now(128 + sig);
}

/// While `pid` (a child of ours: view.rs's, in the stopped container's view)
/// does the work, an interrupt is passed on to it; 0 when it has ended.
pub fn pass_interrupts_to(pid: i32) {
    WRITER.store(pid, Ordering::SeqCst);
}

/// For a process that writes a copy (`tsbox-runtime copy`, the vm agent's
/// copy child): what `interrupted` handles.
pub fn discard_on_interrupt() -> Result<(), Errno> {
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal::install(sig, interrupted)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::io::AsRawFd;

    #[test]
    fn discard_removes_the_held_file_only_while_held() {
        let dir = std::env::temp_dir().join(format!("pending-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let handle = fs::File::open(&dir).unwrap();
        let tmp = dir.join(std::str::from_utf8(temp_name()).unwrap());
        fs::write(&tmp, b"half").unwrap();
        release();
        discard();
        assert!(tmp.exists(), "not held: kept");
        hold(handle.as_raw_fd());
        discard();
        assert!(!tmp.exists(), "held: removed");
        fs::remove_dir_all(&dir).unwrap();
    }
}
