//! `datagram`: `{cid, port, stdin, stdout}`, a UDP socket connected to
//! `port` of the container on its first network's address; each DATA frame
//! on `stdin` is one datagram to it, each datagram it answers one DATA frame
//! on `stdout`. What `-p …/udp` on the vm backend opens per host peer (the
//! host keeps the peer ↔ channels mapping and ends an idle one with EOF).

use crate::agent::socks::Sock;
use crate::agent::{op_error, Agent};
use container::json::Json;
use container::sys::socket;
use container::ErrorKind;

impl Agent {
    pub(super) fn op_datagram(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let (addr, input, output) = self.sock_target(cid, req, "datagram")?;
        let fd = socket::udp_connect(addr).map_err(|e| op_error(ErrorKind::Setup, format!("udp to {}: {}", addr, e.description())))?;
        self.add_sock(format!("sock:{}", output), Sock::datagram(fd, input, output));
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
