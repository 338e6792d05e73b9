//! `signal`: a signal to a running process (`delivered: false` once it ended).

use crate::agent::{no_such, Agent};
use container::json::Json;
use container::sys::process;
use std::os::raw::c_int;

impl Agent {
    pub(super) fn op_signal(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let sig = req
            .get("signal")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_i64())
            .unwrap_or(15) as c_int;
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        let sent = match c.pid {
            Some(pid) if c.running() => process::kill(pid, sig).is_ok(),
            _ => false,
        };
        self.reply_ok(id, vec![("delivered", Json::from(sent))]);
        Ok(())
    }
}
