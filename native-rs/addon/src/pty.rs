//! Pseudo-terminals for `tsbox run -t`: Node has no pty API, so the addon opens
//! one (container::sys::tty, the same code the monitor uses). The master stays
//! in Node (wrapped as a tty stream); the slave becomes the helper's
//! stdin/stdout/stderr and the container's controlling terminal.

use container::sys::{tty, Errno};
use std::io;
use std::os::raw::c_int;

pub struct Pty {
    pub master: c_int,
    pub slave: c_int,
}

/// The raw errno is kept (not wrapped) so JS gets `err.code` right.
fn io_error(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.0)
}

/// Opens a new pty pair, both ends close-on-exec (the spawn dup2s the slave
/// onto the child's stdio, which clears the flag there only).
pub fn open_pty(cols: u16, rows: u16) -> io::Result<Pty> {
    let (master, slave) = tty::open_pty(cols, rows).map_err(io_error)?;
    Ok(Pty { master, slave })
}

/// A pty pair of the devpts at `root`/dev/pts (`tsbox exec -t`: the running
/// container's, through /proc/PID/root), so the slave has its name there.
pub fn open_pty_in(root: &str, cols: u16, rows: u16) -> io::Result<Pty> {
    let (master, slave) = tty::open_pty_in(std::path::Path::new(root), cols, rows).map_err(io_error)?;
    Ok(Pty { master, slave })
}

/// Output post-processing off on the host terminal `fd` (see tty::raw_output).
pub fn raw_output(fd: c_int) -> io::Result<()> {
    tty::raw_output(fd).map_err(io_error)
}

/// Sets the window size; the kernel sends SIGWINCH to the pty's foreground group.
pub fn resize(fd: c_int, cols: u16, rows: u16) -> io::Result<()> {
    tty::set_winsize(fd, rows, cols).map_err(io_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_a_pair_and_sets_the_size() {
        let pty = open_pty(100, 40).expect("pty");
        assert!(pty.master >= 0 && pty.slave >= 0);
        resize(pty.master, 120, 50).expect("resize");
        container::sys::fd::close(pty.slave);
        container::sys::fd::close(pty.master);
    }
}
