//! `connect`: `{cid, port, stdin, stdout}`, a TCP connection to `port` of
//! the container on its first network's address; host → container bytes on
//! the `stdin` channel, container → host on `stdout`. Answered once the
//! connection is made. What `-p` on the vm backend carries each accepted
//! connection over (and what a page can use the same way).

use crate::agent::socks::Sock;
use crate::agent::{no_such, op_error, Agent};
use container::json::Json;
use container::sys::socket;
use container::ErrorKind;
use std::net::SocketAddrV4;

impl Agent {
    pub(super) fn op_connect(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let (addr, input, output) = self.sock_target(cid, req, "connect")?;
        let fd = socket::tcp_connect_start(addr)
            .map_err(|e| op_error(ErrorKind::Setup, format!("connecting to {}: {}", addr, e.description())))?;
        self.add_sock(format!("sock:{}", output), Sock::new(fd, id, input, output));
        Ok(())
    }

    /// What `connect` and `datagram` ask for: the running container's address
    /// on its first network with the port, and the host's two channels.
    pub(super) fn sock_target(&self, cid: &str, req: &Json, op: &str) -> Result<(SocketAddrV4, u32, u32), Json> {
        if !self.ctrs.get(cid).map_or(false, |c| c.parent.is_none() && c.running()) {
            return Err(if self.ctrs.contains_key(cid) { op_error(ErrorKind::NotRunning, format!("container {} is not running", cid)) } else { no_such(cid) });
        }
        let port = req
            .get("port")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u32())
            .filter(|p| (1..=65535).contains(p))
            .ok_or_else(|| op_error(ErrorKind::Spec, format!("{} needs a port from 1 to 65535", op)))? as u16;
        let chans = self.channels(req)?;
        let (input, output) = match (chans.stdin, chans.stdout) {
            (Some(i), Some(o)) => (i, o),
            _ => return Err(op_error(ErrorKind::Spec, format!("{} needs a stdin and a stdout channel", op))),
        };
        Ok((SocketAddrV4::new(self.container_address(cid)?, port), input, output))
    }
}
