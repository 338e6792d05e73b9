//! Children of a worker thread outlive its event loop: libuv reaped them, and
//! once a worker has ended nobody does, so each one it left running (the warm
//! helper) became a zombie of the whole process until it exited.
//!
//! JS: `reapAtExit(pid)`: when this Node environment (the worker) is torn
//! down, child `pid` is killed and reaped, if it is still our unreaped child
//! (so never a process that reused its number); `forgetAtExit(pid)` undoes it.

use crate::napi::ffi::{napi_add_env_cleanup_hook, napi_callback_info, napi_env, napi_remove_env_cleanup_hook, napi_value};
use crate::napi::{guard, JsError};
use container::sys::consts::SIGKILL;
use container::sys::process;
use std::os::raw::c_void;

unsafe extern "C" fn at_exit(arg: *mut c_void) {
    let pid = arg as usize as i32;
    // Ok(None): still running and ours; Ok(Some): it had ended and is reaped now; Err (ECHILD): not ours any more.
    if let Ok(None) = process::try_wait(pid) {
        let _ = process::kill(pid, SIGKILL);
        let _ = process::wait(pid);
    }
}

fn pid_arg(env: crate::napi::Env, info: napi_callback_info) -> Result<*mut c_void, JsError> {
    let args = env.args(info, 1)?;
    let pid = env.i32_arg(&args, 0, "pid")?;
    if pid <= 0 {
        return Err(JsError::new("ERR_OUT_OF_RANGE", format!("pid must be positive, got {pid}")));
    }
    Ok(pid as usize as *mut c_void)
}

pub unsafe extern "C" fn reap_at_exit_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let arg = pid_arg(env, info)?;
        crate::napi::check(napi_add_env_cleanup_hook(env.0, Some(at_exit), arg), "napi_add_env_cleanup_hook")?;
        env.undefined()
    })
}

pub unsafe extern "C" fn forget_at_exit_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let arg = pid_arg(env, info)?;
        crate::napi::check(napi_remove_env_cleanup_hook(env.0, Some(at_exit), arg), "napi_remove_env_cleanup_hook")?;
        env.undefined()
    })
}
