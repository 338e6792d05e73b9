//! `copy`: `tsbox cp` (and `export`) of a running container — the same
//! operation as `tsbox-runtime copy --pid` (container::copy::op) inside the
//! container's namespaces, under the handle `eid` like an exec'd process
//! (`wait`, `signal`, `delete` take it). Records travel on its stdout or
//! stdin channel, a `stat` answer on stdout, and a failure as a status
//! event line on its stderr channel (the native helper's status fd).

use crate::agent::{no_such, op_error, Agent};
use crate::supervisor::Job;
use container::copy::op::{Op, Request};
use container::json::Json;
use container::ErrorKind;
use std::path::PathBuf;

impl Agent {
    pub(super) fn op_copy(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let eid = req
            .get("eid")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        self.check_new_id(&eid, "copy needs an eid")?;
        let pid = match self.ctrs.get(cid) {
            Some(c) if c.parent.is_none() && c.running() => c.pid.unwrap_or(0),
            Some(c) if c.parent.is_none() => {
                return Err(op_error(
                    ErrorKind::NotRunning,
                    format!("container {} is not running", cid),
                ))
            }
            _ => return Err(no_such(cid)),
        };
        let copy = req
            .get("copy")
            .ok_or_else(|| op_error(ErrorKind::Spec, "copy needs a copy object"))?;
        let text = |key: &str| copy.get(key).and_then(|v| v.as_str());
        let switch = |key: &str| copy.get(key).and_then(|v| v.as_bool());
        let path = text("path")
            .filter(|p| p.starts_with('/'))
            .map(PathBuf::from)
            .ok_or_else(|| op_error(ErrorKind::Spec, "copy needs an absolute path"))?;
        let mut op = Op::from_request(Request {
            op: text("op").unwrap_or(""),
            follow: switch("follow") == Some(true),
            name: text("name").map(|n| n.to_string()),
            content: switch("content") != Some(false),
            markers: false,
            archive: switch("archive") == Some(true),
        })
        .map_err(|m| op_error(ErrorKind::Spec, m))?;
        // `export`: the container's volumes are not its files.
        if let (Op::Read(o), Some(Json::Array(skip))) = (&mut op, copy.get("skip")) {
            o.skip = skip.iter().filter_map(|p| p.as_str()).map(PathBuf::from).collect();
        }
        let chans = self.channels(req)?;
        let mut c = self.start_supervisor(Job::Copy { pid, op, path }, chans, false, None, None)?;
        c.parent = Some(cid.to_string());
        c.start_req = Some(id);
        self.add(&eid, c);
        Ok(())
    }
}
