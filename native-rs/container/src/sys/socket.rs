//! Raw sockets std has no type for: netlink (rtnetlink for links, addresses
//! and routes, see `net/netlink.rs`). TCP and UDP use `std::net`.

use super::consts::*;
use super::{ffi, Errno};
use std::os::raw::{c_int, c_long, c_void};

/// `struct sockaddr_nl`
#[repr(C)]
struct SockaddrNl {
    nl_family: u16,
    nl_pad: u16,
    nl_pid: u32,
    nl_groups: u32,
}

/// A close-on-exec NETLINK_ROUTE socket bound to a kernel-chosen port, in
/// the network namespace of the calling thread. Replies that take longer
/// than `timeout_ms` fail with EAGAIN instead of hanging the caller.
pub fn netlink_route(timeout_ms: u32) -> Result<c_int, Errno> {
    netlink(NETLINK_ROUTE, timeout_ms)
}

/// The same for another netlink protocol (NETLINK_NETFILTER: the vm agent's nftables rule).
pub fn netlink(protocol: c_int, timeout_ms: u32) -> Result<c_int, Errno> {
    let fd = Errno::check(unsafe { ffi::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol) })?;
    let addr = SockaddrNl {
        nl_family: AF_NETLINK as u16,
        nl_pad: 0,
        nl_pid: 0,
        nl_groups: 0,
    };
    // `struct timeval` is two longs on both targets.
    let tv: [c_long; 2] = [(timeout_ms / 1000) as c_long, ((timeout_ms % 1000) * 1000) as c_long];
    let setup = Errno::check(unsafe {
        ffi::bind(fd, &addr as *const SockaddrNl as *const c_void, std::mem::size_of::<SockaddrNl>() as u32)
    })
    .and_then(|_| {
        Errno::check(unsafe {
            ffi::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv.as_ptr() as *const c_void, std::mem::size_of_val(&tv) as u32)
        })
    });
    match setup {
        Ok(_) => Ok(fd),
        Err(e) => {
            super::fd::close(fd);
            Err(e)
        }
    }
}

/// One send(2) of a whole datagram.
pub fn send(fd: c_int, data: &[u8]) -> Result<(), Errno> {
    loop {
        let n = unsafe { ffi::send(fd, data.as_ptr() as *const c_void, data.len(), 0) };
        if n >= 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e != super::errno::EINTR {
            return Err(e);
        }
    }
}

/// One datagram into `buf`: its length.
pub fn recv(fd: c_int, buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        let n = unsafe { ffi::recv(fd, buf.as_mut_ptr() as *mut c_void, buf.len(), 0) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e != super::errno::EINTR {
            return Err(e);
        }
    }
}

/// splice(2) between a pipe and a socket: bytes moved, 0 at EOF.
pub fn splice(from: c_int, to: c_int, len: usize) -> Result<usize, Errno> {
    let n = unsafe {
        ffi::splice(from, std::ptr::null_mut(), to, std::ptr::null_mut(), len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK)
    };
    if n < 0 {
        Err(Errno::last())
    } else {
        Ok(n as usize)
    }
}

/// `struct sockaddr_in`
#[repr(C)]
struct SockaddrIn {
    sin_family: u16,
    sin_port: [u8; 2],
    sin_addr: [u8; 4],
    sin_zero: [u8; 8],
}

/// A non-blocking TCP socket whose connect to `addr` is under way (or
/// done): wait for POLLOUT, then `connect_result`.
pub fn tcp_connect_start(addr: std::net::SocketAddrV4) -> Result<c_int, Errno> {
    connected(SOCK_STREAM, 0, addr)
}

/// A non-blocking UDP socket connected to `addr`: `send`/`recv` datagrams to
/// and from that peer only (the kernel picks our port).
pub fn udp_connect(addr: std::net::SocketAddrV4) -> Result<c_int, Errno> {
    connected(SOCK_DGRAM, 0, addr)
}

/// Sends one IPv4 packet, its header included (IPPROTO_RAW: the source
/// address is whatever the header says), to the header's destination.
/// Needs CAP_NET_RAW in the network namespace.
pub fn send_ip_packet(packet: &[u8]) -> Result<(), Errno> {
    if packet.len() < 20 {
        return Err(super::errno::EINVAL);
    }
    let to = std::net::Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
    let fd = connected(SOCK_RAW, IPPROTO_RAW, std::net::SocketAddrV4::new(to, 0))?;
    let sent = send(fd, packet);
    super::fd::close(fd);
    sent
}

fn connected(kind: c_int, protocol: c_int, addr: std::net::SocketAddrV4) -> Result<c_int, Errno> {
    let fd = Errno::check(unsafe { ffi::socket(AF_INET, kind | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol) })?;
    let sa = SockaddrIn {
        sin_family: AF_INET as u16,
        sin_port: addr.port().to_be_bytes(),
        sin_addr: addr.ip().octets(),
        sin_zero: [0; 8],
    };
    let r = unsafe { ffi::connect(fd, &sa as *const SockaddrIn as *const c_void, std::mem::size_of::<SockaddrIn>() as u32) };
    if r == 0 || Errno::last().0 == EINPROGRESS {
        return Ok(fd);
    }
    let e = Errno::last();
    super::fd::close(fd);
    Err(e)
}

/// The outcome of a non-blocking connect (SO_ERROR).
pub fn connect_result(fd: c_int) -> Result<(), Errno> {
    let mut err: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as u32;
    Errno::check(unsafe { ffi::getsockopt(fd, SOL_SOCKET, SO_ERROR, &mut err as *mut c_int as *mut c_void, &mut len) })?;
    if err == 0 {
        Ok(())
    } else {
        Err(Errno(err))
    }
}

/// The destination a NATed (DNAT/REDIRECT) TCP connection was made to (SO_ORIGINAL_DST).
pub fn original_dst(fd: c_int) -> Result<std::net::SocketAddrV4, Errno> {
    let mut sa = SockaddrIn { sin_family: 0, sin_port: [0; 2], sin_addr: [0; 4], sin_zero: [0; 8] };
    let mut len = std::mem::size_of::<SockaddrIn>() as u32;
    Errno::check(unsafe { ffi::getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &mut sa as *mut SockaddrIn as *mut c_void, &mut len) })?;
    Ok(std::net::SocketAddrV4::new(sa.sin_addr.into(), u16::from_be_bytes(sa.sin_port)))
}

/// SO_LINGER 0: the close that follows sends RST, not FIN.
pub fn reset_on_close(fd: c_int) -> Result<(), Errno> {
    let linger: [c_int; 2] = [1, 0];
    Errno::check(unsafe { ffi::setsockopt(fd, SOL_SOCKET, SO_LINGER, linger.as_ptr() as *const c_void, std::mem::size_of_val(&linger) as u32) }).map(drop)
}

/// shutdown(SHUT_WR): the peer reads EOF, we can still read.
pub fn shutdown_write(fd: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::shutdown(fd, 1) }).map(drop)
}

/// Receives only what arrives through interface `name` (a network's DNS
/// server: a query from another bridge to its address is not for it).
pub fn bind_to_device(fd: c_int, name: &str) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::setsockopt(fd, SOL_SOCKET, super::consts::SO_BINDTODEVICE, name.as_ptr() as *const c_void, name.len() as u32) }).map(drop)
}
