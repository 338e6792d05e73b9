//! rtnetlink, spoken directly: requests built by hand (nlmsghdr + the
//! operation's fixed header + rtattrs, host byte order), one request in
//! flight, acknowledged by the kernel with NLMSG_ERROR (0 or -errno).
//! Chosen over running `ip`: no dependency on iproute2 (the vm guest has only
//! the agent), no process per call, errors as errno values. See
//! docs/architecture.md "Networking".

use crate::error::{Context, Error};
use crate::sys::consts::CLONE_NEWNET;
use crate::sys::errno::EINVAL;
use crate::sys::{fd, process, socket, Errno};
use std::fs::File;
use std::os::raw::c_int;
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;

const HEADER: usize = 16;

/// One message under construction: the nlmsghdr (length filled in at the
/// end), the fixed header, then attributes, some nested.
pub struct Message {
    buf: Vec<u8>,
    nests: Vec<usize>,
}

impl Message {
    pub fn new(kind: u16, flags: u16, fixed: &[u8]) -> Message {
        let mut buf = Vec::with_capacity(256);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set by finish
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // sequence, set by the socket
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel's
        buf.extend_from_slice(fixed);
        pad(&mut buf);
        Message { buf, nests: Vec::new() }
    }

    pub fn attr(&mut self, kind: u16, data: &[u8]) -> &mut Message {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        pad(&mut self.buf);
        self
    }

    pub fn attr_str(&mut self, kind: u16, text: &str) -> &mut Message {
        let mut data = text.as_bytes().to_vec();
        data.push(0);
        self.attr(kind, &data)
    }

    pub fn attr_u32(&mut self, kind: u16, value: u32) -> &mut Message {
        self.attr(kind, &value.to_ne_bytes())
    }

    /// Opens a nested attribute; `end` closes the innermost one. A nested
    /// attribute may also start with a fixed header (`raw`), as a veth
    /// peer's ifinfomsg does.
    pub fn begin(&mut self, kind: u16) -> &mut Message {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self
    }

    pub fn raw(&mut self, bytes: &[u8]) -> &mut Message {
        self.buf.extend_from_slice(bytes);
        pad(&mut self.buf);
        self
    }

    pub fn end(&mut self) -> &mut Message {
        let start = self.nests.pop().expect("end without begin");
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
        self
    }

    fn finish(&mut self, seq: u32) -> &[u8] {
        assert!(self.nests.is_empty(), "unclosed nested attribute");
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        self.buf[8..12].copy_from_slice(&seq.to_ne_bytes());
        &self.buf
    }

    #[cfg(test)]
    pub fn bytes(&mut self) -> Vec<u8> {
        self.finish(1).to_vec()
    }

    /// The finished message with sequence number `seq`, for a batch of
    /// several in one send (nfnetlink's transactions).
    pub fn encode(&mut self, seq: u32) -> Vec<u8> {
        self.finish(seq).to_vec()
    }
}

fn pad(buf: &mut Vec<u8>) {
    while buf.len() % 4 != 0 {
        buf.push(0);
    }
}

/// A reply message: its type and what follows the nlmsghdr.
pub struct Reply {
    pub kind: u16,
    pub payload: Vec<u8>,
}

/// A NETLINK_ROUTE socket in one network namespace.
pub struct Netlink {
    fd: c_int,
    seq: u32,
}

impl Netlink {
    /// In our own network namespace.
    pub fn open() -> Result<Netlink, Error> {
        let fd = socket::netlink_route(5000).step(|| "opening a netlink socket")?;
        Ok(Netlink { fd, seq: 0 })
    }

    /// In the network namespace `netns` (a /proc/PID/ns/net file): we step
    /// in, open the socket (which stays bound to that namespace) and step
    /// back. Must be called from a single-threaded process.
    pub fn open_in(netns: &Path) -> Result<Netlink, Error> {
        let step = || format!("entering network namespace {}", netns.display());
        let own = File::open("/proc/thread-self/ns/net").step(|| "opening /proc/thread-self/ns/net")?;
        let target = File::open(netns).step(step)?;
        process::setns(target.as_raw_fd(), CLONE_NEWNET).step(step)?;
        let opened = Netlink::open();
        process::setns(own.as_raw_fd(), CLONE_NEWNET).step(|| "returning to our network namespace")?;
        opened
    }

