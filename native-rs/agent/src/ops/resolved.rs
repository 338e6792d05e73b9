//! `resolved`: `{query, addresses}` or `{query, error}` — the host's resolver
//! answered a container's DNS question (`net_relay`'s `resolve` event).
//! `error` "ENOTFOUND"/"ENODATA" is NXDOMAIN, anything else SERVFAIL.

use crate::agent::{op_error, Agent};
use container::json::Json;
use container::net::dns;
use container::ErrorKind;
use std::net::Ipv4Addr;

impl Agent {
    pub(super) fn op_resolved(&mut self, id: u64, req: &Json) -> Result<(), Json> {
        let query = req.get("query").and_then(|v| v.as_number()).and_then(|n| n.as_u64()).unwrap_or(0);
        let addrs: Vec<Ipv4Addr> = req
            .get("addresses")
            .and_then(|v| v.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
            .unwrap_or_default();
        let rcode = match req.get("error").and_then(|v| v.as_str()) {
            None => dns::RCODE_OK,
            Some("ENOTFOUND") | Some("ENODATA") => dns::RCODE_NXDOMAIN,
            Some(_) => dns::RCODE_SERVFAIL,
        };
        if !self.relay.as_mut().map_or(false, |r| r.answer(query, rcode, &addrs)) {
            return Err(op_error(ErrorKind::Spec, "resolved names no waiting question"));
        }
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
