//! `syncfs(2)` for the layer cache: an unpacked layer is written out before the rename that publishes it, so a
//! power loss cannot leave a published layer whose files were never written (empty files under the right names,
//! which no later pull would repair: a present layer is never unpacked again). Node has no syncfs, and an fsync
//! per file would cost a journal commit each.
//!
//! JS: `syncfs(dir: string | Buffer): void`; errors are thrown with the errno name as `code`.

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use container::sys::fs::sync_file_system;

/// syncfs(dir)
pub unsafe extern "C" fn syncfs_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        let dir = env.bytes_arg(&args, 0, "dir")?;
        sync_file_system(&dir[..]).map_err(|e| {
            JsError::os(std::io::Error::from_raw_os_error(e.0), &format!("syncfs {}", String::from_utf8_lossy(&dir)))
        })?;
        env.undefined()
    })
}
