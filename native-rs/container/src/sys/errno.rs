//! `errno` as a typed value with a human description.

use super::ffi;
use std::fmt;
use std::io;
use std::os::raw::c_int;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

pub const EPERM: Errno = Errno(1);
pub const ENOENT: Errno = Errno(2);
pub const ENXIO: Errno = Errno(6);
pub const ESRCH: Errno = Errno(3);
pub const EINTR: Errno = Errno(4);
pub const E2BIG: Errno = Errno(7);
pub const ENOEXEC: Errno = Errno(8);
pub const EBADF: Errno = Errno(9);
pub const ECHILD: Errno = Errno(10);
pub const EAGAIN: Errno = Errno(11);
pub const ENOMEM: Errno = Errno(12);
pub const EACCES: Errno = Errno(13);
pub const EBUSY: Errno = Errno(16);
pub const EEXIST: Errno = Errno(17);
pub const EXDEV: Errno = Errno(18);
pub const ENOTDIR: Errno = Errno(20);
pub const EISDIR: Errno = Errno(21);
pub const EINVAL: Errno = Errno(22);
pub const ENFILE: Errno = Errno(23);
pub const EMFILE: Errno = Errno(24);
pub const ETXTBSY: Errno = Errno(26);
pub const ENOSPC: Errno = Errno(28);
pub const ERANGE: Errno = Errno(34);
pub const ENOTSUP: Errno = Errno(95);
pub const ENODEV: Errno = Errno(19);
pub const EADDRINUSE: Errno = Errno(98);
pub const EADDRNOTAVAIL: Errno = Errno(99);
pub const ENOSYS: Errno = Errno(38);
pub const ENOTEMPTY: Errno = Errno(39);
pub const ELOOP: Errno = Errno(40);
pub const ESTALE: Errno = Errno(116);
pub const EDQUOT: Errno = Errno(122);
pub const EUSERS: Errno = Errno(87);
pub const EROFS: Errno = Errno(30);

impl Errno {
    /// The calling thread's current `errno`.
    pub fn last() -> Errno {
        Errno(unsafe { *ffi::__errno_location() })
    }

    /// Maps the C convention (-1 and `errno`) to a `Result`.
    pub fn check(ret: c_int) -> Result<c_int, Errno> {
        if ret == -1 {
            Err(Errno::last())
        } else {
            Ok(ret)
        }
    }

    /// `strerror` text without std's " (os error N)" suffix.
    pub fn description(self) -> String {
        let text = io::Error::from_raw_os_error(self.0).to_string();
        match text.rfind(" (os error ") {
            Some(i) => text[..i].to_string(),
            None => text,
        }
    }

    pub fn from_io(err: &io::Error) -> Option<Errno> {
        err.raw_os_error().map(Errno)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description())
    }
}

impl From<Errno> for io::Error {
    fn from(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_without_suffix() {
        assert_eq!(EPERM.description(), "Operation not permitted");
        assert_eq!(ENOENT.to_string(), "No such file or directory");
    }
}
