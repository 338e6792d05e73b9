//! mount(2), umount2(2), pivot_root(2), statvfs(3).

use super::consts::*;
use super::errno::EINVAL;
use super::{cpath, cstr, ffi, Errno};
use std::ffi::CString;
use super::types::MountAttr;
use std::os::raw::{c_char, c_int, c_long, c_ulong, c_void};
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

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount tree at `path`
/// (just its top mount unless `recursive`), close-on-exec.
pub fn open_tree_clone(path: &Path, recursive: bool) -> Result<c_int, Errno> {
    let p = cpath(path)?;
    let flags = OPEN_TREE_CLONE | O_CLOEXEC | if recursive { AT_RECURSIVE } else { 0 };
    let ret = unsafe { ffi::syscall(SYS_OPEN_TREE, AT_FDCWD as c_long, p.as_ptr(), flags as c_long) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(ret as c_int)
}

/// A new file system of type `fs_type` (fsopen, fsconfig's string options,
/// its creation), mounted nowhere: the detached mount's descriptor
/// (fsmount, close-on-exec, with the MOUNT_ATTR_* `attrs`), Linux 5.2+.
pub fn detached_fs(fs_type: &str, options: &[(&str, &str)], attrs: u64) -> Result<c_int, Errno> {
    let name = CString::new(fs_type).map_err(|_| EINVAL)?;
    let ctx = Errno::check(unsafe { ffi::syscall(SYS_FSOPEN, name.as_ptr(), FSOPEN_CLOEXEC as c_long) } as c_int)?;
    let result = (|| {
        for (key, value) in options {
            let (k, v) = (CString::new(*key).map_err(|_| EINVAL)?, CString::new(*value).map_err(|_| EINVAL)?);
            let set = FSCONFIG_SET_STRING as c_long;
            Errno::check(unsafe { ffi::syscall(SYS_FSCONFIG, ctx as c_long, set, k.as_ptr(), v.as_ptr(), 0 as c_long) } as c_int)?;
        }
        let create = FSCONFIG_CMD_CREATE as c_long;
        let none = ptr::null::<c_char>();
        Errno::check(unsafe { ffi::syscall(SYS_FSCONFIG, ctx as c_long, create, none, none, 0 as c_long) } as c_int)?;
        Errno::check(unsafe { ffi::syscall(SYS_FSMOUNT, ctx as c_long, FSMOUNT_CLOEXEC as c_long, attrs as c_long) } as c_int)
    })();
    super::fd::close(ctx);
    result
}

/// mount_setattr(2) on the detached mount `fd`: `set` attributes, with
/// `userns` for MOUNT_ATTR_IDMAP (Linux 5.12+).
pub fn setattr(fd: c_int, set: u64, userns: Option<c_int>, recursive: bool) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.map_or(0, |u| u as u64),
    };
    let empty = b"\0";
    let flags = AT_EMPTY_PATH | if recursive { AT_RECURSIVE } else { 0 };
    let ret = unsafe {
        ffi::syscall(
            SYS_MOUNT_SETATTR,
            fd as c_long,
            empty.as_ptr(),
            flags as c_long,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::check(ret as c_int).map(drop)
}

/// move_mount(2) of the detached mount `from` onto the directory `to` (an
/// O_PATH descriptor).
pub fn move_mount(from: c_int, to: c_int) -> Result<(), Errno> {
    let empty = b"\0";
    let ret = unsafe {
        ffi::syscall(
            SYS_MOVE_MOUNT,
            from as c_long,
            empty.as_ptr(),
            to as c_long,
            empty.as_ptr(),
            (MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) as c_long,
        )
    };
    Errno::check(ret as c_int).map(drop)
}
