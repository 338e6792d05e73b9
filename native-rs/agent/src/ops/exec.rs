//! `exec`: a process in the running container `cid`, under the handle `eid`
//! (which `wait`, `signal`, `resize`, `stats` and `delete` then take as their
//! cid), in the container's cgroup (container::join finds it from the init).
//! Answered once it runs, like `start`.

use crate::agent::{no_such, op_error, Agent};
use crate::supervisor::Job;
use container::json::Json;
use container::join::Known;
use container::spec::Process;
use container::ErrorKind;

impl Agent {
    pub(super) fn op_exec(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let eid = self.new_eid(req, "exec")?;
        let (pid, filter, namespaces) = match self.ctrs.get(cid) {
            Some(c) if c.parent.is_none() && c.running() => {
                (c.pid.unwrap_or(0), c.filter.clone(), c.namespaces)
            }
            Some(c) if c.parent.is_none() => {
                return Err(op_error(
                    ErrorKind::NotRunning,
                    format!("container {} is not running", cid),
                ))
            }
            _ => return Err(no_such(cid)),
        };
        let process_json = req
            .get("process")
            .ok_or_else(|| op_error(ErrorKind::Spec, "exec needs a process"))?;
        let process = Process::from_document(process_json).map_err(super::spec_error)?;
        let chans = self.channels(req)?;
        // Lent to the supervisor (forked: it gets its own copy).
        let cgroup = self.ctrs.get_mut(cid).and_then(|c| c.cgroup.take());
        let job = Job::Exec {
            pid,
            process: &process,
            known: Known {
                namespaces,
                cgroup: cgroup.as_deref(),
                filter: filter.as_ref(),
            },
        };
        // A terminal of the container's own devpts: the process finds its name (ttyname) there.
        let root = std::path::PathBuf::from(format!("/proc/{}/root", pid));
        let started = self.start_supervisor(job, chans, process.terminal, process.console_size, Some(&root));
        if let Some(c) = self.ctrs.get_mut(cid) {
            c.cgroup = cgroup;
        }
        let mut c = started?;
        c.parent = Some(cid.to_string());
        c.start_req = Some(id);
        self.add(&eid, c);
        Ok(())
    }
}
