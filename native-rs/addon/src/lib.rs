//! tsbox-native: the Node addon. A thin N-API adapter; the container work is
//! done by the `tsbox-runtime` helper built from the same `container` crate
//! (see docs/architecture.md for why a helper process).

mod dirent;
mod fdpass;
mod handoff;
mod lock;
mod mknod;
mod napi;
mod old_image;
mod pty;
mod reap;
mod replay;
mod syncfs;
mod xattr;

use napi::ffi::{napi_callback_info, napi_env, napi_value};
use napi::{export, guard, Env, JsError};

fn dimension(env: Env, args: &[napi_value], index: usize, name: &str) -> Result<u16, JsError> {
    let v = env.i32_arg(args, index, name)?;
    u16::try_from(v).map_err(|_| JsError::new("ERR_OUT_OF_RANGE", format!("{name} must be 0..65535, got {v}")))
}

unsafe extern "C" fn version(env: napi_env, _info: napi_callback_info) -> napi_value {
    guard(env, |env| env.string(env!("CARGO_PKG_VERSION")))
}

/// inInitialUserNs() -> 1 | 0: whether root here is the host's root (container::host::in_initial_user_ns).
unsafe extern "C" fn in_initial_user_ns(env: napi_env, _info: napi_callback_info) -> napi_value {
    guard(env, |env| env.int(i32::from(container::host::in_initial_user_ns())))
}

/// ownsNetworkNs() -> 1 | 0: whether root here may make bridges in its network namespace (container::host::owns_network_ns).
unsafe extern "C" fn owns_network_ns(env: napi_env, _info: napi_callback_info) -> napi_value {
    guard(env, |env| env.int(i32::from(container::host::owns_network_ns())))
}

/// openPtyIn(root, cols, rows) -> { master, slave }: of the devpts under `root`.
unsafe extern "C" fn open_pty_in(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let root = env.string_arg(&args, 0, "root")?;
        let cols = dimension(env, &args, 1, "cols")?;
        let rows = dimension(env, &args, 2, "rows")?;
        let pty = pty::open_pty_in(&root, cols, rows).map_err(|e| JsError::os(e, "opening a pty in the container"))?;
        let master = env.int(pty.master)?;
        let slave = env.int(pty.slave)?;
        env.object(&[("master", master), ("slave", slave)])
    })
}

/// openPty(cols, rows) -> { master, slave }
unsafe extern "C" fn open_pty(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 2)?;
        let cols = dimension(env, &args, 0, "cols")?;
        let rows = dimension(env, &args, 1, "rows")?;
        let pty = pty::open_pty(cols, rows).map_err(|e| JsError::os(e, "opening a pty"))?;
        let master = env.int(pty.master)?;
        let slave = env.int(pty.slave)?;
        env.object(&[("master", master), ("slave", slave)])
    })
}

/// rawOutput(fd): output post-processing off on a terminal (after Node's setRawMode).
unsafe extern "C" fn raw_output(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let fd = env.i32_arg(&args, 0, "fd")?;
        pty::raw_output(fd).map_err(|e| JsError::os(e, "setting the terminal's output mode"))?;
        env.undefined()
    })
}

/// resizePty(fd, cols, rows)
unsafe extern "C" fn resize_pty(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let fd = env.i32_arg(&args, 0, "fd")?;
        let cols = dimension(env, &args, 1, "cols")?;
        let rows = dimension(env, &args, 2, "rows")?;
        pty::resize(fd, cols, rows).map_err(|e| JsError::os(e, "resizing the pty"))?;
        env.undefined()
    })
}

#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: napi_env, exports: napi_value) -> napi_value {
    guard(env, |env| {
        export(env, exports, "version", Some(version))?;
        export(env, exports, "openPty", Some(open_pty))?;
        export(env, exports, "openPtyIn", Some(open_pty_in))?;
        export(env, exports, "resizePty", Some(resize_pty))?;
        export(env, exports, "rawOutput", Some(raw_output))?;
        export(env, exports, "lsetxattr", Some(xattr::lsetxattr_js))?;
        export(env, exports, "lgetxattr", Some(xattr::lgetxattr_js))?;
        export(env, exports, "llistxattr", Some(xattr::llistxattr_js))?;
        export(env, exports, "mknod", Some(mknod::mknod_js))?;
        export(env, exports, "syncfs", Some(syncfs::syncfs_js))?;
        export(env, exports, "direntTypes", Some(dirent::dirent_types_js))?;
        export(env, exports, "inInitialUserNs", Some(in_initial_user_ns))?;
        export(env, exports, "ownsNetworkNs", Some(owns_network_ns))?;
        export(env, exports, "tryLock", Some(lock::try_lock_js))?;
        export(env, exports, "handOff", Some(handoff::hand_off_js))?;
        export(env, exports, "replayPrepare", Some(replay::replay_prepare_js))?;
        export(env, exports, "replayUndo", Some(replay::replay_undo_js))?;
        export(env, exports, "replayRun", Some(replay::from_bin::replay_run_js))?;
        export(env, exports, "hostFacts", Some(replay::host_facts_js))?;
        export(env, exports, "fileIdentity", Some(replay::file_identity_js))?;
        export(env, exports, "socketPair", Some(fdpass::socket_pair_js))?;
        export(env, exports, "sendFds", Some(fdpass::send_fds_js))?;
        export(env, exports, "closeFd", Some(fdpass::close_fd_js))?;
        export(env, exports, "reapAtExit", Some(reap::reap_at_exit_js))?;
        export(env, exports, "forgetAtExit", Some(reap::forget_at_exit_js))?;
        Ok(exports)
    })
}
