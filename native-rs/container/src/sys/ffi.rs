//! Hand-written glibc declarations (x86_64 and i686 linux-gnu).
//!
//! Only functions whose C prototypes are identical on both targets live here;
//! raw syscall numbers are in `consts.rs`, struct layouts in `types.rs`.
#![allow(non_camel_case_types)]

use super::types::{PollFd, Rlimit64, SigAction, SigSet, Statvfs64, Timespec};
use std::os::raw::{c_char, c_int, c_long, c_uint, c_ulong, c_void};

pub type pid_t = c_int;
pub type uid_t = c_uint;
pub type gid_t = c_uint;

extern "C" {
    pub fn __errno_location() -> *mut c_int;
    pub fn syscall(number: c_long, ...) -> c_long;
    pub fn _exit(status: c_int) -> !;

    // mounts
    pub fn mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    pub fn umount2(target: *const c_char, flags: c_int) -> c_int;
    pub fn statvfs64(path: *const c_char, buf: *mut Statvfs64) -> c_int;
    pub fn chdir(path: *const c_char) -> c_int;
    pub fn fchdir(fd: c_int) -> c_int;
    pub fn flock(fd: c_int, operation: c_int) -> c_int;
    pub fn inotify_init1(flags: c_int) -> c_int;
    pub fn inotify_add_watch(fd: c_int, path: *const c_char, mask: u32) -> c_int;
    /// The 64-bit offset variant exists (and is the same) on both targets.
    pub fn lseek64(fd: c_int, offset: i64, whence: c_int) -> i64;
    pub fn fchown(fd: c_int, owner: uid_t, group: gid_t) -> c_int;

    // paths relative to descriptors
    pub fn openat(dirfd: c_int, path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn mkdirat(dirfd: c_int, path: *const c_char, mode: c_uint) -> c_int;
    pub fn readlinkat(dirfd: c_int, path: *const c_char, buf: *mut c_char, size: usize) -> isize;
    /// glibc has the 64-bit variant on both targets; only `f_type`, the first
    /// field (a C `long` on both), is read.
    pub fn fstatfs64(fd: c_int, buf: *mut c_long) -> c_int;

    // namespaces, identity, limits
    pub fn setns(fd: c_int, nstype: c_int) -> c_int;
    pub fn unshare(flags: c_int) -> c_int;
    pub fn sethostname(name: *const c_char, len: usize) -> c_int;
    pub fn setdomainname(name: *const c_char, len: usize) -> c_int;
    pub fn prctl(option: c_int, ...) -> c_int;
    pub fn prlimit64(
        pid: pid_t,
        resource: c_int,
        new: *const Rlimit64,
        old: *mut Rlimit64,
    ) -> c_int;
    pub fn setgroups(size: usize, list: *const gid_t) -> c_int;
    pub fn setresuid(ruid: uid_t, euid: uid_t, suid: uid_t) -> c_int;
    pub fn setresgid(rgid: gid_t, egid: gid_t, sgid: gid_t) -> c_int;
    pub fn getuid() -> uid_t;
    pub fn geteuid() -> uid_t;
    pub fn getgid() -> gid_t;
    pub fn getegid() -> gid_t;
    pub fn setfsuid(uid: uid_t) -> c_int;
    pub fn setfsgid(gid: gid_t) -> c_int;
    pub fn getpid() -> pid_t;
    pub fn getppid() -> pid_t;
    pub fn setsid() -> pid_t;
    pub fn umask(mask: c_uint) -> c_uint;

    // processes and signals
    pub fn execve(
        path: *const c_char,
        argv: *const *const c_char,
        envp: *const *const c_char,
    ) -> c_int;
    pub fn fexecve(fd: c_int, argv: *const *const c_char, envp: *const *const c_char) -> c_int;
    pub fn waitpid(pid: pid_t, status: *mut c_int, options: c_int) -> pid_t;
    pub fn kill(pid: pid_t, sig: c_int) -> c_int;
    pub fn sigaction(sig: c_int, act: *const SigAction, old: *mut SigAction) -> c_int;
    pub fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int;
    pub fn sigwaitinfo(set: *const SigSet, info: *mut c_void) -> c_int;

    // file descriptors
    pub fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    pub fn read(fd: c_int, buf: *mut c_void, count: usize) -> isize;
    pub fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    pub fn close(fd: c_int) -> c_int;
    pub fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    pub fn dup2(old: c_int, new: c_int) -> c_int;
    pub fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    pub fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
    pub fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;

    // files relative to a directory descriptor (sys/fs.rs)
    pub fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int;
    pub fn symlinkat(target: *const c_char, dirfd: c_int, path: *const c_char) -> c_int;
    pub fn renameat(olddirfd: c_int, oldpath: *const c_char, newdirfd: c_int, newpath: *const c_char) -> c_int;
    pub fn linkat(
        olddirfd: c_int,
        oldpath: *const c_char,
        newdirfd: c_int,
        newpath: *const c_char,
        flags: c_int,
    ) -> c_int;
    pub fn mknodat(dirfd: c_int, path: *const c_char, mode: c_uint, dev: u64) -> c_int;
    pub fn fchmod(fd: c_int, mode: c_uint) -> c_int;
    pub fn syncfs(fd: c_int) -> c_int;
    pub fn fchownat(dirfd: c_int, path: *const c_char, uid: uid_t, gid: gid_t, flags: c_int) -> c_int;
    pub fn utimensat(dirfd: c_int, path: *const c_char, times: *const Timespec, flags: c_int) -> c_int;
    pub fn lgetxattr(path: *const c_char, name: *const c_char, value: *mut c_void, size: usize) -> isize;
    pub fn fsetxattr(fd: c_int, name: *const c_char, value: *const c_void, size: usize, flags: c_int) -> c_int;
    pub fn llistxattr(path: *const c_char, list: *mut c_char, size: usize) -> isize;
    pub fn fgetxattr(fd: c_int, name: *const c_char, value: *mut c_void, size: usize) -> isize;
    pub fn flistxattr(fd: c_int, list: *mut c_char, size: usize) -> isize;
    pub fn bind(fd: c_int, addr: *const c_void, len: u32) -> c_int;
    pub fn connect(fd: c_int, addr: *const c_void, len: u32) -> c_int;
    pub fn shutdown(fd: c_int, how: c_int) -> c_int;
    pub fn send(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> isize;
    pub fn recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> isize;
    pub fn setsockopt(fd: c_int, level: c_int, name: c_int, value: *const c_void, len: u32) -> c_int;
    pub fn getsockopt(fd: c_int, level: c_int, name: c_int, value: *mut c_void, len: *mut u32) -> c_int;
    pub fn splice(fd_in: c_int, off_in: *mut i64, fd_out: c_int, off_out: *mut i64, len: usize, flags: c_uint) -> isize;
}
