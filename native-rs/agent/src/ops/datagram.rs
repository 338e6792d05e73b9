//! `datagram`: `{cid, port, stdin, stdout}`, a UDP socket connected to
//! `port` of the container on its first network's address; each DATA frame
//! on `stdin` is one datagram to it, each datagram it answers one DATA frame
//! on `stdout`. What `-p …/udp` on the vm backend opens per host peer (the
//! host keeps the peer ↔ channels mapping and ends an idle one with EOF).

use crate::agent::socks::Sock;
use crate::agent::{no_such, op_error, Agent};
use container::json::Json;
use container::sys::socket;
use container::ErrorKind;
use std::net::SocketAddrV4;

impl Agent {
    pub(super) fn op_datagram(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        if !self.ctrs.get(cid).map_or(false, |c| c.parent.is_none() && c.running()) {
            return Err(if self.ctrs.contains_key(cid) { op_error(ErrorKind::NotRunning, format!("container {} is not running", cid)) } else { no_such(cid) });
        }
        let port = req
            .get("port")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u32())
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| op_error(ErrorKind::Spec, "datagram needs a port from 1 to 65535"))? as u16;
        let chans = self.channels(req)?;
        let (input, output) = match (chans.stdin, chans.stdout) {
            (Some(i), Some(o)) => (i, o),
            _ => return Err(op_error(ErrorKind::Spec, "datagram needs a stdin and a stdout channel")),
        };
        let ip = self.container_address(cid)?;
        let fd = socket::udp_connect(SocketAddrV4::new(ip, port))
            .map_err(|e| op_error(ErrorKind::Setup, format!("udp to {}:{}: {}", ip, port, e.description())))?;
        self.add_sock(format!("sock:{}", output), Sock::datagram(fd, input, output));
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
