//! mount(2), umount2(2), pivot_root(2), statvfs(3).

use super::consts::*;
use super::{cpath, cstr, ffi, Errno};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_ulong, c_void};
use std::path::Path;
use std::ptr;

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

pub fn mount(
    source: Option<&Path>,
    target: &Path,
    fstype: Option<&str>,
    flags: c_ulong,
    data: Option<&str>,
) -> Result<(), Errno> {
    let source = source.map(cpath).transpose()?;
    let target = cpath(target)?;
    let fstype = fstype.map(cstr).transpose()?;
    let data = data.map(cstr).transpose()?;
    let ret = unsafe {
        ffi::mount(
            opt_ptr(&source),
            target.as_ptr(),
            opt_ptr(&fstype),
            flags,
            opt_ptr(&data) as *const c_void,
        )
    };
    Errno::check(ret).map(drop)
}

pub fn umount2(target: &Path, flags: c_int) -> Result<(), Errno> {
    let target = cpath(target)?;
    Errno::check(unsafe { ffi::umount2(target.as_ptr(), flags) }).map(drop)
}

pub fn pivot_root(new_root: &Path, put_old: &Path) -> Result<(), Errno> {
    let new_root = cpath(new_root)?;
    let put_old = cpath(put_old)?;
    let ret = unsafe { ffi::syscall(SYS_PIVOT_ROOT, new_root.as_ptr(), put_old.as_ptr()) };
    Errno::check(ret as c_int).map(drop)
}

pub fn chdir(path: &Path) -> Result<(), Errno> {
    let path = cpath(path)?;
    Errno::check(unsafe { ffi::chdir(path.as_ptr()) }).map(drop)
}

/// The per-mount flags of the mount holding `path`, translated to `MS_*` bits.
pub fn mount_flags(path: &Path) -> Result<c_ulong, Errno> {
    let cpath = cpath(path)?;
    let mut buf = std::mem::MaybeUninit::<super::types::Statvfs64>::zeroed();
    Errno::check(unsafe { ffi::statvfs64(cpath.as_ptr(), buf.as_mut_ptr()) })?;
    let st = unsafe { buf.assume_init() };
    Ok(st_to_ms(st.f_flag))
}

pub fn st_to_ms(st: c_ulong) -> c_ulong {
    const PAIRS: [(c_ulong, c_ulong); 7] = [
        (ST_RDONLY, MS_RDONLY),
        (ST_NOSUID, MS_NOSUID),
        (ST_NODEV, MS_NODEV),
        (ST_NOEXEC, MS_NOEXEC),
        (ST_NOATIME, MS_NOATIME),
        (ST_NODIRATIME, MS_NODIRATIME),
        (ST_RELATIME, MS_RELATIME),
    ];
    PAIRS
        .iter()
        .filter(|(s, _)| st & s != 0)
        .fold(0, |acc, (_, m)| acc | m)
}
