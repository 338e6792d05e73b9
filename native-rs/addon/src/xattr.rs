//! Extended attributes for layer unpacking: Node has no xattr API.
//! Rootless overlay whiteouts are xattrs (`user.overlay.whiteout` on an empty
//! file, `user.overlay.opaque` on its directory, kernel >= 6.7), and layers
//! carry xattrs of their own (pax `SCHILY.xattr.*`).
//!
//! JS: `lsetxattr(path: string, name: string, value: string): void`, throwing
//! an Error whose `code` is the errno name (EPERM, ENOTSUP, ENOSPC, ...).
//! `l`: a symlink itself is never followed.

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};

extern "C" {
    fn lsetxattr(path: *const c_char, name: *const c_char, value: *const c_void, size: usize, flags: c_int) -> c_int;
}

fn c_string(s: String, name: &str) -> Result<CString, JsError> {
    CString::new(s).map_err(|_| JsError::new("ERR_INVALID_ARG", format!("argument {name} contains a NUL byte")))
}

/// lsetxattr(path, name, value)
pub unsafe extern "C" fn lsetxattr_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let path = env.string_arg(&args, 0, "path")?;
        let name = env.string_arg(&args, 1, "name")?;
        let value = env.string_arg(&args, 2, "value")?;
        let what = format!("setxattr {name} on {path}");
        let (cpath, cname) = (c_string(path, "path")?, c_string(name, "name")?);
        let ret = lsetxattr(cpath.as_ptr(), cname.as_ptr(), value.as_ptr() as *const c_void, value.len(), 0);
        if ret != 0 {
            return Err(JsError::os(std::io::Error::last_os_error(), &what));
        }
        env.undefined()
    })
}
