//! Hand-declared libc surface: raw declarations (`ffi`), constants, struct
//! layouts, and small safe wrappers grouped by subject. Everything above this
//! module works with `Result<_, Errno>` and Rust types only.

pub mod consts;
pub mod cred;
pub mod errno;
pub mod fd;
pub mod fdpass;
pub mod fs;
pub mod keyring;
pub mod ffi;
pub mod mount;
pub mod net;
pub mod path;
pub mod process;
pub mod socket;
pub mod signal;
pub mod tty;
pub mod types;

pub use errno::Errno;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// A path as a C string; interior NULs (impossible in real paths) become EINVAL.
pub fn cpath(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| errno::EINVAL)
}

pub fn cstr(text: &str) -> Result<CString, Errno> {
    CString::new(text).map_err(|_| errno::EINVAL)
}
