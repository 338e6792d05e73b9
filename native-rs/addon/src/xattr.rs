//! Extended attributes for layer unpacking: Node has no xattr API.
//! Rootless overlay whiteouts are xattrs (`user.overlay.whiteout` on an empty
//! file, `user.overlay.opaque` on its directory, kernel >= 6.7), and layers
//! carry xattrs of their own (pax `SCHILY.xattr.*`).
//!
//! The vm backend's 9p server reads them back, to show the guest's overlayfs
//! the whiteouts and opaque dirs of rootless-unpacked layers.
//!
//! JS: `lsetxattr(path: string | Buffer, name: string, value: Buffer | string): void` (a
//! Buffer's bytes as they are: capabilities and ACLs are binary; a path as a
//! Buffer: a file's name need not be UTF-8),
//! `lgetxattr(path: string | Buffer, name: string): Buffer | null` (null: no such
//! attribute), `llistxattr(path: string | Buffer): string[]`; errors are thrown as an
//! Error whose `code` is the errno name (EPERM, ENOTSUP, ENOSPC, ...).
//! `l`: a symlink itself is never followed.

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};

extern "C" {
    fn lsetxattr(path: *const c_char, name: *const c_char, value: *const c_void, size: usize, flags: c_int) -> c_int;
    fn lgetxattr(path: *const c_char, name: *const c_char, value: *mut c_void, size: usize) -> isize;
    fn llistxattr(path: *const c_char, list: *mut c_char, size: usize) -> isize;
}

const ENODATA: i32 = 61;
const ERANGE: i32 = 34;

/// Calls a get/list-style xattr function until the buffer is large enough
/// (the value may grow between the size query and the read).
fn read_sized(mut call: impl FnMut(*mut c_void, usize) -> isize) -> Result<Option<Vec<u8>>, std::io::Error> {
    loop {
        let size = call(std::ptr::null_mut(), 0);
        if size < 0 {
            let err = std::io::Error::last_os_error();
            return if err.raw_os_error() == Some(ENODATA) { Ok(None) } else { Err(err) };
        }
        let mut buf = vec![0u8; size as usize];
        let got = call(buf.as_mut_ptr() as *mut c_void, buf.len());
        if got >= 0 {
            buf.truncate(got as usize);
            return Ok(Some(buf));
        }
        let err = std::io::Error::last_os_error();
        match err.raw_os_error() {
            Some(ERANGE) => continue,
            Some(ENODATA) => return Ok(None),
            _ => return Err(err),
        }
    }
}

fn c_string(s: impl Into<Vec<u8>>, name: &str) -> Result<CString, JsError> {
    CString::new(s).map_err(|_| JsError::new("ERR_INVALID_ARG", format!("argument {name} contains a NUL byte")))
}

/// lsetxattr(path, name, value)
pub unsafe extern "C" fn lsetxattr_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let path = env.bytes_arg(&args, 0, "path")?;
        let name = env.string_arg(&args, 1, "name")?;
        let value = env.bytes_arg(&args, 2, "value")?;
        let what = format!("setxattr {name} on {}", String::from_utf8_lossy(&path));
        let (cpath, cname) = (c_string(path, "path")?, c_string(name, "name")?);
        let ret = lsetxattr(cpath.as_ptr(), cname.as_ptr(), value.as_ptr() as *const c_void, value.len(), 0);
        if ret != 0 {
            return Err(JsError::os(std::io::Error::last_os_error(), &what));
        }
        env.undefined()
    })
}

/// lgetxattr(path, name) -> Buffer | null
pub unsafe extern "C" fn lgetxattr_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 2)?;
        let path = env.bytes_arg(&args, 0, "path")?;
        let name = env.string_arg(&args, 1, "name")?;
        let what = format!("getxattr {name} on {}", String::from_utf8_lossy(&path));
        let (cpath, cname) = (c_string(path, "path")?, c_string(name, "name")?);
        match read_sized(|buf, size| lgetxattr(cpath.as_ptr(), cname.as_ptr(), buf, size)) {
            Ok(Some(value)) => env.buffer(&value),
            Ok(None) => env.null(),
            Err(err) => Err(JsError::os(err, &what)),
        }
    })
}

/// llistxattr(path) -> string[]
pub unsafe extern "C" fn llistxattr_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let path = env.bytes_arg(&args, 0, "path")?;
        let what = format!("listxattr on {}", String::from_utf8_lossy(&path));
        let cpath = c_string(path, "path")?;
        let list = read_sized(|buf, size| llistxattr(cpath.as_ptr(), buf as *mut c_char, size)).map_err(|err| JsError::os(err, &what))?;
        let mut names = Vec::new();
        for name in list.unwrap_or_default().split(|b| *b == 0).filter(|n| !n.is_empty()) {
            names.push(env.string(&String::from_utf8_lossy(name))?);
        }
        env.array(&names)
    })
}
