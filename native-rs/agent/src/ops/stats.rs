//! `stats`: the guest's memory and container count; with a cid, that
//! container's cgroup statistics and pid too.

use crate::agent::{no_such, Agent};
use crate::cgroup;
use container::json::Json;

impl Agent {
    pub(super) fn op_stats(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kb = |key: &str| -> Option<u64> {
            mem.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        let guest = Json::object(vec![
            ("memTotalKiB", Json::from(kb("MemTotal:"))),
            ("memAvailableKiB", Json::from(kb("MemAvailable:"))),
            ("containers", Json::from(self.ctrs.len() as u64)),
        ]);
        if cid.is_empty() {
            self.reply_ok(id, vec![("guest", guest)]);
            return Ok(());
        }
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        let stats = c
            .cgroup
            .as_ref()
            .map(|d| cgroup::stats(d))
            .unwrap_or(Json::Null);
        let pid = Json::from(c.pid);
        self.reply_ok(id, vec![("cgroup", stats), ("pid", pid), ("guest", guest)]);
        Ok(())
    }
}
