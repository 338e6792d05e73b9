//! keyctl(2): the one call the set-up makes.

use super::consts::*;
use super::errno::ENOSYS;
use super::{ffi, Errno};
use std::os::raw::c_long;

/// Joins a new anonymous session keyring, so the process no longer reaches
/// its caller's (which holds e.g. the caller's kerberos or ecryptfs keys).
/// A kernel without keys (CONFIG_KEYS off, as in the vm guest) has no
/// keyring to leak: ENOSYS is success.
pub fn join_new_session() -> Result<(), Errno> {
    let ret = unsafe {
        ffi::syscall(
            SYS_KEYCTL,
            KEYCTL_JOIN_SESSION_KEYRING as c_long,
            std::ptr::null::<u8>(),
        )
    };
    match ret {
        r if r >= 0 => Ok(()),
        _ => match Errno::last() {
            ENOSYS => Ok(()),
            e => Err(e),
        },
    }
}
