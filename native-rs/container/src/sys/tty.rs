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

/// The kernel's `struct termios` (TCGETS/TCSETS), the same on x86_64 and i686.
#[repr(C)]
struct KernelTermios {
    iflag: u32,
    oflag: u32,
    cflag: u32,
    lflag: u32,
    line: u8,
    cc: [u8; 19],
}

/// Whether `fd` is a terminal (TCGETS answers, as isatty(3) asks).
pub fn is_terminal(fd: c_int) -> bool {
    let mut t = KernelTermios { iflag: 0, oflag: 0, cflag: 0, lflag: 0, line: 0, cc: [0; 19] };
    unsafe { ffi::ioctl(fd, TCGETS, &mut t as *mut KernelTermios) == 0 }
}

/// Where input for the terminal behind `master` (a pty master: TCGETS there
/// reads the slave's settings) flushes everything before it: the offset of
/// the last INTR, QUIT or SUSP character in `input` when ISIG is on and
/// NOFLSH off. The line discipline flushes its queued input when it meets
/// one, but only once it gets there: behind a paste it waits its turn.
pub fn input_flush_point(master: c_int, input: &[u8]) -> Option<usize> {
    let mut t = KernelTermios { iflag: 0, oflag: 0, cflag: 0, lflag: 0, line: 0, cc: [0; 19] };
    if unsafe { ffi::ioctl(master, TCGETS, &mut t as *mut KernelTermios) } != 0 {
        return None;
    }
    if t.lflag & ISIG == 0 || t.lflag & NOFLSH != 0 {
        return None;
    }
    // 0 is _POSIX_VDISABLE: that character is off.
    let chars = [t.cc[VINTR], t.cc[VQUIT], t.cc[VSUSP]];
    input.iter().rposition(|b| *b != 0 && chars.contains(b))
}

/// Drops what the pty `master` wrote that its slave's line discipline has not
/// taken yet (the kernel's buffer between the two, up to 64 KiB).
pub fn drop_unread_input(master: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::ioctl(master, TCFLSH, TCOFLUSH) }).map(drop)
}

/// Turns output post-processing off on the terminal `fd` (cfmakeraw's
/// part that Node's raw mode leaves on): a container's pty already turns
/// "\n" into "\r\n", and the host terminal must pass that through as is.
pub fn raw_output(fd: c_int) -> Result<(), Errno> {
    let mut t = KernelTermios { iflag: 0, oflag: 0, cflag: 0, lflag: 0, line: 0, cc: [0; 19] };
    Errno::check(unsafe { ffi::ioctl(fd, TCGETS, &mut t as *mut KernelTermios) })?;
    if t.oflag & OPOST == 0 {
        return Ok(());
    }
    t.oflag &= !OPOST;
    Errno::check(unsafe { ffi::ioctl(fd, TCSETS, &t as *const KernelTermios) }).map(drop)
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
    pair(master, cols, rows)
}

/// A new pty pair of the devpts mounted at `root`/dev/pts (a running
/// container's, through /proc/PID/root): the slave is /dev/pts/N *there*,
/// so ttyname(3) works for a process that joins that container. The path
/// is resolved inside `root` (no symlink leads out), and what it opens must
/// answer as a pty master, or nothing is kept: a container may have put
/// anything at that path.
pub fn open_pty_in(root: &std::path::Path, cols: u16, rows: u16) -> Result<(c_int, c_int), Errno> {
    let dir = super::path::open_path(root, O_DIRECTORY)?;
    let master = super::path::openat2(
        dir,
        std::path::Path::new("dev/pts/ptmx"),
        O_RDWR | O_NOCTTY | O_NONBLOCK,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    );
    super::fd::close(dir);
    let master = master?;
    // Opened non-blocking (a device put there could wait for a carrier);
    // a pty master answers TIOCGPTN, then becomes blocking like one from /dev/ptmx.
    let checked = (|| {
        let mut n: c_int = 0;
        Errno::check(unsafe { ffi::ioctl(master, TIOCGPTN, &mut n as *mut c_int) })?;
        super::fd::set_blocking(master)
    })();
    if let Err(e) = checked {
        super::fd::close(master);
        return Err(e);
    }
    pair(master, cols, rows)
}

/// The slave of a new master (unlocked, sized); closes the master on failure.
fn pair(master: c_int, cols: u16, rows: u16) -> Result<(c_int, c_int), Errno> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh pty has ISIG on and ^C as INTR: the flush point is the last one, read through the master.
    #[test]
    fn interrupt_characters_flush_what_came_before_them() {
        let (master, slave) = open_pty(80, 24).unwrap();
        assert_eq!(input_flush_point(master, b"paste"), None);
        assert_eq!(input_flush_point(master, b"ab\x03cd\x1ce"), Some(5));
        // What the master wrote and the slave has not read: TCFLSH answers on a master.
        assert_eq!(unsafe { ffi::write(master, b"queued\n".as_ptr() as *const _, 7) }, 7);
        drop_unread_input(master).unwrap();
        let mut t = KernelTermios { iflag: 0, oflag: 0, cflag: 0, lflag: 0, line: 0, cc: [0; 19] };
        unsafe { ffi::ioctl(slave, TCGETS, &mut t as *mut KernelTermios) };
        t.lflag &= !ISIG;
        unsafe { ffi::ioctl(slave, TCSETS, &t as *const KernelTermios) };
        // A raw terminal (a line editor, vim) takes ^C as a key, in order.
        assert_eq!(input_flush_point(master, b"ab\x03cd"), None);
        super::super::fd::close(slave);
        super::super::fd::close(master);
    }
}