    /// Sends `msg` and waits for its acknowledgement; returns the other
    /// messages the kernel answered with first (a `get`'s object).
    pub fn request(&mut self, msg: &mut Message) -> Result<Vec<Reply>, Errno> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        socket::send(self.fd, msg.finish(seq))?;
        let mut replies = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let n = socket::recv(self.fd, &mut buf)?;
            let mut received = messages(&buf[..n]);
            for (kind, their_seq, payload) in &mut received {
                if their_seq != seq {
                    continue; // a late answer to an earlier request
                }
                match kind {
                    NLMSG_ERROR => {
                        let code = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
                        return if code == 0 { Ok(replies) } else { Err(Errno(-code)) };
                    }
                    NLMSG_DONE => return Ok(replies),
                    _ => replies.push(Reply { kind, payload: payload.to_vec() }),
                }
            }
            if received.malformed {
                return Err(EINVAL);
            }
        }
    }
}

impl Netlink {
    pub fn raw_fd(&self) -> c_int {
        self.fd
    }
}

impl Drop for Netlink {
    fn drop(&mut self) {
        fd::close(self.fd);
    }
}

/// The messages of one received datagram, in order: (type, sequence
/// number, what follows the nlmsghdr). It stops at a length that does not
/// fit, and says so in `malformed`.
pub struct Messages<'a> {
    buf: &'a [u8],
    at: usize,
    pub malformed: bool,
}

pub fn messages(buf: &[u8]) -> Messages<'_> {
    Messages { buf, at: 0, malformed: false }
}

impl<'a> Iterator for Messages<'a> {
    type Item = (u16, u32, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (buf, at) = (self.buf, self.at);
        if at + HEADER > buf.len() {
            return None;
        }
        let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
        if len < HEADER || at + len > buf.len() {
            self.malformed = true;
            self.at = buf.len();
            return None;
        }
        let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
        let seq = u32::from_ne_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]);
        self.at = at + ((len + 3) & !3);
        Some((kind, seq, &buf[at + HEADER..at + len]))
    }
}

/// Attributes of a reply payload after its fixed header of `skip` bytes.
pub fn attrs(payload: &[u8], skip: usize) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = (skip + 3) & !3;
    while at + 4 <= payload.len() {
        let len = u16::from_ne_bytes([payload[at], payload[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([payload[at + 2], payload[at + 3]]) & 0x3fff;
        if len < 4 || at + len > payload.len() {
            break;
        }
        out.push((kind, &payload[at + 4..at + len]));
        at += (len + 3) & !3;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_nested_attributes() {
        let mut m = Message::new(16, NLM_F_CREATE, &[0u8; 16]);
        m.attr_str(3, "br0").begin(18).attr_str(1, "bridge").end();
        let b = m.bytes();
        assert_eq!(b.len(), 16 + 16 + 8 + 4 + 12);
        assert_eq!(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize, b.len());
        assert_eq!(u16::from_ne_bytes([b[6], b[7]]), NLM_F_CREATE | NLM_F_REQUEST | NLM_F_ACK);
        // IFLA_IFNAME "br0\0": len 8, no padding needed.
        assert_eq!(&b[32..40], &[8, 0, 3, 0, b'b', b'r', b'0', 0]);
        // IFLA_LINKINFO holds IFLA_INFO_KIND "bridge\0" (len 11, padded to 12).
        assert_eq!(u16::from_ne_bytes([b[40], b[41]]), 16);
        assert_eq!(&b[44..46], &[11, 0]);
        let parsed = attrs(&b[16..], 16);
        assert_eq!(parsed[0], (3, &b"br0\0"[..]));
        assert_eq!(parsed[1].0, 18);
        assert_eq!(attrs(parsed[1].1, 0)[0], (1, &b"bridge\0"[..]));
    }
}
