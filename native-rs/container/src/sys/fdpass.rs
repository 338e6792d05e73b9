//! Descriptors over a Unix socket (SCM_RIGHTS): the native backend hands a
//! run's stdio and status pipe to its warm `tsbox-runtime serve`
//! (docs/architecture.md "The warm helper"). The Node addon sends, the
//! server receives; both through this one file.
//!
//! Its own declarations (not in ffi.rs/types.rs): nothing else uses them.
//! `struct msghdr`/`cmsghdr` use `size_t` for lengths, which is `usize` on
//! both targets (x86_64 and i686), so `repr(C)` gives the C layout.

use super::{fd, Errno};
use super::errno::{EAGAIN, EINTR};
use std::os::raw::{c_int, c_void};

const AF_UNIX: c_int = 1;
const SOCK_STREAM: c_int = 1;
const SOCK_CLOEXEC: c_int = 0o2000000;
const SOL_SOCKET: c_int = 1;
const SCM_RIGHTS: c_int = 1;
const MSG_NOSIGNAL: c_int = 0x4000;
const MSG_CTRUNC: c_int = 0x8;
const MSG_CMSG_CLOEXEC: c_int = 0x4000_0000;

/// Most descriptors one message carries (a run: status, stdin, stdout, stderr).
pub const MAX_FDS: usize = 8;

#[repr(C)]
struct IoVec {
    base: *mut c_void,
    len: usize,
}

#[repr(C)]
struct MsgHdr {
    name: *mut c_void,
    namelen: u32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut c_void,
    controllen: usize,
    flags: c_int,
}

#[repr(C)]
struct CmsgHdr {
    len: usize,
    level: c_int,
    kind: c_int,
}

extern "C" {
    fn socketpair(domain: c_int, ty: c_int, protocol: c_int, sv: *mut c_int) -> c_int;
    fn sendmsg(fd: c_int, msg: *const MsgHdr, flags: c_int) -> isize;
    fn recvmsg(fd: c_int, msg: *mut MsgHdr, flags: c_int) -> isize;
}

const fn align(n: usize) -> usize {
    (n + std::mem::size_of::<usize>() - 1) & !(std::mem::size_of::<usize>() - 1)
}
const HDR: usize = align(std::mem::size_of::<CmsgHdr>());
/// CMSG_SPACE(MAX_FDS * sizeof(int)), in usize words so the buffer is aligned.
const CONTROL_WORDS: usize = (HDR + align(MAX_FDS * 4)) / std::mem::size_of::<usize>();

/// A connected pair of close-on-exec Unix stream sockets.
pub fn socket_pair() -> Result<(c_int, c_int), Errno> {
    let mut sv = [-1 as c_int; 2];
    Errno::check(unsafe { socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv.as_mut_ptr()) })?;
    Ok((sv[0], sv[1]))
}

