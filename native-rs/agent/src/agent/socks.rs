//! Connections into containers (a published port on the vm backend: the
//! host listens and carries each connection over the link, as Docker
//! Desktop does): one TCP socket per connection, its two directions on two
//! channels with the same credit rules as a process's stdin and stdout. A
//! published UDP port's peer (`datagram`) is a connected UDP socket whose
//! channels carry one datagram per DATA frame.

use super::{op_error, Agent};
use crate::stdio::{InStream, OutStream, Streams};
use container::json::Json;
use container::sys::{fd, socket};
use container::ErrorKind;
use std::os::raw::c_int;

pub struct Sock {
    pub fd: c_int,
    /// The `connect` request, answered once the connection is made (or refused).
    pub connecting: Option<u64>,
    pub io: Streams,
}

impl Sock {
    pub fn new(fd: c_int, request: u64, host_to_guest: u32, guest_to_host: u32) -> Sock {
        let mut input = InStream::new(fd, host_to_guest);
        input.socket = true;
        Sock {
            fd,
            connecting: Some(request),
            io: Streams {
                stdin: Some(input),
                stdout: Some(OutStream::new(fd, guest_to_host)),
                stderr: None,
                pty_master: None,
            },
        }
    }

    /// A UDP socket connected to a container's port (`datagram`): ready at once.
    pub fn datagram(fd: c_int, host_to_guest: u32, guest_to_host: u32) -> Sock {
        let mut sock = Sock::new(fd, 0, host_to_guest, guest_to_host);
        sock.connecting = None;
        if let Some(s) = sock.io.stdin.as_mut() {
            s.datagram = true;
        }
        if let Some(s) = sock.io.stdout.as_mut() {
            s.datagram = true;
        }
        sock
    }

    /// Both directions over: the container side sent EOF and so did the host.
    fn finished(&self) -> bool {
        self.io.stdout.as_ref().map_or(true, |s| s.done) && self.io.stdin.as_ref().map_or(true, |s| s.closed)
    }
}

impl Agent {
    /// A process's or a connection's streams, by handle.
    pub(crate) fn streams_mut(&mut self, handle: &str) -> Option<&mut Streams> {
        match self.ctrs.get_mut(handle) {
            Some(c) => Some(&mut c.io),
            None => self.socks.get_mut(handle).map(|s| &mut s.io),
        }
    }

    pub(crate) fn add_sock(&mut self, handle: String, sock: Sock) {
        for chan in sock.io.channels() {
            if sock.io.stdin.as_ref().map(|s| s.chan) == Some(chan) {
                self.in_chans.insert(chan, handle.clone());
            } else {
                self.out_chans.insert(chan, handle.clone());
            }
        }
        self.socks.insert(handle, sock);
    }

    /// The connection is made or failed: answer `connect`.
    pub(crate) fn sock_connected(&mut self, handle: &str) {
        let (req, result) = match self.socks.get_mut(handle) {
            Some(s) => (s.connecting.take(), socket::connect_result(s.fd)),
            None => return,
        };
        let req = match req {
            Some(r) => r,
            None => return,
        };
        match result {
            Ok(()) => self.reply_ok(req, vec![]),
            Err(e) => {
                self.reply_err(req, op_error(ErrorKind::Setup, format!("connecting to the container: {}", e.description())));
                self.drop_sock(handle);
            }
        }
    }

    /// Closes finished connections.
    pub(crate) fn reap_socks(&mut self) {
        let done: Vec<String> = self.socks.iter().filter(|(_, s)| s.connecting.is_none() && s.finished()).map(|(h, _)| h.clone()).collect();
        for h in done {
            self.drop_sock(&h);
        }
    }

    fn drop_sock(&mut self, handle: &str) {
        if let Some(s) = self.socks.remove(handle) {
            for chan in s.io.channels() {
                self.in_chans.remove(&chan);
                self.out_chans.remove(&chan);
            }
            fd::close(s.fd);
        }
    }

    /// The container's address on its first network, from the record its
    /// network keeper wrote in the container's guest dir.
    pub(crate) fn container_address(&self, cid: &str) -> Result<std::net::Ipv4Addr, Json> {
        let dir = crate::supervisor::container_dir(cid).join("net");
        let mut records: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.file_name().and_then(|n| n.to_str()).map_or(false, |n| n.starts_with("attach-"))).collect())
            .unwrap_or_default();
        records.sort();
        records
            .iter()
            .filter_map(|p| container::json::parse(&std::fs::read_to_string(p).ok()?).ok())
            .find_map(|doc| doc.get("ip")?.as_str()?.parse().ok())
            .ok_or_else(|| op_error(ErrorKind::Setup, format!("container {} is on no network", cid)))
    }
}
