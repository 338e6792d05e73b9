//! Controlling terminal and window size.

use super::consts::*;
use super::types::Winsize;
use super::{ffi, Errno};
use std::os::raw::c_int;

pub fn setsid() -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setsid() }).map(drop)
}

/// TIOCSCTTY with arg 0: never steals a terminal that is another session's.
pub fn set_controlling_tty(fd: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::ioctl(fd, TIOCSCTTY, 0 as std::os::raw::c_ulong) }).map(drop)
}

pub fn set_winsize(fd: c_int, rows: u16, cols: u16) -> Result<(), Errno> {
    let ws = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    Errno::check(unsafe { ffi::ioctl(fd, TIOCSWINSZ, &ws as *const Winsize) }).map(drop)
}
