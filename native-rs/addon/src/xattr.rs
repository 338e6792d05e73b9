//! Extended attributes for layer unpacking: Node has no xattr API.
//! Rootless overlay whiteouts are xattrs (`user.overlay.whiteout` on an empty
//! file, `user.overlay.opaque` on its directory, kernel >= 6.7), and layers
//! carry xattrs of their own (pax `SCHILY.xattr.*`).
//!
//! JS: `lsetxattr(path: string, name: string, value: string): void`, throwing
//! an Error whose `code` is the errno name (EPERM, ENOTSUP, ENOSPC, ...).
//! `l`: a symlink itself is never followed.

use crate::napi::ffi::{napi_callback_info, napi_env, napi_status, napi_value, NAPI_OK};
use crate::napi::{guard, Env, JsError};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;

extern "C" {
    fn napi_get_value_string_utf8(env: napi_env, value: napi_value, buf: *mut c_char, bufsize: usize, result: *mut usize) -> napi_status;
    fn lsetxattr(path: *const c_char, name: *const c_char, value: *const c_void, size: usize, flags: c_int) -> c_int;
}

fn string_arg(env: Env, args: &[napi_value], index: usize, name: &str) -> Result<String, JsError> {
    let value = *args.get(index).ok_or_else(|| JsError::new("ERR_INVALID_ARG", format!("missing argument {name}")))?;
    let bad = || JsError::new("ERR_INVALID_ARG", format!("argument {name} must be a string"));
    let mut len = 0usize;
    if unsafe { napi_get_value_string_utf8(env.0, value, ptr::null_mut(), 0, &mut len) } != NAPI_OK {
        return Err(bad());
    }
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    if unsafe { napi_get_value_string_utf8(env.0, value, buf.as_mut_ptr() as *mut c_char, buf.len(), &mut written) } != NAPI_OK {
        return Err(bad());
    }
    buf.truncate(written);
    String::from_utf8(buf).map_err(|_| bad())
}

fn c_string(s: String, name: &str) -> Result<CString, JsError> {
    CString::new(s).map_err(|_| JsError::new("ERR_INVALID_ARG", format!("argument {name} contains a NUL byte")))
}

fn errno_error(err: std::io::Error, what: &str) -> JsError {
    let code = match err.raw_os_error() {
        Some(1) => "EPERM",
        Some(2) => "ENOENT",
        Some(7) => "E2BIG",
        Some(13) => "EACCES",
        Some(20) => "ENOTDIR",
        Some(28) => "ENOSPC",
        Some(30) => "EROFS",
        Some(34) => "ERANGE",
        Some(61) => "ENODATA",
        Some(95) => "ENOTSUP",
        Some(122) => "EDQUOT",
        _ => "EIO",
    };
    JsError::new(code, format!("{what}: {err}"))
}

/// lsetxattr(path, name, value)
pub unsafe extern "C" fn lsetxattr_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let path = string_arg(env, &args, 0, "path")?;
        let name = string_arg(env, &args, 1, "name")?;
        let value = string_arg(env, &args, 2, "value")?;
        let what = format!("setxattr {name} on {path}");
        let (cpath, cname) = (c_string(path, "path")?, c_string(name, "name")?);
        let ret = lsetxattr(cpath.as_ptr(), cname.as_ptr(), value.as_ptr() as *const c_void, value.len(), 0);
        if ret != 0 {
            return Err(errno_error(std::io::Error::last_os_error(), &what));
        }
        env.undefined()
    })
}
