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
use container::sys::consts::{LOCK_EX, LOCK_NB};
use container::sys::errno::EAGAIN;
use container::sys::fd;

/// tryLock(fd)
pub unsafe extern "C" fn try_lock_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let fd = env.i32_arg(&args, 0, "fd")?;
        // (EINTR is retried by fd::flock; EWOULDBLOCK is EAGAIN.)
        match fd::flock(fd, LOCK_EX | LOCK_NB) {
            Ok(()) => env.int(1),
            Err(EAGAIN) => env.int(0),
            Err(e) => Err(JsError::os(e.into(), "locking the container")),
        }
    })
}
