//! `stats`: the guest's memory and container count; with a cid, that
//! container's cgroup statistics (`stats`: what `tsbox-runtime stats` prints,
//! the contract fixture stats.json), pid, and its network namespace's
//! /proc/PID/net/dev as it is (`netDev`: the front end reads NET I/O from it
//! as from a native container's, src/network/net-io.ts).

use crate::agent::{no_such, Agent};
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
        let stats = self.cgroup_of(cid)?.stats().to_json();
        let pid = self.ctrs.get(cid).and_then(|c| c.pid);
        let net_dev = pid.and_then(|p| std::fs::read_to_string(format!("/proc/{}/net/dev", p)).ok());
        self.reply_ok(id, vec![("stats", stats), ("pid", Json::from(pid)), ("guest", guest), ("netDev", Json::from(net_dev))]);
        Ok(())
    }
}

impl Agent {
    /// The cgroup of a running container (`stats`, `top`, `pause`, `resume`).
    pub(super) fn cgroup_of(&self, cid: &str) -> Result<&dyn container::cgroups::Manager, Json> {
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        match (&c.cgroup, c.running()) {
            (Some(m), true) => Ok(&**m),
            _ => Err(crate::agent::op_error(
                container::ErrorKind::NotRunning,
                format!(
                    "container {} has no cgroup (it is not running, or runs without cgroups)",
                    cid.chars().take(12).collect::<String>()
                ),
            )),
        }
    }
}
