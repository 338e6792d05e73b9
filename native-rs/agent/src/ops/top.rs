//! `top`: the processes of a running container — every pid in its cgroup
//! and the cgroups below it — as the guest's /proc shows them; the host
//! formats them in `ps -ef`'s columns (src/containers/ops/top.ts).

use crate::agent::Agent;
use container::json::Json;
use std::path::Path;

impl Agent {
    pub(super) fn op_top(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let mut pids = Vec::new();
        for (_, dir) in self.cgroup_of(cid)?.dirs() {
            cgroup_pids(&dir, &mut pids, 0);
        }
        pids.sort_unstable();
        pids.dedup();
        let processes: Vec<Json> = pids.into_iter().filter_map(process).collect();
        // Centiseconds since boot, the unit of the processes' times (USER_HZ is 100 on x86).
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|t| t.split_whitespace().next().and_then(|s| s.parse::<f64>().ok()))
            .map(|s| (s * 100.0) as u64);
        self.reply_ok(id, vec![("processes", Json::Array(processes)), ("uptimeTicks", Json::from(uptime))]);
        Ok(())
    }
}

/// The pids of a cgroup's `cgroup.procs` and of its children's (a container may make cgroups of its own).
fn cgroup_pids(dir: &Path, pids: &mut Vec<i32>, depth: usize) {
    if let Ok(text) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    }
    if depth >= 16 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().map_or(false, |t| t.is_dir()) {
                cgroup_pids(&e.path(), pids, depth + 1);
            }
        }
    }
}

/// One process from /proc/PID/{stat,status,cmdline}; None once it is gone.
fn process(pid: i32) -> Option<Json> {
    let base = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(base.join("stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields follow its last ')'.
    let (open, close) = (stat.find('(')?, stat.rfind(')')?);
    let comm = &stat[open + 1..close];
    let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<i64>().ok());
    let uid = std::fs::read_to_string(base.join("status")).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|u| u.parse::<u32>().ok())
    });
    let cmdline = std::fs::read(base.join("cmdline")).unwrap_or_default();
    let args: Vec<String> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let cmd = if args.is_empty() { format!("[{}]", comm) } else { args.join(" ") };
    Some(Json::object(vec![
        ("pid", Json::from(pid)),
        ("ppid", Json::from(field(1))),
        ("uid", Json::from(uid)),
        ("tty", Json::from(field(4))),
        ("cpuTicks", Json::from(field(11).and_then(|u| field(12).map(|s| u + s)))),
        ("startTicks", Json::from(field(19))),
        ("cmd", Json::from(cmd)),
    ]))
}
