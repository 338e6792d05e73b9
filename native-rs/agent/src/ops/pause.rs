//! `pause`: freezes every process of a running container (its cgroup's
//! freezer); answered once the kernel says frozen.

use crate::agent::Agent;
use container::json::Json;

impl Agent {
    pub(super) fn op_pause(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        self.cgroup_of(cid)?.freeze().map_err(|e| e.to_report())?;
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
