//! `dialed`: `{dial, stdin, stdout}` — the host connected out for a
//! container's connection (`net_relay`'s `dial` event): host → container
//! bytes on `stdin`, container → host on `stdout`, answered once spliced;
//! or `{dial, error}`: the host could not, and the container's connection is
//! reset.

use crate::agent::socks::Sock;
use crate::agent::{op_error, Agent};
use container::json::Json;
use container::sys::{fd, socket};
use container::ErrorKind;

impl Agent {
    pub(super) fn op_dialed(&mut self, id: u64, req: &Json) -> Result<(), Json> {
        let dial = req.get("dial").and_then(|v| v.as_number()).and_then(|n| n.as_u64());
        let conn = dial.and_then(|d| self.relay.as_mut().and_then(|r| r.dials.remove(&d)));
        let (dial, conn) = match (dial, conn) {
            (Some(d), Some(c)) => (d, c),
            _ => return Err(op_error(ErrorKind::Spec, "dialed names no waiting connection")),
        };
        if req.get("error").is_some() {
            // The guest's kernel accepted before the host could try: a reset is the nearest to a refusal.
            let _ = socket::reset_on_close(conn);
            fd::close(conn);
            self.reply_ok(id, vec![]);
            return Ok(());
        }
        let chans = match self.channels(req) {
            Ok(c) => c,
            Err(e) => {
                fd::close(conn);
                return Err(e);
            }
        };
        match (chans.stdin, chans.stdout) {
            // Answered by `sock_connected` once the (already made) connection polls writable.
            (Some(i), Some(o)) => self.add_sock(format!("dial:{}", dial), Sock::new(conn, id, i, o)),
            _ => {
                fd::close(conn);
                return Err(op_error(ErrorKind::Spec, "dialed needs a stdin and a stdout channel"));
            }
        }
        Ok(())
    }
}
