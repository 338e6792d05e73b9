//! Node's memory freed off the hand-off's path. An execve releases the old
//! image's memory in the exec'ing thread, before the new program's first
//! instruction: for a Node process (≈ 40 MB resident) that was 3–4 ms of
//! every CLI run here (a C program with 40 MB touched: 3.2–5.0 ms; 1 MB:
//! 0.6 ms). So just before the execve a second process shares the memory
//! (`clone(CLONE_VM)`, not a thread of ours: the exec does not end it) and
//! holds it across the exec, which then only drops a reference; once the
//! exec has closed our end of a pipe, it exits and frees the memory itself,
//! on the other core, while the helper starts. It runs no code of Node's:
//! its stack is its own, all signals stay blocked in it, and it makes raw
//! system calls only (no errno: its thread pointer is ours). It is the
//! helper's child after the exec, reaped by the helper's end
//! (`TSBOX_OLD_IMAGE_PID`, container::old_image), or by us if the exec fails.

use container::sys::consts::{O_CLOEXEC, SIGCHLD, SIG_SETMASK};
use container::sys::ffi;
use container::sys::types::SigSet;
use std::os::raw::{c_int, c_void};
use std::ptr;

const CLONE_VM: c_int = 0x100;
const STACK: usize = 64 * 1024;

extern "C" {
    fn clone(f: extern "C" fn(*mut c_void) -> c_int, stack: *mut c_void, flags: c_int, arg: *mut c_void, ...) -> c_int;
}

/// A holder of our memory across the coming execve: its pid, and our end of the pipe it waits on (close-on-exec;
/// closed by `cancel` when the exec failed). None when it could not be had: the exec frees the memory as ever.
pub struct Holder {
    pub pid: c_int,
    write_end: c_int,
}

pub fn hold() -> Option<Holder> {
    let mut fds = [-1 as c_int; 2];
    if unsafe { ffi::pipe2(fds.as_mut_ptr(), O_CLOEXEC) } != 0 {
        return None;
    }
    // Its stack, from our heap: the memory it holds.
    let stack = Box::leak(vec![0u8; STACK].into_boxed_slice());
    let top = ((stack.as_mut_ptr() as usize + STACK) & !15) as *mut c_void;
    let arg = (fds[0] as usize | (fds[1] as usize) << 32) as *mut c_void;
    let all: Vec<c_int> = (1..=64).collect();
    let mut old = SigSet::empty();
    unsafe { ffi::sigprocmask(SIG_SETMASK, &SigSet::of(&all), &mut old) };
    let pid = unsafe { clone(holder, top, CLONE_VM | SIGCHLD, arg) };
    unsafe { ffi::sigprocmask(SIG_SETMASK, &old, ptr::null_mut()) };
    container::sys::fd::close(fds[0]);
    if pid <= 0 {
        container::sys::fd::close(fds[1]);
        return None;
    }
    Some(Holder { pid, write_end: fds[1] })
}

impl Holder {
    /// What tells the helper we become to reap the holder (container::old_image).
    pub fn variable(&self) -> String {
        container::old_image::variable(self.pid, container::sys::process::own_pid())
    }

    /// The exec failed: the holder goes at once and is reaped here.
    pub fn cancel(self) {
        container::sys::fd::close(self.write_end);
        let _ = container::sys::process::wait(self.pid);
    }
}

/// The holder: only the pipe's read end stays open (its copy of our write end would keep the pipe open), it reads
/// until the exec closes ours, and exits: the last user of the old memory frees it.
extern "C" fn holder(arg: *mut c_void) -> c_int {
    let read_end = arg as usize & 0xffff_ffff;
    let write_end = arg as usize >> 32;
    unsafe {
        if raw::syscall3(raw::CLOSE_RANGE, read_end + 1, u32::MAX as usize, 0) != 0 {
            // (a kernel before 5.9: the other descriptors stay open until we exit, a few ms)
            raw::syscall3(raw::CLOSE, write_end, 0, 0);
        }
        if read_end > 0 {
            raw::syscall3(raw::CLOSE_RANGE, 0, read_end - 1, 0);
        }
        let mut byte = 0u8;
        while raw::syscall3(raw::READ, read_end, &mut byte as *mut u8 as usize, 1) == -raw::EINTR {}
        raw::syscall3(raw::EXIT, 0, 0, 0);
    }
    0
}

/// System calls without libc: no errno (the holder's thread pointer is Node's main thread's).
mod raw {
    pub const EINTR: isize = 4;
    pub const CLOSE_RANGE: usize = 436;
    #[cfg(target_arch = "x86_64")]
    pub const READ: usize = 0;
    #[cfg(target_arch = "x86_64")]
    pub const CLOSE: usize = 3;
    #[cfg(target_arch = "x86_64")]
    pub const EXIT: usize = 60;
    #[cfg(target_arch = "aarch64")]
    pub const READ: usize = 63;
    #[cfg(target_arch = "aarch64")]
    pub const CLOSE: usize = 57;
    #[cfg(target_arch = "aarch64")]
    pub const EXIT: usize = 93;

    #[cfg(target_arch = "x86_64")]
    pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> isize {
        let r: isize;
        core::arch::asm!("syscall", inlateout("rax") n as isize => r, in("rdi") a, in("rsi") b, in("rdx") c,
            lateout("rcx") _, lateout("r11") _, options(nostack));
        r
    }

    #[cfg(target_arch = "aarch64")]
    pub unsafe fn syscall3(n: usize, a: usize, b: usize, c: usize) -> isize {
        let r: isize;
        core::arch::asm!("svc 0", in("x8") n, inlateout("x0") a as isize => r, in("x1") b, in("x2") c, options(nostack));
        r
    }
}
