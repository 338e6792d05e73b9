//! Whether a file system says each directory entry's type in readdir (`d_type`). overlayfs needs it to tell a
//! whiteout from a file while it merges directories: without it (ext4 made `-O ^filetype`, XFS `ftype=0`) a
//! container's `rm -rf` of an image directory fails "Directory not empty" (docker's overlay2 refuses such a
//! backing file system for the same reason). Node cannot tell: its readdir quietly stats an entry of unknown type.
//!
//! JS: `direntTypes(dir: string | Buffer): number`, 1 when the entries of `dir` carry their type, 0 when any is
//! DT_UNKNOWN; errors are thrown with the errno name as `code`.

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use container::sys::consts::{AT_FDCWD, O_DIRECTORY, O_RDONLY};
use container::sys::errno::Errno;
use container::sys::ffi::syscall;
use container::sys::fs::openat;
use std::os::raw::c_long;

#[cfg(target_arch = "x86_64")]
const SYS_GETDENTS64: c_long = 217;
#[cfg(target_arch = "x86")]
const SYS_GETDENTS64: c_long = 220;
#[cfg(target_arch = "aarch64")]
const SYS_GETDENTS64: c_long = 61;
const DT_UNKNOWN: u8 = 0;

/// True when the first entries of `dir` ("." and ".." at least) have a type.
fn types_known(dir: &[u8]) -> Result<bool, Errno> {
    let fd = openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY, 0)?;
    let mut buf = [0u8; 4096];
    let n = unsafe { syscall(SYS_GETDENTS64, fd.0, buf.as_mut_ptr(), buf.len()) };
    if n < 0 {
        return Err(Errno::last());
    }
    // struct linux_dirent64: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name.
    let (n, mut at) = (n as usize, 0);
    while at + 19 <= n {
        if buf[at + 18] == DT_UNKNOWN {
            return Ok(false);
        }
        let len = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
        if len == 0 {
            break;
        }
        at += len;
    }
    Ok(true)
}

/// direntTypes(dir)
pub unsafe extern "C" fn dirent_types_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let dir = env.bytes_arg(&args, 0, "dir")?;
        let known = types_known(&dir).map_err(|e| {
            JsError::os(std::io::Error::from_raw_os_error(e.0), &format!("readdir {}", String::from_utf8_lossy(&dir)))
        })?;
        env.int(i32::from(known))
    })
}
