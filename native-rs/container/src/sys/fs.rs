//! Files named relative to an open directory (the *at calls): what writing
//! below a directory without following symlinks on the way takes.

use super::consts::*;
use super::types::Timespec;
use super::{ffi, Errno};
use std::ffi::CString;
use std::os::raw::{c_int, c_uint, c_void};

/// A name as bytes: Linux names need not be UTF-8 (a container's `caf\xe9`).
fn name<N: AsRef<[u8]> + ?Sized>(n: &N) -> Result<CString, Errno> {
    CString::new(n.as_ref()).map_err(|_| super::errno::EINVAL)
}

/// An owned descriptor, closed on drop.
pub struct Fd(pub c_int);

impl Fd {
    /// `/proc/self/fd/N`: stat, chmod or read_dir of it reach this very
    /// inode (the kernel follows the magic link to it), wherever it is now.
    pub fn proc_path(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(format!("/proc/self/fd/{}", self.0))
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        super::fd::close(self.0);
    }
}

pub fn openat<P: AsRef<[u8]> + ?Sized>(dir: c_int, path: &P, flags: c_int, mode: c_uint) -> Result<Fd, Errno> {
    let p = name(path)?;
    Errno::check(unsafe { ffi::openat(dir, p.as_ptr(), flags | O_CLOEXEC, mode) }).map(Fd)
}

pub fn mkdirat<P: AsRef<[u8]> + ?Sized>(dir: c_int, path: &P, mode: c_uint) -> Result<(), Errno> {
    let p = name(path)?;
    Errno::check(unsafe { ffi::mkdirat(dir, p.as_ptr(), mode) }).map(drop)
}

pub fn unlinkat<P: AsRef<[u8]> + ?Sized>(dir: c_int, path: &P, flags: c_int) -> Result<(), Errno> {
    let p = name(path)?;
    Errno::check(unsafe { ffi::unlinkat(dir, p.as_ptr(), flags) }).map(drop)
}

pub fn symlinkat<T: AsRef<[u8]> + ?Sized, P: AsRef<[u8]> + ?Sized>(target: &T, dir: c_int, path: &P) -> Result<(), Errno> {
    let (t, p) = (name(target)?, name(path)?);
    Errno::check(unsafe { ffi::symlinkat(t.as_ptr(), dir, p.as_ptr()) }).map(drop)
}

/// rename(2) of `old` in `old_dir` (a symlink itself, never its target) to `new` in `new_dir`.
pub fn renameat<O: AsRef<[u8]> + ?Sized, N: AsRef<[u8]> + ?Sized>(old_dir: c_int, old: &O, new_dir: c_int, new: &N) -> Result<(), Errno> {
    let (o, n) = (name(old)?, name(new)?);
    Errno::check(unsafe { ffi::renameat(old_dir, o.as_ptr(), new_dir, n.as_ptr()) }).map(drop)
}

/// A hard link; never follows a symlink `old` (flags 0).
pub fn linkat<O: AsRef<[u8]> + ?Sized, N: AsRef<[u8]> + ?Sized>(old_dir: c_int, old: &O, new_dir: c_int, new: &N) -> Result<(), Errno> {
    let (o, n) = (name(old)?, name(new)?);
    Errno::check(unsafe { ffi::linkat(old_dir, o.as_ptr(), new_dir, n.as_ptr(), 0) }).map(drop)
}

pub fn mknodat<P: AsRef<[u8]> + ?Sized>(dir: c_int, path: &P, mode: u32, major: u32, minor: u32) -> Result<(), Errno> {
    let p = name(path)?;
    // glibc's makedev for a 64-bit dev_t.
    let dev = ((major as u64 & 0xfffff000) << 32)
        | ((major as u64 & 0xfff) << 8)
        | ((minor as u64 & 0xffffff00) << 12)
        | (minor as u64 & 0xff);
    Errno::check(unsafe { ffi::mknodat(dir, p.as_ptr(), mode, dev) }).map(drop)
}

/// Writes out the whole file system holding `dir` (syncfs(2)): one call for the thousands of files a layer unpack
/// made, where an fsync each would force a journal commit per file.
pub fn sync_file_system<P: AsRef<[u8]> + ?Sized>(dir: &P) -> Result<(), Errno> {
    let fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0)?;
    Errno::check(unsafe { ffi::syncfs(fd.0) }).map(drop)
}

/// The process's file mode creation mask (umask(2) cannot fail).
pub fn set_umask(mask: u32) {
    unsafe { ffi::umask(mask) };
}

pub fn fchmod(fd: c_int, mode: u32) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::fchmod(fd, mode) }).map(drop)
}

/// fchown(fd, uid, -1): a new owner, the group kept.
pub fn set_owner(fd: c_int, uid: u32) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::fchown(fd, uid, u32::MAX) }).map(drop)
}

