//! Pseudo-terminals for `tsbox run -t`: Node has no pty API, so the addon opens
//! one. The master stays in Node (wrapped as a tty stream); the slave becomes
//! the helper's stdin/stdout/stderr and the container's controlling terminal.

use std::ffi::CStr;
use std::io;
use std::os::raw::{c_char, c_int, c_ulong, c_ushort};

extern "C" {
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
}

// <asm-generic/fcntl.h> and <asm-generic/ioctls.h>: identical on x86_64 and i686.
const O_RDWR: c_int = 0o2;
const O_NOCTTY: c_int = 0o400;
const O_CLOEXEC: c_int = 0o2000000;
const TIOCSWINSZ: c_ulong = 0x5414;
const TIOCSPTLCK: c_ulong = 0x4004_5431; // _IOW('T', 0x31, int)
const TIOCGPTPEER: c_ulong = 0x5441; // _IO('T', 0x41), Linux >= 4.13

#[repr(C)]
struct Winsize {
    ws_row: c_ushort,
    ws_col: c_ushort,
    ws_xpixel: c_ushort,
    ws_ypixel: c_ushort,
}

pub struct Pty {
    pub master: c_int,
    pub slave: c_int,
}

/// The raw errno is kept (not wrapped) so JS gets `err.code` right.
fn cvt(ret: c_int) -> io::Result<c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Opens a new pty pair, both ends close-on-exec (the spawn dup2s the slave
/// onto the child's stdio, which clears the flag there only).
pub fn open_pty(cols: u16, rows: u16) -> io::Result<Pty> {
    let ptmx = CStr::from_bytes_with_nul(b"/dev/ptmx\0").expect("static path");
    let master = cvt(unsafe { open(ptmx.as_ptr(), O_RDWR | O_NOCTTY | O_CLOEXEC) })?;
    let result = (|| {
        let unlock: c_int = 0;
        cvt(unsafe { ioctl(master, TIOCSPTLCK, &unlock as *const c_int) })?;
        // TIOCGPTPEER opens the slave through the master itself, so it cannot
        // be raced by another process opening /dev/pts/N by name.
        let slave = cvt(unsafe { ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC) })?;
        if let Err(e) = resize(master, cols, rows) {
            unsafe { close(slave) };
            return Err(e);
        }
        Ok(slave)
    })();
    match result {
        Ok(slave) => Ok(Pty { master, slave }),
        Err(e) => {
            unsafe { close(master) };
            Err(e)
        }
    }
}

/// Sets the window size; the kernel sends SIGWINCH to the pty's foreground group.
pub fn resize(fd: c_int, cols: u16, rows: u16) -> io::Result<()> {
    let ws = Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    cvt(unsafe { ioctl(fd, TIOCSWINSZ, &ws as *const Winsize) })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_a_pair_and_sets_the_size() {
        let pty = open_pty(100, 40).expect("pty");
        assert!(pty.master >= 0 && pty.slave >= 0);
        resize(pty.master, 120, 50).expect("resize");
        unsafe {
            close(pty.slave);
            close(pty.master);
        }
    }
}
