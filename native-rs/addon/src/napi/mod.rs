//! A small safe layer over the hand-declared Node-API: argument access, value
//! creation, and `export`, which wraps every callback in `catch_unwind` (a
//! panic unwinding across `extern "C"` would abort Node) and turns `Err` into a
//! thrown JS `Error` carrying a code.

pub mod ffi;

use ffi::*;
use std::ffi::CString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// An error to throw into JS: `code` becomes `err.code` (e.g. "EACCES").
pub struct JsError {
    pub code: String,
    pub message: String,
}

impl JsError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        JsError { code: code.to_string(), message: message.into() }
    }

    /// An OS error as Node reports them: `code` is the errno name.
    pub fn os(err: std::io::Error, what: &str) -> Self {
        let code = match err.raw_os_error() {
            Some(1) => "EPERM",
            Some(2) => "ENOENT",
            Some(7) => "E2BIG",
            Some(9) => "EBADF",
            Some(12) => "ENOMEM",
            Some(13) => "EACCES",
            Some(17) => "EEXIST",
            Some(18) => "EXDEV",
            Some(20) => "ENOTDIR",
            Some(21) => "EISDIR",
            Some(22) => "EINVAL",
            Some(24) => "EMFILE",
            Some(25) => "ENOTTY",
            Some(28) => "ENOSPC",
            Some(30) => "EROFS",
            Some(34) => "ERANGE",
            Some(39) => "ENOTEMPTY",
            Some(40) => "ELOOP",
            Some(61) => "ENODATA",
            Some(95) => "ENOTSUP",
            Some(122) => "EDQUOT",
            _ => "EIO",
        };
        JsError::new(code, format!("{what}: {err}"))
    }
}

pub type JsResult = Result<napi_value, JsError>;

#[derive(Clone, Copy)]
pub struct Env(pub napi_env);

pub fn check(status: napi_status, what: &str) -> Result<(), JsError> {
    if status == NAPI_OK {
        Ok(())
    } else {
        Err(JsError::new("ENAPI", format!("{what} failed with napi_status {status}")))
    }
}

impl Env {
    pub fn args(self, info: napi_callback_info, max: usize) -> Result<Vec<napi_value>, JsError> {
        let mut argc = max;
        let mut argv = vec![ptr::null_mut(); max];
        check(
            unsafe { napi_get_cb_info(self.0, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) },
            "napi_get_cb_info",
        )?;
        argv.truncate(argc.min(max));
        Ok(argv)
    }

    pub fn i32_arg(self, args: &[napi_value], index: usize, name: &str) -> Result<i32, JsError> {
        let value = *args
            .get(index)
            .ok_or_else(|| JsError::new("ERR_INVALID_ARG", format!("missing argument {name}")))?;
        let mut out = 0i32;
        let status = unsafe { napi_get_value_int32(self.0, value, &mut out) };
        if status != NAPI_OK {
            return Err(JsError::new("ERR_INVALID_ARG", format!("argument {name} must be a number")));
        }
        Ok(out)
    }

    /// A Buffer's bytes as they are, or a string's UTF-8.
    pub fn bytes_arg(self, args: &[napi_value], index: usize, name: &str) -> Result<Vec<u8>, JsError> {
        let value = *args
            .get(index)
            .ok_or_else(|| JsError::new("ERR_INVALID_ARG", format!("missing argument {name}")))?;
        let mut is_buffer = false;
        if unsafe { napi_is_buffer(self.0, value, &mut is_buffer) } != NAPI_OK || !is_buffer {
            return self.string_arg(args, index, name).map(String::into_bytes);
        }
        let mut data: *mut std::os::raw::c_void = ptr::null_mut();
        let mut len = 0usize;
        check(unsafe { napi_get_buffer_info(self.0, value, &mut data, &mut len) }, "napi_get_buffer_info")?;
        if len == 0 {
            return Ok(Vec::new());
        }
        Ok(unsafe { std::slice::from_raw_parts(data as *const u8, len) }.to_vec())
    }

