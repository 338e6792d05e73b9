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
        let processes = within_frame(pids);
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

/// What the processes may take of the reply: the host skips a control frame over 64 KiB (frame.rs), and one
/// process with a 70 KB command line (a hostile one, or a JVM's classpath) made `top` time out for the whole
/// container. Command lines are cut to a length that lets every process fit; past the shortest, the last
/// processes are left out.
const PROCESSES_BUDGET: usize = 56 * 1024;

fn within_frame(pids: Vec<i32>) -> Vec<Json> {
    for cap in [4096, 512, 64] {
        let listed: Vec<Json> = pids.iter().filter_map(|&pid| process(pid, cap)).collect();
        if listed.iter().map(|p| p.to_string().len() + 1).sum::<usize>() <= PROCESSES_BUDGET {
            return listed;
        }
    }
    let mut used = 0;
    pids.iter()
        .filter_map(|&pid| process(pid, 64))
        .take_while(|p| {
            used += p.to_string().len() + 1;
            used <= PROCESSES_BUDGET
        })
        .collect()
}

/// At most `cap` bytes of `text`, cut at a character boundary and marked.
fn cut(text: String, cap: usize) -> String {
    if text.len() <= cap {
        return text;
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// One process from /proc/PID/{stat,status,cmdline}, its command line cut to `cap` bytes; None once it is gone.
fn process(pid: i32, cap: usize) -> Option<Json> {
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
    let cmd = cut(if args.is_empty() { format!("[{}]", comm) } else { args.join(" ") }, cap);
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

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cuts_long_command_lines_at_a_character_boundary() {
        assert_eq!(cut("sleep 5".to_string(), 64), "sleep 5");
        assert_eq!(cut("a".repeat(70_000), 4096).len(), 4096 + "…".len());
        // "é" is two bytes: a cut inside it moves back to its start.
        assert_eq!(cut("aé".to_string(), 2), "a…");
    }
}
