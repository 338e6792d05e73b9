//! `resume`: thaws a paused container.

use crate::agent::Agent;
use container::json::Json;

impl Agent {
    pub(super) fn op_resume(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        self.cgroup_of(cid)?.thaw().map_err(|e| e.to_report())?;
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