    pub fn string_arg(self, args: &[napi_value], index: usize, name: &str) -> Result<String, JsError> {
        let value = *args
            .get(index)
            .ok_or_else(|| JsError::new("ERR_INVALID_ARG", format!("missing argument {name}")))?;
        let bad = || JsError::new("ERR_INVALID_ARG", format!("argument {name} must be a string"));
        let mut len = 0usize;
        if unsafe { napi_get_value_string_utf8(self.0, value, ptr::null_mut(), 0, &mut len) } != NAPI_OK {
            return Err(bad());
        }
        let mut buf = vec![0u8; len + 1];
        let mut written = 0usize;
        if unsafe { napi_get_value_string_utf8(self.0, value, buf.as_mut_ptr() as *mut _, buf.len(), &mut written) } != NAPI_OK {
            return Err(bad());
        }
        buf.truncate(written);
        String::from_utf8(buf).map_err(|_| bad())
    }

    pub fn int(self, v: i32) -> JsResult {
        let mut out = ptr::null_mut();
        check(unsafe { napi_create_int32(self.0, v, &mut out) }, "napi_create_int32")?;
        Ok(out)
    }

    pub fn string(self, s: &str) -> JsResult {
        let mut out = ptr::null_mut();
        check(
            unsafe { napi_create_string_utf8(self.0, s.as_ptr() as *const _, s.len(), &mut out) },
            "napi_create_string_utf8",
        )?;
        Ok(out)
    }

    pub fn undefined(self) -> JsResult {
        let mut out = ptr::null_mut();
        check(unsafe { napi_get_undefined(self.0, &mut out) }, "napi_get_undefined")?;
        Ok(out)
    }

    pub fn null(self) -> JsResult {
        let mut out = ptr::null_mut();
        check(unsafe { napi_get_null(self.0, &mut out) }, "napi_get_null")?;
        Ok(out)
    }

    /// A Node Buffer holding a copy of `bytes`.
    pub fn buffer(self, bytes: &[u8]) -> JsResult {
        let mut out = ptr::null_mut();
        let mut data = ptr::null_mut();
        check(
            unsafe { napi_create_buffer_copy(self.0, bytes.len(), bytes.as_ptr() as *const _, &mut data, &mut out) },
            "napi_create_buffer_copy",
        )?;
        Ok(out)
    }

    pub fn array(self, items: &[napi_value]) -> JsResult {
        let mut out = ptr::null_mut();
        check(unsafe { napi_create_array_with_length(self.0, items.len(), &mut out) }, "napi_create_array_with_length")?;
        for (i, item) in items.iter().enumerate() {
            check(unsafe { napi_set_element(self.0, out, i as u32, *item) }, "napi_set_element")?;
        }
        Ok(out)
    }

    pub fn object(self, fields: &[(&str, napi_value)]) -> JsResult {
        let mut out = ptr::null_mut();
        check(unsafe { napi_create_object(self.0, &mut out) }, "napi_create_object")?;
        for (name, value) in fields {
            self.set(out, name, *value)?;
        }
        Ok(out)
    }

    pub fn set(self, object: napi_value, name: &str, value: napi_value) -> Result<(), JsError> {
        let cname = CString::new(name).map_err(|_| JsError::new("ENAPI", "property name has a NUL"))?;
        check(unsafe { napi_set_named_property(self.0, object, cname.as_ptr(), value) }, "napi_set_named_property")
    }

    fn throw(self, err: &JsError) {
        let mut pending = false;
        unsafe { napi_is_exception_pending(self.0, &mut pending) };
        if pending {
            return;
        }
        let code = CString::new(err.code.replace('\0', "")).unwrap_or_default();
        let msg = CString::new(err.message.replace('\0', "")).unwrap_or_default();
        unsafe { napi_throw_error(self.0, code.as_ptr(), msg.as_ptr()) };
    }
}

/// Runs a callback body with panics contained and errors thrown into JS.
pub fn guard(env: napi_env, body: impl FnOnce(Env) -> JsResult) -> napi_value {
    let env = Env(env);
    match catch_unwind(AssertUnwindSafe(|| body(env))) {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => {
            env.throw(&err);
            ptr::null_mut()
        }
        Err(_) => {
            env.throw(&JsError::new("EPANIC", "tsbox native addon panicked (this is a bug)"));
            ptr::null_mut()
        }
    }
}

/// Adds `name` to `exports` as a JS function backed by `cb`.
pub fn export(env: Env, exports: napi_value, name: &str, cb: napi_callback) -> Result<(), JsError> {
    let mut func = ptr::null_mut();
    check(
        unsafe { napi_create_function(env.0, name.as_ptr() as *const _, name.len(), cb, ptr::null_mut(), &mut func) },
        "napi_create_function",
    )?;
    env.set(exports, name, func)
}
