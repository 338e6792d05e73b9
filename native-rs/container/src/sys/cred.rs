//! Identity, capabilities, prctl knobs, rlimits, hostname.

use super::consts::*;
use super::types::{CapUserData, CapUserHeader, Rlimit64};
use super::{ffi, Errno};
use std::os::raw::{c_int, c_ulong};

fn prctl(option: c_int, arg2: c_ulong) -> Result<(), Errno> {
    let zero: c_ulong = 0;
    Errno::check(unsafe { ffi::prctl(option, arg2, zero, zero, zero) }).map(drop)
}

pub fn set_pdeathsig(sig: c_int) -> Result<(), Errno> {
    prctl(PR_SET_PDEATHSIG, sig as c_ulong)
}

/// The current parent-death signal (0: none).
pub fn pdeathsig() -> Result<c_int, Errno> {
    let mut sig: c_int = 0;
    prctl(PR_GET_PDEATHSIG, &mut sig as *mut c_int as c_ulong)?;
    Ok(sig)
}

/// Orphaned descendants are reparented to us (PR_SET_CHILD_SUBREAPER), for us to reap.
pub fn set_child_subreaper() -> Result<(), Errno> {
    prctl(PR_SET_CHILD_SUBREAPER, 1)
}

/// A non-dumpable process's /proc files belong to root and only a
/// CAP_SYS_PTRACE holder may open them (its /proc/PID/exe included).
pub fn set_dumpable(on: bool) -> Result<(), Errno> {
    prctl(PR_SET_DUMPABLE, on as c_ulong)
}

/// The thread's name (`comm`, at most 15 bytes): what ps shows for a
/// process forked without exec, whose command line is its parent's.
pub fn set_name(name: &str) -> Result<(), Errno> {
    let c = super::cstr(name)?;
    prctl(PR_SET_NAME, c.as_ptr() as c_ulong)
}

pub fn set_keepcaps(on: bool) -> Result<(), Errno> {
    prctl(PR_SET_KEEPCAPS, on as c_ulong)
}

pub fn set_no_new_privs() -> Result<(), Errno> {
    prctl(PR_SET_NO_NEW_PRIVS, 1)
}

pub fn capbset_drop(cap: u32) -> Result<(), Errno> {
    prctl(PR_CAPBSET_DROP, cap as c_ulong)
}

pub fn ambient_clear_all() -> Result<(), Errno> {
    let zero: c_ulong = 0;
    let ret = unsafe { ffi::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, zero, zero, zero) };
    Errno::check(ret).map(drop)
}

pub fn ambient_raise(cap: u32) -> Result<(), Errno> {
    let zero: c_ulong = 0;
    let ret = unsafe {
        ffi::prctl(
            PR_CAP_AMBIENT,
            PR_CAP_AMBIENT_RAISE,
            cap as c_ulong,
            zero,
            zero,
        )
    };
    Errno::check(ret).map(drop)
}

/// capset(2) version 3 for the calling thread; each set is a 64-bit mask.
pub fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
    let header = CapUserHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |mask: u64, i: usize| (mask >> (32 * i)) as u32;
    let mut data = [CapUserData::default(); 2];
    for (i, d) in data.iter_mut().enumerate() {
        d.effective = half(effective, i);
        d.permitted = half(permitted, i);
        d.inheritable = half(inheritable, i);
    }
    let ret = unsafe { ffi::syscall(SYS_CAPSET, &header as *const CapUserHeader, data.as_ptr()) };
    Errno::check(ret as c_int).map(drop)
}

pub fn setgroups(gids: &[u32]) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setgroups(gids.len(), gids.as_ptr()) }).map(drop)
}

pub fn setresuid(uid: u32) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setresuid(uid, uid, uid) }).map(drop)
}

pub fn setresgid(gid: u32) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setresgid(gid, gid, gid) }).map(drop)
}

pub fn setrlimit(resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    prlimit(0, resource, soft, hard)
}

/// setrlimit for process `pid` (0: ourselves).
pub fn prlimit(pid: i32, resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
    let limit = Rlimit64 {
        rlim_cur: soft,
        rlim_max: hard,
    };
    let ret = unsafe { ffi::prlimit64(pid, resource as c_int, &limit, std::ptr::null_mut()) };
    Errno::check(ret).map(drop)
}

/// getrlimit for process `pid` (0: ourselves): (soft, hard).
pub fn get_prlimit(pid: i32, resource: u32) -> Result<(u64, u64), Errno> {
    let mut old = Rlimit64 { rlim_cur: 0, rlim_max: 0 };
    let ret = unsafe { ffi::prlimit64(pid, resource as c_int, std::ptr::null(), &mut old) };
    Errno::check(ret).map(|_| (old.rlim_cur, old.rlim_max))
}

pub fn sethostname(name: &str) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::sethostname(name.as_ptr() as *const _, name.len()) }).map(drop)
}

pub fn setdomainname(name: &str) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setdomainname(name.as_ptr() as *const _, name.len()) }).map(drop)
}

/// File-system ids only (the effective ids stay): files made and
/// permission checks (uid_map writes included) then go by `uid`/`gid`.
pub fn set_fs_ids(uid: u32, gid: u32) {
    unsafe {
        ffi::setfsgid(gid);
        ffi::setfsuid(uid);
    }
}

/// File-system ids back to the effective ids.
pub fn reset_fs_ids() {
    set_fs_ids(geteuid(), getegid());
}

pub fn geteuid() -> u32 {
    unsafe { ffi::geteuid() }
}

pub fn getegid() -> u32 {
    unsafe { ffi::getegid() }
}

pub fn getuid() -> u32 {
    unsafe { ffi::getuid() }
}

pub fn getgid() -> u32 {
    unsafe { ffi::getgid() }
}