/// One sendmsg(2) of `data` (not empty) with `fds` attached to its first
/// byte; the bytes sent (a stream socket may take fewer: send the rest with
/// `send_all`). EAGAIN from a non-blocking socket is returned as is.
pub fn send(sock: c_int, data: &[u8], fds: &[c_int]) -> Result<usize, Errno> {
    if fds.len() > MAX_FDS || data.is_empty() {
        return Err(super::errno::EINVAL);
    }
    let mut control = [0usize; CONTROL_WORDS];
    let mut iov = IoVec { base: data.as_ptr() as *mut c_void, len: data.len() };
    let mut msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &mut iov,
        iovlen: 1,
        control: std::ptr::null_mut(),
        controllen: 0,
        flags: 0,
    };
    if !fds.is_empty() {
        let header = CmsgHdr { len: HDR + fds.len() * 4, level: SOL_SOCKET, kind: SCM_RIGHTS };
        let base = control.as_mut_ptr() as *mut u8;
        unsafe {
            std::ptr::write(base as *mut CmsgHdr, header);
            std::ptr::copy_nonoverlapping(fds.as_ptr() as *const u8, base.add(HDR), fds.len() * 4);
        }
        msg.control = base as *mut c_void;
        msg.controllen = HDR + align(fds.len() * 4);
    }
    loop {
        let n = unsafe { sendmsg(sock, &msg, MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    }
}

/// `send`, then the rest of `data` without descriptors; a non-blocking
/// socket that is full is waited for (up to `timeout_ms` per wait).
pub fn send_all(sock: c_int, data: &[u8], fds: &[c_int], timeout_ms: c_int) -> Result<(), Errno> {
    let mut sent = 0;
    let mut first = true;
    while sent < data.len() {
        let attached: &[c_int] = if first { fds } else { &[] };
        match send(sock, &data[sent..], attached) {
            Ok(n) => {
                sent += n;
                first = false;
            }
            Err(e) if e == EAGAIN => {
                let mut p = [super::types::PollFd { fd: sock, events: super::consts::POLLOUT, revents: 0 }];
                if fd::poll(&mut p, timeout_ms)? == 0 && p[0].revents == 0 {
                    return Err(EAGAIN);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One recvmsg(2) into `buf`: the bytes read (0 at end of stream); the
/// descriptors that came with them are appended to `fds`, close-on-exec.
/// Descriptors the kernel had to drop (more than MAX_FDS) fail with EMSGSIZE
/// after closing those that arrived.
pub fn recv(sock: c_int, buf: &mut [u8], fds: &mut Vec<c_int>) -> Result<usize, Errno> {
    let mut control = [0usize; CONTROL_WORDS];
    let mut iov = IoVec { base: buf.as_mut_ptr() as *mut c_void, len: buf.len() };
    let mut msg = MsgHdr {
        name: std::ptr::null_mut(),
        namelen: 0,
        iov: &mut iov,
        iovlen: 1,
        control: control.as_mut_ptr() as *mut c_void,
        controllen: CONTROL_WORDS * std::mem::size_of::<usize>(),
        flags: 0,
    };
    let n = loop {
        let n = unsafe { recvmsg(sock, &mut msg, MSG_CMSG_CLOEXEC) };
        if n >= 0 {
            break n as usize;
        }
        let e = Errno::last();
        if e != EINTR {
            return Err(e);
        }
    };
    let mut got = Vec::new();
    let base = control.as_ptr() as *const u8;
    let mut offset = 0;
    while msg.controllen >= offset + HDR {
        let header = unsafe { std::ptr::read(base.add(offset) as *const CmsgHdr) };
        if header.len < HDR || offset + header.len > msg.controllen {
            break;
        }
        if header.level == SOL_SOCKET && header.kind == SCM_RIGHTS {
            let count = (header.len - HDR) / 4;
            for i in 0..count {
                let mut v: c_int = -1;
                unsafe { std::ptr::copy_nonoverlapping(base.add(offset + HDR + i * 4), &mut v as *mut c_int as *mut u8, 4) };
                got.push(v);
            }
        }
        offset += align(header.len);
    }
    if msg.flags & MSG_CTRUNC != 0 {
        for f in got {
            fd::close(f);
        }
        return Err(Errno(90)); // EMSGSIZE
    }
    fds.extend(got);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_travel_with_their_bytes() {
        let (a, b) = socket_pair().unwrap();
        let (r, w) = fd::pipe().unwrap();
        send_all(a, b"hello\n", &[w, r], 1000).unwrap();
        fd::close(w);
        let mut buf = [0u8; 64];
        let mut fds = Vec::new();
        let n = recv(b, &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..n], b"hello\n");
        assert_eq!(fds.len(), 2);
        // The received write end is the pipe's: what goes in comes out of r.
        fd::write_all(fds[0], b"x").unwrap();
        let mut one = [0u8; 1];
        assert_eq!(fd::read(r, &mut one), Ok(1));
        assert_eq!(one[0], b'x');
        for f in fds.iter().chain([a, b, r].iter()) {
            fd::close(*f);
        }
    }

    #[test]
    fn end_of_stream_reads_zero() {
        let (a, b) = socket_pair().unwrap();
        fd::close(a);
        let mut fds = Vec::new();
        assert_eq!(recv(b, &mut [0u8; 8], &mut fds), Ok(0));
        assert!(fds.is_empty());
        fd::close(b);
    }
}
