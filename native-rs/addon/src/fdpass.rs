//! The native backend's side of the warm helper's control socket
//! (native-rs/runtime/src/serve): socket pairs for its channels and stdio,
//! and requests sent with descriptors attached (container::sys::fdpass,
//! which the helper receives with).
//!
//! JS: `socketPair(): [number, number]` (close-on-exec, both owned by the
//! caller); `sendFds(sock, text, ...fds)`: the whole text, the fds attached
//! to its first byte (a full socket is waited for, 2 s at most); `closeFd(fd)`: close(2) of a descriptor
//! the addon gave (`fs.closeSync` of one warns in a worker thread: "closed but not opened in unmanaged mode").

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use container::sys::fdpass;

fn os(e: container::sys::Errno, what: &str) -> JsError {
    JsError::os(std::io::Error::from_raw_os_error(e.0), what)
}

pub unsafe extern "C" fn socket_pair_js(env: napi_env, _info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let (a, b) = fdpass::socket_pair().map_err(|e| os(e, "creating a socket pair"))?;
        let items = [env.int(a)?, env.int(b)?];
        env.array(&items)
    })
}

pub unsafe extern "C" fn send_fds_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 2 + fdpass::MAX_FDS)?;
        let sock = env.i32_arg(&args, 0, "sock")?;
        let text = env.string_arg(&args, 1, "text")?;
        let mut fds = Vec::new();
        for i in 2..args.len() {
            fds.push(env.i32_arg(&args, i, "fd")?);
        }
        fdpass::send_all(sock, text.as_bytes(), &fds, 2000).map_err(|e| os(e, "sending to the warm helper"))?;
        env.undefined()
    })
}

pub unsafe extern "C" fn close_fd_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let fd = env.i32_arg(&args, 0, "fd")?;
        container::sys::fd::close(fd);
        env.undefined()
    })
}
