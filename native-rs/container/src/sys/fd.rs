//! Pipes and raw descriptor I/O (no std `File`, so ownership stays explicit
//! across clone).

use super::consts::*;
use super::errno::{EINTR, EINVAL, ENOSYS, ENXIO};
use super::types::PollFd;
use super::{ffi, Errno};
use std::os::raw::{c_int, c_long, c_uint, c_void};

/// `pipe2(O_CLOEXEC)`: (read end, write end).
pub fn pipe() -> Result<(c_int, c_int), Errno> {
    let mut fds = [-1 as c_int; 2];
    Errno::check(unsafe { ffi::pipe2(fds.as_mut_ptr(), O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

pub fn close(fd: c_int) {
    // close(2) must not be retried on EINTR on Linux: the fd is gone either way.
    unsafe { ffi::close(fd) };
}

/// One read(2), retried on EINTR: the byte count read, 0 at the end.
pub fn read(fd: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        let n = unsafe { ffi::read(fd, buf.as_mut_ptr() as *mut c_void, buf.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

pub fn read_to_end(fd: c_int) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = read(fd, &mut buf)?;
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// One write(2), retried on EINTR: the byte count written (EAGAIN is an error).
pub fn write(fd: c_int, data: &[u8]) -> Result<usize, Errno> {
    loop {
        let n = unsafe { ffi::write(fd, data.as_ptr() as *const c_void, data.len()) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

pub fn write_all(fd: c_int, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        let n = write(fd, data)?;
        data = &data[n..];
    }
    Ok(())
}

/// True when fd is an open descriptor.
pub fn is_open(fd: c_int) -> bool {
    unsafe { ffi::fcntl(fd, F_GETFD) != -1 }
}

/// A close-on-exec duplicate.
pub fn dup(fd: c_int) -> Result<c_int, Errno> {
    Errno::check(unsafe { ffi::fcntl(fd, F_DUPFD_CLOEXEC, 3 as c_int) })
}

pub fn set_cloexec(fd: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::fcntl(fd, F_SETFD, FD_CLOEXEC) }).map(drop)
}

/// True when every write end of the pipe `fd` reads from has been closed.
pub fn peer_closed(fd: c_int) -> bool {
    let mut p = PollFd {
        fd,
        events: 0,
        revents: 0,
    };
    let n = unsafe { ffi::poll(&mut p, 1, 0) };
    n > 0 && p.revents & POLLHUP != 0
}

/// Closes every descriptor from 3 up except `keep` (close_range where the
/// kernel has it, else each one listed in /proc/self/fd).
pub fn close_inherited(keep: &[c_int]) {
    let mut keep: Vec<c_int> = keep.iter().copied().filter(|&k| k >= 3).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut from: c_int = 3;
    for k in keep.iter().copied().chain(Some(c_int::MAX)) {
        if from < k {
            let last = (k - 1) as c_uint;
            let ret = unsafe { ffi::syscall(SYS_CLOSE_RANGE, from as c_long, last as c_long, 0 as c_long) };
            if ret != 0 {
                close_listed(from, k - 1);
            }
        }
        from = k.saturating_add(1);
    }
}

fn close_listed(from: c_int, to: c_int) {
    let fds: Vec<c_int> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|d| d.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd >= from && fd <= to)
            .collect(),
        Err(_) => return,
    };
    for fd in fds {
        close(fd); // the listing's own fd is gone already: EBADF, ignored
    }
}

/// Marks every descriptor >= `from` close-on-exec, so nothing the helper holds
/// (status fd, bundle dirs) leaks into the container. close_range(2) when the
/// kernel has it (5.11+), otherwise walk /proc/self/fd.
pub fn cloexec_from(from: c_int) -> Result<(), Errno> {
    let ret = unsafe {
        ffi::syscall(
            SYS_CLOSE_RANGE,
            from as c_long,
            c_uint::MAX as c_long,
            CLOSE_RANGE_CLOEXEC as c_long,
        )
    };
    if ret == 0 {
        return Ok(());
    }
    let e = Errno::last();
    if e != ENOSYS && e != EINVAL {
        return Err(e);
    }
    let fds: Vec<c_int> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_io(&e).unwrap_or(EINVAL))?
        .filter_map(|d| d.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd >= from)
        .collect();
    for fd in fds {
        // The directory's own fd is in the list and already closed: ignore EBADF.
        let _ = set_cloexec(fd);
    }
    Ok(())
}

/// Closes every descriptor >= `from` (a forked helper that will not exec
/// must not keep its parent's sockets and pipes open). close_range(2) when
/// the kernel has it (5.9+), otherwise /proc/self/fd.
pub fn close_from(from: c_int) {
    let zero: c_long = 0;
    let ret = unsafe { ffi::syscall(SYS_CLOSE_RANGE, from as c_long, c_uint::MAX as c_long, zero) };
    if ret == 0 {
        return;
    }
    let fds: Vec<c_int> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|d| d.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd >= from)
            .collect(),
        Err(_) => return,
    };
    for fd in fds {
        close(fd);
    }
}

/// open(2) of a path (mode applies with O_CREAT).
pub fn open_path(path: &std::path::Path, flags: c_int, mode: u32) -> Result<c_int, Errno> {
    let c = super::cpath(path)?;
    Errno::check(unsafe { ffi::open(c.as_ptr(), flags, mode as c_uint) })
}

/// dup2(2): `new` becomes a copy of `old` (without close-on-exec).
pub fn dup_onto(old: c_int, new: c_int) -> Result<(), Errno> {
    loop {
        let r = unsafe { ffi::dup2(old, new) };
        if r >= 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

/// /dev/null on 0, 1 and 2, and every other descriptor closed but `keep`:
/// a process forked to live on its own holds nothing of its parent's
/// (a container's stdio, a status pipe) open.
pub fn detach_from_parent_fds(keep: &[c_int]) {
    let null = unsafe { ffi::open(b"/dev/null\0".as_ptr() as *const std::os::raw::c_char, 2 | O_CLOEXEC) };
    if null >= 0 {
        for target in 0..3 {
            unsafe { ffi::dup2(null, target) };
        }
        if null > 2 {
            close(null);
        }
    }
    let open: Vec<c_int> = match std::fs::read_dir("/proc/self/fd") {
        Ok(d) => d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect(),
        Err(_) => return,
    };
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            close(fd);
        }
    }
}

pub fn set_nonblocking(fd: c_int) -> Result<(), Errno> {
    let flags = Errno::check(unsafe { ffi::fcntl(fd, F_GETFL) })?;
    Errno::check(unsafe { ffi::fcntl(fd, F_SETFL, flags | O_NONBLOCK) }).map(drop)
}

pub fn set_blocking(fd: c_int) -> Result<(), Errno> {
    let flags = Errno::check(unsafe { ffi::fcntl(fd, F_GETFL) })?;
    Errno::check(unsafe { ffi::fcntl(fd, F_SETFL, flags & !O_NONBLOCK) }).map(drop)
}

/// flock(2) `LOCK_EX` (blocking, retried on EINTR) or `LOCK_UN`. The lock
/// belongs to the open file description: it is released when every
/// descriptor sharing it is closed, including by a process that dies.
pub fn flock(fd: c_int, operation: c_int) -> Result<(), Errno> {
    loop {
        if unsafe { ffi::flock(fd, operation) } == 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

/// Where a file of `size` bytes holds data (offset, length), in order, found
/// with SEEK_DATA/SEEK_HOLE; None when it has no holes or the file system
/// cannot tell. At most `max` extents: the last one then runs to the end
/// (its holes read as zeros), so a file of many small holes stays bounded.
pub fn data_extents(fd: c_int, size: u64, max: usize) -> Option<Vec<(u64, u64)>> {
    let mut extents = Vec::new();
    let mut at = 0u64;
    while at < size {
        let data = unsafe { ffi::lseek64(fd, at as i64, SEEK_DATA) };
        if data < 0 {
            // ENXIO: nothing but a hole from `at` to the end; anything else: no answer.
            if Errno::last() == ENXIO {
                break;
            }
            return None;
        }
        let data = (data as u64).min(size);
        if data >= size {
            break;
        }
        let end = if extents.len() + 1 == max.max(1) {
            size
        } else {
            let hole = unsafe { ffi::lseek64(fd, data as i64, SEEK_HOLE) };
            if hole < 0 {
                return None;
            }
            (hole as u64).min(size)
        };
        extents.push((data, end - data));
        at = end;
    }
    if size == 0 || extents.len() == 1 && extents[0] == (0, size) {
        return None;
    }
    Some(extents)
}

/// poll(2); an interrupted call (a signal arrived) reports nothing ready.
pub fn poll(fds: &mut [PollFd], timeout_ms: c_int) -> Result<usize, Errno> {
    let n = unsafe { ffi::poll(fds.as_mut_ptr(), fds.len() as std::os::raw::c_ulong, timeout_ms) };
    if n >= 0 {
        return Ok(n as usize);
    }
    let e = Errno::last();
    if e == EINTR {
        Ok(0)
    } else {
        Err(e)
    }
}

/// An inotify(7) descriptor (close-on-exec, non-blocking) watching `path` for `mask`.
pub fn inotify_watch(path: &std::path::Path, mask: u32) -> Result<c_int, Errno> {
    let c_path = super::cpath(path)?;
    let fd = unsafe { ffi::inotify_init1(O_CLOEXEC | O_NONBLOCK) };
    Errno::check(fd)?;
    if let Err(e) = Errno::check(unsafe { ffi::inotify_add_watch(fd, c_path.as_ptr(), mask) }) {
        close(fd);
        return Err(e);
    }
    Ok(fd)
}

/// Bytes up to the first newline (or EOF): one message on a pipe whose
/// write end other processes may still hold.
pub fn read_line(fd: c_int) -> Vec<u8> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while read(fd, &mut b) == Ok(1) && b[0] != b'\n' {
        out.push(b[0]);
    }
    out
}
