//! `delete`: forgets a container and the processes exec'd into it, or one
//! exec'd process, killing what is left; a container's tmpfs and cgroup go
//! once its supervisor has ended.

use crate::agent::{no_such, Agent};
use container::json::Json;

impl Agent {
    pub(super) fn op_delete(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        if !self.ctrs.contains_key(cid) {
            return Err(no_such(cid));
        }
        let execs: Vec<String> = self
            .ctrs
            .iter()
            .filter(|(_, c)| c.parent.as_deref() == Some(cid))
            .map(|(eid, _)| eid.clone())
            .collect();
        for handle in execs.iter().map(String::as_str).chain(Some(cid)) {
            self.forget(handle);
        }
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
