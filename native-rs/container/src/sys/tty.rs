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

/// A new pty pair from /dev/ptmx: (master, slave), both close-on-exec and
/// not our controlling terminal. The slave is opened through the master
/// (TIOCGPTPEER), so no other process can race us to /dev/pts/N.
pub fn open_pty(cols: u16, rows: u16) -> Result<(c_int, c_int), Errno> {
    let master = super::fd::open_path(
        std::path::Path::new("/dev/ptmx"),
        O_RDWR | O_NOCTTY | O_CLOEXEC,
        0,
    )?;
    let slave = (|| {
        let unlock: c_int = 0;
        Errno::check(unsafe { ffi::ioctl(master, TIOCSPTLCK, &unlock as *const c_int) })?;
        let slave = Errno::check(unsafe {
            ffi::ioctl(master, TIOCGPTPEER, (O_RDWR | O_NOCTTY | O_CLOEXEC) as std::os::raw::c_ulong)
        })?;
        if let Err(e) = set_winsize(master, rows, cols) {
            super::fd::close(slave);
            return Err(e);
        }
        Ok(slave)
    })();
    match slave {
        Ok(slave) => Ok((master, slave)),
        Err(e) => {
            super::fd::close(master);
            Err(e)
        }
    }
}