/// chown of `path` in `dir` itself, never a symlink's target.
pub fn lchownat<P: AsRef<[u8]> + ?Sized>(dir: c_int, path: &P, uid: u32, gid: u32) -> Result<(), Errno> {
    let p = name(path)?;
    Errno::check(unsafe { ffi::fchownat(dir, p.as_ptr(), uid, gid, AT_SYMLINK_NOFOLLOW) }).map(drop)
}

/// Sets atime and mtime of `path` in `dir` (a symlink itself) to `secs`.
pub fn lutimesat<P: AsRef<[u8]> + ?Sized>(dir: c_int, path: &P, secs: i64) -> Result<(), Errno> {
    let p = name(path)?;
    let t = Timespec {
        tv_sec: secs as std::os::raw::c_long,
        tv_nsec: 0,
    };
    let times = [t, t];
    Errno::check(unsafe { ffi::utimensat(dir, p.as_ptr(), times.as_ptr(), AT_SYMLINK_NOFOLLOW) })
        .map(drop)
}

/// Sets extended attribute `attr` of the open file `fd` to `value`.
pub fn fsetxattr(fd: c_int, attr: &str, value: &[u8]) -> Result<(), Errno> {
    let a = name(attr)?;
    Errno::check(unsafe { ffi::fsetxattr(fd, a.as_ptr(), value.as_ptr() as *const c_void, value.len(), 0) }).map(drop)
}

/// The value of extended attribute `attr` of `path` (not following a
/// symlink), or None when it has none (or the file system has no xattrs,
/// or the caller may not read it).
pub fn lgetxattr(path: &std::path::Path, attr: &str) -> Option<Vec<u8>> {
    let p = super::cpath(path).ok()?;
    let a = name(attr).ok()?;
    sized(|buf, len| unsafe { ffi::lgetxattr(p.as_ptr(), a.as_ptr(), buf, len) })
}

/// The names of `path`'s extended attributes (not following a symlink):
/// none when the file system has no xattrs. Names are bytes, as the kernel's.
pub fn llistxattr(path: &std::path::Path) -> Vec<Vec<u8>> {
    let p = match super::cpath(path) {
        Ok(p) => p,
        Err(_) => return Vec::new(),
    };
    let list = sized(|buf, len| unsafe { ffi::llistxattr(p.as_ptr(), buf as *mut std::os::raw::c_char, len) });
    list.unwrap_or_default().split(|b| *b == 0).filter(|n| !n.is_empty()).map(|n| n.to_vec()).collect()
}

/// [`lgetxattr`] of the file open on `fd` (not an O_PATH one: EBADF, so None).
pub fn fgetxattr(fd: c_int, attr: &str) -> Option<Vec<u8>> {
    let a = name(attr).ok()?;
    sized(|buf, len| unsafe { ffi::fgetxattr(fd, a.as_ptr(), buf, len) })
}

/// [`llistxattr`] of the file open on `fd`.
pub fn flistxattr(fd: c_int) -> Vec<Vec<u8>> {
    let list = sized(|buf, len| unsafe { ffi::flistxattr(fd, buf as *mut std::os::raw::c_char, len) });
    list.unwrap_or_default().split(|b| *b == 0).filter(|n| !n.is_empty()).map(|n| n.to_vec()).collect()
}

/// The names in the directory open on `fd` (O_RDONLY|O_DIRECTORY), but `.`
/// and `..`, in the kernel's order: getdents64(2), as std's read_dir wants a
/// path, and a path below a deep tree can be longer than PATH_MAX.
pub fn dir_names(fd: c_int) -> Result<Vec<Vec<u8>>, Errno> {
    let mut names = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = unsafe { ffi::syscall(SYS_GETDENTS64, fd as std::os::raw::c_long, buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(Errno::last());
        }
        if n == 0 {
            return Ok(names);
        }
        // struct linux_dirent64: u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, then the NUL-terminated name.
        let mut at = 0usize;
        while at < n as usize {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let raw = &buf[at + 19..at + reclen];
            let name = &raw[..raw.iter().position(|b| *b == 0).unwrap_or(raw.len())];
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
            at += reclen;
        }
    }
}

/// A value of the size the call reports: asked for with size 0 first, again
/// if it grew in between (ERANGE).
fn sized(call: impl Fn(*mut c_void, usize) -> isize) -> Option<Vec<u8>> {
    for _ in 0..4 {
        let n = call(std::ptr::null_mut(), 0);
        if n <= 0 {
            return if n == 0 { Some(Vec::new()) } else { None };
        }
        let mut buf = vec![0u8; n as usize];
        let got = call(buf.as_mut_ptr() as *mut c_void, buf.len());
        if got >= 0 {
            buf.truncate(got as usize);
            return Some(buf);
        }
        if Errno::last() != super::errno::ERANGE {
            return None;
        }
    }
    None
}
