//! `start`: opens a created container's gate. Answered later, from its
//! status pipe: the pid once `execve` succeeded, or the setup error. A
//! spare's gate takes its process (the request's `process`, or `null`: its
//! own), which container::spare checks against the spare's.

use crate::agent::{no_such, op_error, Agent};
use container::json::Json;
use container::sys::fd;
use container::ErrorKind;

/// A spare's process goes through its gate pipe in one write, which must not
/// wait for the container to read it: at most the pipe's capacity.
const MAX_LATE_PROCESS: usize = 64 * 1024;

impl Agent {
    pub(super) fn op_start(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let c = self.ctrs.get_mut(cid).ok_or_else(|| no_such(cid))?;
        // A spare that failed while it was set up ahead: its error is the start's.
        if let Some(e) = &c.error {
            return Err(e.clone());
        }
        let late = req.get("process");
        let message = match (c.spare, late) {
            (false, None) => "1".to_string(),
            (false, Some(_)) => {
                return Err(op_error(ErrorKind::Spec, format!("container {} is not a spare: its process was given at create", cid)))
            }
            (true, p) => p.map_or_else(|| "null".to_string(), |p| p.to_string()),
        };
        if message.len() > MAX_LATE_PROCESS {
            return Err(op_error(
                ErrorKind::Spec,
                format!("a spare container's process is limited to {} KiB (this one has {} bytes)", MAX_LATE_PROCESS / 1024, message.len()),
            ));
        }
        let gate = c.gate_w.take().ok_or_else(|| {
            op_error(
                ErrorKind::Setup,
                format!("container {} was started already", cid),
            )
        })?;
        let opened = fd::write_all(gate, message.as_bytes());
        fd::close(gate);
        if let Err(e) = opened {
            return Err(op_error(
                ErrorKind::Setup,
                format!("starting the supervisor: {}", e.description()),
            ));
        }
        c.start_req = Some(id);
        Ok(())
    }
}
