//! `wait`: answered with `{exitCode, signal}` once the process has ended and
//! its output channels' EOFs went out before the answer.

use crate::agent::{no_such, Agent};
use container::json::Json;

impl Agent {
    pub(super) fn op_wait(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let c = self.ctrs.get_mut(cid).ok_or_else(|| no_such(cid))?;
        c.wait_reqs.push(id);
        let cid = cid.to_string();
        self.maybe_finish(&cid);
        Ok(())
    }
}
