//! Published ports in user space (docker-proxy's job): a listener per `-p`
//! bound where the user asked (which reserves the port and makes "port taken"
//! an error at start), and a copy loop per connection to the container's
//! address. As root it serves loopback (other traffic is DNATed by the
//! firewall); rootless it serves everything: it listens in the user's network
//! namespace and connects from the per-user one, where the bridge is.
//! Driven by the keeper's poll loop: `interest` names the fds, `ready` acts.

use super::spec::{Port, Protocol};
use crate::error::Error;
use crate::sys::consts::{POLLERR, POLLHUP, POLLNVAL};
use crate::sys::errno::{EACCES, EADDRINUSE, EAGAIN, EINTR, EMFILE, ENFILE};
use crate::sys::types::PollFd;
use crate::sys::{socket, Errno};
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4, TcpListener, TcpStream, UdpSocket};
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::time::{Duration, Instant};

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const BUF: usize = 256 * 1024;
const UDP_IDLE: Duration = Duration::from_secs(60);
/// UDP peers served at once per published port: one socket each, so without
/// a bound a flood of source ports took every descriptor (and with them the
/// other ports' connections). Beyond it the least recently used goes.
const MAX_UDP_SESSIONS: usize = 512;
/// A listener whose accept failed for want of descriptors is left alone this
/// long (it stays readable: polling it at once would spin).
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

pub enum Socket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// A bound host port; `port.host_port` is the real one (the kernel's pick for 0).
pub struct Published {
    pub port: Port,
    pub socket: Socket,
}

/// Binds every port, or fails with the first that cannot be had.
pub fn bind(ports: &[Port]) -> Result<Vec<Published>, Error> {
    ports.iter().map(bind_one).collect()
}

fn bind_one(p: &Port) -> Result<Published, Error> {
    // A host range (`-p 8000-8010:80`, docker's): the first port of it that is free.
    let last = p.host_port_end.unwrap_or(p.host_port);
    let mut port = p.host_port;
    loop {
        match bind_at(p, port) {
            Err(e) if e.raw_os_error() == Some(EADDRINUSE.0) && port < last => port += 1,
            Err(e) => return Err(bind_error(p, e)),
            Ok((socket, local)) => {
                return Ok(Published {
                    port: Port { host_port: local.port(), host_port_end: None, ..*p },
                    socket,
                })
            }
        }
    }
}

fn bind_at(p: &Port, port: u16) -> std::io::Result<(Socket, SocketAddr)> {
    let addr = SocketAddrV4::new(p.host_ip, port);
    match p.protocol {
        Protocol::Tcp => {
            let l = TcpListener::bind(addr)?;
            l.set_nonblocking(true)?;
            let local = l.local_addr()?;
            Ok((Socket::Tcp(l), local))
        }
        Protocol::Udp => {
            let s = UdpSocket::bind(addr)?;
            s.set_nonblocking(true)?;
            let local = s.local_addr()?;
            Ok((Socket::Udp(s), local))
        }
    }
}

fn bind_error(p: &Port, e: std::io::Error) -> Error {
    let range = p.host_port_end.map(|end| format!("-{}", end)).unwrap_or_default();
    let shown = format!("{}:{}{}/{}", p.host_ip, p.host_port, range, p.protocol.as_str());
    if e.raw_os_error() == Some(EADDRINUSE.0) {
        let why = if p.host_port_end.is_some() { "every port of the range is in use" } else { "it is already in use" };
        Error::setup(format!("cannot publish port {}: {}", shown, why))
    } else if e.raw_os_error() == Some(EACCES.0) {
        // Rootless: ports below net.ipv4.ip_unprivileged_port_start (1024 by default) need root.
        let start = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap_or_default();
        Error::setup(format!(
            "cannot publish port {}: ports below {} need root (use a higher host port, e.g. -p 8080:{}, or lower net.ipv4.ip_unprivileged_port_start)",
            shown,
            start.trim().parse::<u32>().unwrap_or(1024),
            p.container_port
        ))
    } else {
        Error::setup(format!("cannot publish port {}: {}", shown, e))
    }
}

