//! clone/wait/kill/setns/exit.

use super::consts::*;
use super::errno::EINTR;
use super::{ffi, Errno};
use std::os::raw::{c_int, c_long};

pub enum Forked {
    Parent(i32),
    Child,
}

/// A fork-like raw clone: no new stack, the child continues on a copy-on-write
/// copy of ours. Safe to use std in the child only because the caller is
/// single-threaded (no lock can be held by a thread that does not exist).
pub fn clone_fork(ns_flags: c_int) -> Result<Forked, Errno> {
    let flags = (ns_flags | SIGCHLD) as c_long;
    let zero: c_long = 0;
    let ret = unsafe { ffi::syscall(SYS_CLONE, flags, zero, zero, zero, zero) };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

/// struct clone_args up to `cgroup` (CLONE_ARGS_SIZE_VER2, 88 bytes on
/// every architecture: all fields are u64).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// `clone_fork`, but the child starts in the cgroup whose directory
/// `cgroup_fd` is (clone3 + CLONE_INTO_CGROUP, Linux 5.7): it never runs a
/// moment outside it, and a new cgroup namespace is rooted there. ENOSYS,
/// E2BIG or EINVAL from an older kernel.
pub fn clone3_into_cgroup(ns_flags: c_int, cgroup_fd: c_int) -> Result<Forked, Errno> {
    let args = CloneArgs {
        flags: ns_flags as u32 as u64 | CLONE_INTO_CGROUP,
        exit_signal: SIGCHLD as u64,
        cgroup: cgroup_fd as u64,
        ..CloneArgs::default()
    };
    let ret = unsafe {
        ffi::syscall(
            SYS_CLONE3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent(pid as i32)),
    }
}

pub fn unshare(flags: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::unshare(flags) }).map(drop)
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signal(i32),
}

impl ExitStatus {
    fn from_raw(status: c_int) -> ExitStatus {
        if status & 0x7f == 0 {
            ExitStatus::Code((status >> 8) & 0xff)
        } else {
            ExitStatus::Signal(status & 0x7f)
        }
    }
}

/// Blocks until `pid` ends (stopped children are not reported: no WUNTRACED).
pub fn wait(pid: i32) -> Result<ExitStatus, Errno> {
    let mut status: c_int = 0;
    loop {
        let r = unsafe { ffi::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(ExitStatus::from_raw(status));
        }
        let e = Errno::last();
        if r == -1 && e != EINTR {
            return Err(e);
        }
    }
}

/// Reaps one child that has ended, if any (`waitpid(-1, WNOHANG)`): None
/// when children remain but none has ended, ECHILD when there are none.
pub fn reap_any() -> Result<Option<(i32, ExitStatus)>, Errno> {
    let mut status: c_int = 0;
    loop {
        let r = unsafe { ffi::waitpid(-1, &mut status, WNOHANG) };
        if r > 0 {
            return Ok(Some((r, ExitStatus::from_raw(status))));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

pub fn kill(pid: i32, sig: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::kill(pid, sig) }).map(drop)
}

pub fn parent_pid() -> i32 {
    unsafe { ffi::getppid() }
}

pub fn setns(fd: c_int, nstype: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setns(fd, nstype) }).map(drop)
}

/// A close-on-exec fd that refers to process `pid` itself, not to whichever
/// process holds the number later (Linux 5.3+; ENOSYS before).
pub fn pidfd_open(pid: i32) -> Result<c_int, Errno> {
    let zero: c_long = 0;
    let ret = unsafe { ffi::syscall(SYS_PIDFD_OPEN, pid as c_long, zero) };
    Errno::check(ret as c_int)
}

/// Signals the process a pidfd refers to: never another one that reused
/// its pid (Linux 5.1+).
pub fn pidfd_send_signal(pidfd: c_int, sig: c_int) -> Result<(), Errno> {
    let zero: c_long = 0;
    let ret = unsafe { ffi::syscall(SYS_PIDFD_SEND_SIGNAL, pidfd as c_long, sig as c_long, zero, zero) };
    Errno::check(ret as c_int).map(drop)
}

/// Leaves immediately: no atexit handlers, no flushing of buffers that are
/// copies of the parent's.
pub fn exit_now(code: i32) -> ! {
    unsafe { ffi::_exit(code) }
}

/// The exit of child `pid` if it has ended, without blocking.
pub fn try_wait(pid: i32) -> Result<Option<ExitStatus>, Errno> {
    let mut status: c_int = 0;
    loop {
        let r = unsafe { ffi::waitpid(pid, &mut status, WNOHANG) };
        if r == pid {
            return Ok(Some(ExitStatus::from_raw(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

/// Waits for every child we still have (ECHILD ends it).
pub fn reap_all_children() {
    let mut status: c_int = 0;
    loop {
        let r = unsafe { ffi::waitpid(-1, &mut status, 0) };
        if r == -1 && Errno::last() != EINTR {
            return;
        }
    }
}

pub fn own_pid() -> i32 {
    unsafe { ffi::getpid() }
}

/// A process's start time in clock ticks since boot (field 22 of
/// /proc/PID/stat): with the pid it names one process for good, so a pid
/// recorded in a file is not mistaken for a later process that reused it.
pub fn start_time(pid: i32) -> Option<u64> {
    start_time_of_stat(&std::fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?)
}

/// `start_time` of a /proc/PID/stat text.
pub fn start_time_of_stat(stat: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and parentheses: skip past its last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// True while the process `pid` that started at `start` (see `start_time`) runs (a zombie counts as gone).
pub fn alive(pid: i32, start: u64) -> bool {
    if pid <= 0 || start_time(pid) != Some(start) {
        return false;
    }
    std::fs::read_to_string(format!("/proc/{}/stat", pid))
        .ok()
        .and_then(|s| s.rfind(')').map(|i| s[i + 1..].trim_start().starts_with('Z')))
        .map_or(false, |zombie| !zombie)
}
