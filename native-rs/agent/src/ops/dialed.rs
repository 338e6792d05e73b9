//! `dialed`: `{dial, stdin, stdout}` — the host connected out for a
//! container's connection (`net_relay`'s `dial` event): its held SYN is let
//! through and, once the container's handshake reaches the relay listener,
//! host → container bytes go on `stdin`, container → host on `stdout`,
//! answered once spliced; or `{dial, error}`: the host could not, and the
//! container's connect() fails (refused for ECONNREFUSED, net or host
//! unreachable else: `net_relay::icmp`).

use crate::agent::{op_error, Agent};
use crate::net_relay::Ready;
use container::json::Json;
use container::ErrorKind;
use std::time::Instant;

impl Agent {
    pub(super) fn op_dialed(&mut self, id: u64, req: &Json) -> Result<(), Json> {
        let dial = req.get("dial").and_then(|v| v.as_number()).and_then(|n| n.as_u64());
        let waiting = dial.map_or(false, |d| self.relay.as_ref().map_or(false, |r| r.dials.contains_key(&d)));
        let dial = match dial {
            Some(d) if waiting => d,
            _ => return Err(op_error(ErrorKind::Spec, "dialed names no waiting connection")),
        };
        if let Some(error) = req.get("error") {
            self.relay_dialed(dial, Some(error.as_str().unwrap_or("")), None);
            self.reply_ok(id, vec![]);
            return Ok(());
        }
        let ready = match self.channels(req).map(|c| (c.stdin, c.stdout)) {
            Ok((Some(stdin), Some(stdout))) => Ready { request: id, dial, stdin, stdout, since: Instant::now() },
            Ok(_) | Err(_) => {
                // The container's attempt fails rather than waiting for a retransmission.
                self.relay_dialed(dial, Some("bad dialed"), None);
                return Err(op_error(ErrorKind::Spec, "dialed needs a stdin and a stdout channel, new and not 0"));
            }
        };
        self.relay_dialed(dial, None, Some(ready));
        Ok(())
    }
}