/// One direction of a connection.
struct Flow {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The reading side ended.
    eof: bool,
    /// The writing side was shut down after the last byte.
    shut: bool,
}

impl Flow {
    fn new() -> Flow {
        Flow { buf: vec![0; BUF], start: 0, end: 0, eof: false, shut: false }
    }
    fn pending(&self) -> bool {
        self.start < self.end
    }
    fn room(&self) -> bool {
        !self.eof && self.end < self.buf.len()
    }
    /// Reads what fits; false on a reset.
    fn fill(&mut self, from: &mut TcpStream) -> bool {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        while self.room() {
            match from.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        true
    }
    /// Writes what it can; false on a reset.
    fn drain(&mut self, to: &mut TcpStream) -> bool {
        while self.pending() {
            match to.write(&self.buf[self.start..self.end]) {
                Ok(n) => self.start += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        if !self.pending() {
            // All written: the whole buffer is free again (`room` looks at its end).
            self.start = 0;
            self.end = 0;
        }
        if self.eof && !self.pending() && !self.shut {
            self.shut = true;
            let _ = to.shutdown(Shutdown::Write);
        }
        true
    }
}

struct Conn {
    client: TcpStream,
    upstream: TcpStream,
    connecting: bool,
    up: Flow,
    down: Flow,
    dead: bool,
}

struct UdpSession {
    listener: usize,
    client: SocketAddr,
    socket: UdpSocket,
    last: Instant,
}

#[derive(Clone, Copy)]
enum Slot {
    Listener(usize),
    Client(usize),
    Upstream(usize),
    Udp(usize),
}

pub struct Proxy {
    published: Vec<Published>,
    to: Ipv4Addr,
    conns: Vec<Conn>,
    udp: Vec<UdpSession>,
    udp_by_client: HashMap<(usize, SocketAddr), usize>,
    slots: Vec<Slot>,
    /// Listeners not polled until then (ACCEPT_PAUSE).
    paused: HashMap<usize, Instant>,
}

impl Proxy {
    pub fn new(published: Vec<Published>, to: Ipv4Addr) -> Proxy {
        Proxy { published, to, conns: Vec::new(), udp: Vec::new(), udp_by_client: HashMap::new(), slots: Vec::new(), paused: HashMap::new() }
    }

    /// The ports, as bound.
    pub fn published(&self) -> &[Published] {
        &self.published
    }

    /// New connections and datagrams go to `to` (the container's ports' network left: the next one's address).
    pub fn retarget(&mut self, to: Ipv4Addr) {
        self.to = to;
    }

    /// The listening sockets (kept open when the keeper closes the rest).
    pub fn fds(&self) -> Vec<i32> {
        self.published
            .iter()
            .map(|p| match &p.socket {
                Socket::Tcp(l) => l.as_raw_fd(),
                Socket::Udp(s) => s.as_raw_fd(),
            })
            .collect()
    }

    /// Milliseconds until the next idle check (-1: none needed).
    pub fn timeout_ms(&self) -> i32 {
        if !self.paused.is_empty() {
            ACCEPT_PAUSE.as_millis() as i32
        } else if self.udp.is_empty() {
            -1
        } else {
            1000
        }
    }

    /// Appends the fds to poll; `ready` gets the same entries back.
    pub fn interest(&mut self, out: &mut Vec<PollFd>) {
        self.slots.clear();
        self.paused.retain(|_, until| Instant::now() < *until);
        let mut add = |slots: &mut Vec<Slot>, fd: i32, events: i16, slot: Slot| {
            out.push(PollFd { fd, events, revents: 0 });
            slots.push(slot);
        };
        for (i, p) in self.published.iter().enumerate() {
            if self.paused.contains_key(&i) {
                continue;
            }
            let fd = match &p.socket {
                Socket::Tcp(l) => l.as_raw_fd(),
                Socket::Udp(s) => s.as_raw_fd(),
            };
            add(&mut self.slots, fd, POLLIN, Slot::Listener(i));
        }
        for (i, c) in self.conns.iter().enumerate() {
            if c.connecting {
                add(&mut self.slots, c.upstream.as_raw_fd(), POLLOUT, Slot::Upstream(i));
                continue;
            }
            let client = (if c.up.room() { POLLIN } else { 0 }) | (if c.down.pending() { POLLOUT } else { 0 });
            let upstream = (if c.down.room() { POLLIN } else { 0 }) | (if c.up.pending() { POLLOUT } else { 0 });
            add(&mut self.slots, c.client.as_raw_fd(), client, Slot::Client(i));
            add(&mut self.slots, c.upstream.as_raw_fd(), upstream, Slot::Upstream(i));
        }
        for (i, s) in self.udp.iter().enumerate() {
            add(&mut self.slots, s.socket.as_raw_fd(), POLLIN, Slot::Udp(i));
        }
    }

    pub fn ready(&mut self, fds: &[PollFd]) {
        let slots = std::mem::take(&mut self.slots);
        for (p, slot) in fds.iter().zip(slots.iter()) {
            if p.revents == 0 {
                continue;
            }
            match *slot {
                Slot::Listener(i) => self.accept(i),
                // A side polled for nothing (its buffer full, nothing to send it) that errs or hangs up
                // can make no progress and would wake every poll: a reset client of a container that
                // does not read kept the keeper at 100 % CPU.
                Slot::Client(i) | Slot::Upstream(i) if p.events == 0 && p.revents & (POLLERR | POLLHUP | POLLNVAL) != 0 => self.conns[i].dead = true,
                Slot::Client(i) | Slot::Upstream(i) => self.pump(i),
                Slot::Udp(i) => self.udp_reply(i),
            }
        }
        self.conns.retain(|c| !c.dead);
        self.expire_udp();
    }

    fn accept(&mut self, i: usize) {
        let target = SocketAddrV4::new(self.to, self.published[i].port.container_port);
        match &self.published[i].socket {
            Socket::Tcp(l) => {
                for _ in 0..64 {
                    let client = match l.accept() {
                        Ok((c, _)) => c,
                        Err(e) => {
                            if matches!(e.raw_os_error(), Some(n) if n == EMFILE.0 || n == ENFILE.0) {
                                self.paused.insert(i, Instant::now() + ACCEPT_PAUSE);
                            }
                            break;
                        }
                    };
                    let _ = client.set_nonblocking(true);
                    let _ = client.set_nodelay(true);
                    match socket::tcp_connect_start(target) {
                        Ok(fd) => {
                            let upstream = unsafe { TcpStream::from_raw_fd(fd) };
                            let _ = upstream.set_nodelay(true);
                            self.conns.push(Conn { client, upstream, connecting: true, up: Flow::new(), down: Flow::new(), dead: false });
                        }
                        Err(_) => drop(client), // nothing listens there: the client sees the close
                    }
                }
            }
            Socket::Udp(s) => {
                let mut buf = [0u8; 65536];
                loop {
                    let (n, from) = match s.recv_from(&mut buf) {
                        Ok(x) => x,
                        Err(_) => break,
                    };
                    let k = match self.udp_by_client.get(&(i, from)) {
                        Some(k) => *k,
                        None => {
                            if self.udp.iter().filter(|s| s.listener == i).count() >= MAX_UDP_SESSIONS {
                                evict_oldest(&mut self.udp, &mut self.udp_by_client, i);
                            }
                            let sock = match UdpSocket::bind("0.0.0.0:0").and_then(|u| u.connect(target).map(|()| u)) {
                                Ok(u) => u,
                                Err(_) => continue,
                            };
                            let _ = sock.set_nonblocking(true);
                            self.udp.push(UdpSession { listener: i, client: from, socket: sock, last: Instant::now() });
                            self.udp_by_client.insert((i, from), self.udp.len() - 1);
                            self.udp.len() - 1
                        }
                    };
                    let sess = &mut self.udp[k];
                    sess.last = Instant::now();
                    let _ = sess.socket.send(&buf[..n]);
                }
            }
        }
    }

    fn pump(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if c.connecting {
            if socket::connect_result(c.upstream.as_raw_fd()).is_err() {
                c.dead = true;
                return;
            }
            c.connecting = false;
        }
        let ok = c.up.fill(&mut c.client) && c.up.drain(&mut c.upstream) && c.down.fill(&mut c.upstream) && c.down.drain(&mut c.client);
        if !ok || (c.up.shut && c.down.shut) {
            c.dead = true;
        }
    }

    fn udp_reply(&mut self, k: usize) {
        let mut buf = [0u8; 65536];
        let sess = &mut self.udp[k];
        while let Ok(n) = sess.socket.recv(&mut buf) {
            sess.last = Instant::now();
            if let Socket::Udp(l) = &self.published[sess.listener].socket {
                let _ = l.send_to(&buf[..n], sess.client);
            }
        }
    }

    fn expire_udp(&mut self) {
        let before = self.udp.len();
        self.udp.retain(|s| s.last.elapsed() < UDP_IDLE);
        if self.udp.len() != before {
            self.udp_by_client = index_udp(&self.udp);
        }
    }
}

fn index_udp(udp: &[UdpSession]) -> HashMap<(usize, SocketAddr), usize> {
    udp.iter().enumerate().map(|(k, s)| ((s.listener, s.client), k)).collect()
}

/// The least recently used session of listener `i` goes (MAX_UDP_SESSIONS).
fn evict_oldest(udp: &mut Vec<UdpSession>, by_client: &mut HashMap<(usize, SocketAddr), usize>, i: usize) {
    let oldest = udp.iter().enumerate().filter(|(_, s)| s.listener == i).min_by_key(|(_, s)| s.last).map(|(k, _)| k);
    if let Some(k) = oldest {
        udp.swap_remove(k);
        *by_client = index_udp(udp);
    }
}

/// poll(2) over `fds`, retried on EINTR; `timeout_ms` -1 waits forever.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> Result<usize, Errno> {
    loop {
        let n = unsafe { crate::sys::ffi::poll(fds.as_mut_ptr(), fds.len() as _, timeout_ms) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = Errno::last();
        if e != EINTR && e != EAGAIN {
            return Err(e);
        }
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    fn port(host_port: u16, host_port_end: Option<u16>) -> Port {
        Port { host_ip: Ipv4Addr::LOCALHOST, host_port, host_port_end, container_port: 80, protocol: Protocol::Tcp }
    }

    /// A host range binds its first free port and publishes that one; a range all taken says so.
    #[test]
    fn a_host_range_binds_its_first_free_port() {
        // Two adjacent free ports: the first held by another listener.
        let (held, first) = (1..50)
            .find_map(|_| {
                let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
                let p = l.local_addr().ok()?.port();
                let next = TcpListener::bind((Ipv4Addr::LOCALHOST, p.checked_add(1)?)).ok()?;
                drop(next);
                Some((l, p))
            })
            .expect("two adjacent free ports");
        let got = bind(&[port(first, Some(first + 1))]).expect("the range's second port");
        assert_eq!(got[0].port, port(first + 1, None));
        let none = bind(&[port(first, Some(first + 1))]).err().expect("both taken now").to_string();
        assert!(none.contains(&format!("127.0.0.1:{}-{}/tcp: every port of the range is in use", first, first + 1)), "{}", none);
        let one = bind(&[port(first, None)]).err().expect("taken").to_string();
        assert!(one.contains("it is already in use"), "{}", one);
        drop((held, got));
    }
}
