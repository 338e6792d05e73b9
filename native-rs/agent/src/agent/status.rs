//! A supervisor's status pipe: the same newline-delimited JSON events
//! tsbox-runtime writes (`container::status`): `started` answers the pending
//! `start`/`exec`, `error` fails it, `exited` is kept for `wait`.

use super::Agent;
use container::json::{self, Json};
use container::{Error, ErrorKind};

impl Agent {
    pub(crate) fn read_status(&mut self, cid: &str) {
        let lines = match self.ctrs.get_mut(cid) {
            Some(c) => c.read_status_lines(),
            None => return,
        };
        for line in lines {
            let ev = match json::parse(&line) {
                Ok(ev) => ev,
                Err(_) => continue,
            };
            let c = self.ctrs.get_mut(cid).unwrap();
            let int = |key: &str| {
                ev.get(key)
                    .and_then(|v| v.as_number())
                    .and_then(|n| n.as_i64())
            };
            match ev.get("event").and_then(|v| v.as_str()) {
                Some("started") => {
                    let pid = int("pid").map(|p| p as i32);
                    c.pid = pid;
                    if let Some(req) = c.start_req.take() {
                        let networks = if c.parent.is_none() { network_records(cid) } else { Json::Array(Vec::new()) };
                        self.reply_ok(req, vec![("pid", Json::from(pid)), ("networks", networks)]);
                    }
                }
                Some("error") => {
                    let kind = ev
                        .get("kind")
                        .and_then(|v| v.as_str())
                        .and_then(ErrorKind::parse)
                        .unwrap_or(ErrorKind::Setup);
                    let message = ev
                        .get("message")
                        .and_then(|v| v.as_str())
                        .unwrap_or("container setup failed");
                    let e = Error::new(kind, message).to_report();
                    c.error = Some(e.clone());
                    if let Some(req) = c.start_req.take() {
                        self.reply_err(req, e);
                    }
                }
                Some("exited") => {
                    container::trace::mark(&format!("agent: exited {}", cid));
                    let code = int("exitCode").unwrap_or(125) as i32;
                    let sig = ev
                        .get("signal")
                        .and_then(|v| v.as_str())
                        .map(|s| s.to_string());
                    c.exited = Some((code, sig));
                    c.oom_killed = ev.get("oomKilled").and_then(|v| v.as_bool()) == Some(true);
                    // What a `--pid container:X` container left in X's PID namespace dies
                    // with its init, as runc kills the container's cgroup (leftovers.rs's rule):
                    // it held the container's stdio open, and `wait` waited for it. Here, not
                    // in the supervisor: that one joined X's user namespace, where the guest's
                    // cgroup files are not its own.
                    if let (Some(spec), Some(cg)) = (&c.spec, &c.cgroup) {
                        if container::leftovers::outlive_init(spec) {
                            container::cgroups::kill_processes(&**cg);
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The attachment records its network keeper wrote (`net/attach-*.json` in
/// the container's guest dir): the host shows them (`tsbox port`, inspect).
fn network_records(cid: &str) -> Json {
    let dir = crate::supervisor::container_dir(cid).join("net");
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("attach-") && name.ends_with(".json") {
                if let Some(doc) = std::fs::read_to_string(e.path()).ok().and_then(|t| json::parse(&t).ok()) {
                    out.push(doc);
                }
            }
        }
    }
    Json::Array(out)
}
