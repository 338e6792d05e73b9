//! `mknod(2)` for layer unpacking as root: overlayfs whiteouts (character
//! devices 0/0) and an image's device nodes and FIFOs. Node has no mknod;
//! spawning coreutils' `mknod` cost a process per entry, which a layer of
//! many deletions pays thousands of times.
//!
//! JS: `mknod(path: string, mode: number, major: number, minor: number): void`,
//! `mode` with the file type bits (S_IFCHR, S_IFBLK or S_IFIFO); the
//! permission bits are masked by the umask as the syscall does, so the
//! caller sets the exact mode afterwards. Errors are thrown with the errno
//! name as `code` (EEXIST, EPERM, ...).

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use container::sys::consts::AT_FDCWD;
use container::sys::fs::mknodat;

const S_IFMT: u32 = 0o170000;
const TYPES: [u32; 3] = [0o020000, 0o060000, 0o010000]; // S_IFCHR, S_IFBLK, S_IFIFO

fn number(env: crate::napi::Env, args: &[napi_value], index: usize, name: &str) -> Result<u32, JsError> {
    let v = env.i32_arg(args, index, name)?;
    u32::try_from(v).map_err(|_| JsError::new("ERR_OUT_OF_RANGE", format!("{name} must not be negative, got {v}")))
}

/// mknod(path, mode, major, minor)
pub unsafe extern "C" fn mknod_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 4)?;
        // Bytes (a Buffer, or a string's UTF-8): a layer's names need not be UTF-8.
        let path = env.bytes_arg(&args, 0, "path")?;
        let shown = String::from_utf8_lossy(&path).into_owned();
        let mode = number(env, &args, 1, "mode")?;
        let major = number(env, &args, 2, "major")?;
        let minor = number(env, &args, 3, "minor")?;
        // Only the node types a layer may hold: never a regular file, dir or socket.
        if !TYPES.contains(&(mode & S_IFMT)) {
            return Err(JsError::new("ERR_INVALID_ARG", format!("mknod of {shown}: mode {mode:o} is not a character device, block device or FIFO")));
        }
        mknodat(AT_FDCWD, &path[..], mode, major, minor)
            .map_err(|e| JsError::os(std::io::Error::from_raw_os_error(e.0), &format!("mknod {shown}")))?;
        env.undefined()
    })
}
