//! `resize`: a process's terminal size (`cols`, `rows`); no-op without one.

use crate::agent::{no_such, Agent};
use container::json::Json;
use container::sys::tty;

impl Agent {
    pub(super) fn op_resize(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let n = |k: &str| {
            req.get(k)
                .and_then(|v| v.as_number())
                .and_then(|n| n.as_u64())
                .unwrap_or(0)
                .min(u16::MAX as u64) as u16
        };
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        if let Some(m) = c.io.pty_master {
            let _ = tty::set_winsize(m, n("rows"), n("cols"));
        }
        self.reply_ok(id, vec![]);
        Ok(())
    }
}
