//! `start`: opens a created container's gate. Answered later, from its
//! status pipe: the pid once `execve` succeeded, or the setup error.

use crate::agent::{no_such, op_error, Agent};
use container::json::Json;
use container::sys::fd;
use container::ErrorKind;

impl Agent {
    pub(super) fn op_start(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let c = self.ctrs.get_mut(cid).ok_or_else(|| no_such(cid))?;
        let gate = c.gate_w.take().ok_or_else(|| {
            op_error(
                ErrorKind::Setup,
                format!("container {} was started already", cid),
            )
        })?;
        let opened = fd::write_all(gate, b"1");
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
