//! Paths relative to open descriptors: what lets the container set-up walk a
//! directory tree one component at a time without the kernel following a
//! symlink behind its back (openat with O_NOFOLLOW, openat2's RESOLVE_*).

use super::consts::*;
use super::errno::ENOSYS;
use super::types::OpenHow;
use super::{cpath, ffi, Errno};
use std::ffi::{CString, OsStr, OsString};
use std::os::raw::{c_char, c_int, c_long, c_uint};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

fn cname(name: &OsStr) -> Result<CString, Errno> {
    CString::new(name.as_bytes()).map_err(|_| super::errno::EINVAL)
}

/// openat(2); the result is always close-on-exec.
pub fn openat(dir: c_int, name: &OsStr, flags: c_int, mode: c_uint) -> Result<c_int, Errno> {
    let name = cname(name)?;
    Errno::check(unsafe { ffi::openat(dir, name.as_ptr(), flags | O_CLOEXEC, mode) })
}

/// open(2) of an absolute path as O_PATH, e.g. a trusted root directory.
pub fn open_path(path: &Path, flags: c_int) -> Result<c_int, Errno> {
    let p = cpath(path)?;
    Errno::check(unsafe { ffi::openat(AT_FDCWD, p.as_ptr(), O_PATH | O_CLOEXEC | flags, 0) })
}

/// openat2(2), Linux 5.6+: ENOSYS before (or where seccomp hides it).
pub fn openat2(dir: c_int, path: &Path, flags: c_int, resolve: u64) -> Result<c_int, Errno> {
    let p = cpath(path)?;
    let how = OpenHow {
        flags: (flags | O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    let ret = unsafe {
        ffi::syscall(
            SYS_OPENAT2,
            dir as c_long,
            p.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(ret as c_int)
}

/// True when this kernel has openat2 (cached after the first call).
pub fn have_openat2() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static KNOWN: AtomicU8 = AtomicU8::new(0); // 0 unknown, 1 yes, 2 no
    match KNOWN.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let yes = match openat2(AT_FDCWD, Path::new("/"), O_PATH, 0) {
                Ok(fd) => {
                    super::fd::close(fd);
                    true
                }
                Err(e) => e != ENOSYS && e != super::errno::EPERM,
            };
            KNOWN.store(if yes { 1 } else { 2 }, Ordering::Relaxed);
            yes
        }
    }
}

pub fn mkdirat(dir: c_int, name: &OsStr, mode: c_uint) -> Result<(), Errno> {
    let name = cname(name)?;
    Errno::check(unsafe { ffi::mkdirat(dir, name.as_ptr(), mode) }).map(drop)
}

/// The target of the symlink `fd` was opened on (O_PATH|O_NOFOLLOW).
pub fn readlink_fd(fd: c_int) -> Result<OsString, Errno> {
    let mut buf = vec![0u8; 4096];
    let empty = b"\0";
    let n = unsafe {
        ffi::readlinkat(
            fd,
            empty.as_ptr() as *const c_char,
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
        )
    };
    if n < 0 {
        return Err(Errno::last());
    }
    buf.truncate(n as usize);
    Ok(OsString::from_vec(buf))
}

pub fn fchdir(fd: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::fchdir(fd) }).map(drop)
}

/// The file system type (statfs f_type) of the file `fd` refers to.
pub fn fs_type(fd: c_int) -> Result<c_long, Errno> {
    // Larger than struct statfs64 on both targets (120 and 84 bytes).
    let mut buf = [0 as c_long; 32];
    Errno::check(unsafe { ffi::fstatfs64(fd, buf.as_mut_ptr()) })?;
    Ok(buf[0])
}
