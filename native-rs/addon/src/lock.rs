//! `flock(2)` for the container lock (`<bundle>/lock`, src/containers/lock.ts):
//! Node has no file locks, and the monitor (native-rs/runtime) takes the same
//! lock. Never blocking: Node's thread must not wait on another process, so
//! JS retries on a timer.
//!
//! JS: `tryLock(fd: number): number`, 1 when the exclusive lock is now held
//! through `fd`, 0 when another open file holds it; errors are thrown with the
//! errno name as `code`.

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use std::os::raw::c_int;

extern "C" {
    fn flock(fd: c_int, operation: c_int) -> c_int;
}

const LOCK_EX: c_int = 2;
const LOCK_NB: c_int = 4;
const EINTR: i32 = 4;
const EWOULDBLOCK: i32 = 11;

/// tryLock(fd)
pub unsafe extern "C" fn try_lock_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let fd = env.i32_arg(&args, 0, "fd")?;
        loop {
            if unsafe { flock(fd, LOCK_EX | LOCK_NB) } == 0 {
                return env.int(1);
            }
            let err = std::io::Error::last_os_error();
            match err.raw_os_error() {
                Some(EINTR) => continue,
                Some(EWOULDBLOCK) => return env.int(0),
                _ => return Err(JsError::os(err, "locking the container")),
            }
        }
    })
}
