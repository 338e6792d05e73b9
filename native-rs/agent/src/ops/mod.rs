//! The agent's requests, one file per op (`{"id":N,"op":"…","cid":"…",…}` on
//! channel 0). Each answers with `reply_ok` or returns the error object that
//! `on_request` sends back. The list is checked against the TS side by the
//! contract fixture `test/fixtures/contract/agent-ops.json`.

mod connect;
mod copy;
mod create;
mod datagram;
mod delete;
mod dialed;
mod exec;
mod hello;
mod net_attach;
mod pause;
mod resize;
mod resolved;
mod resume;
mod signal;
mod start;
mod stats;
mod top;
mod update;
mod wait;

use crate::agent::{op_error, Agent};
use crate::stdio::Channels;
use container::json::Json;
use container::ErrorKind;

/// Every op the agent serves (checked against the contract fixture).
#[cfg_attr(not(test), allow(dead_code))]
pub const OPS: [&str; 21] = [
    "hello", "create", "start", "exec", "signal", "resize", "wait", "stats", "pause", "resume",
    "delete", "ping", "connect", "dialed", "resolved", "datagram", "net-attach", "net-detach",
    "update", "copy", "top",
];

impl Agent {
    pub(crate) fn on_request(&mut self, req: &Json) {
        let id = req
            .get("id")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u64());
        let id = match id {
            Some(id) => id,
            None => return self.reject(0, "request without a numeric id"),
        };
        let op = req.get("op").and_then(|v| v.as_str()).unwrap_or("");
        let cid = req
            .get("cid")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        container::trace::mark(&format!("agent: {} {}", op, cid));
        let result = match op {
            "hello" => self.op_hello(id, req),
            "create" => self.op_create(id, &cid, req),
            "start" => self.op_start(id, &cid, req),
            "exec" => self.op_exec(id, &cid, req),
            "copy" => self.op_copy(id, &cid, req),
            "signal" => self.op_signal(id, &cid, req),
            "resize" => self.op_resize(id, &cid, req),
            "wait" => self.op_wait(id, &cid),
            "stats" => self.op_stats(id, &cid),
            "top" => self.op_top(id, &cid),
            "pause" => self.op_pause(id, &cid),
            "resume" => self.op_resume(id, &cid),
            "update" => self.op_update(id, &cid, req),
            "delete" => self.op_delete(id, &cid),
            "connect" => self.op_connect(id, &cid, req),
            "datagram" => self.op_datagram(id, &cid, req),
            "net-attach" => self.op_net_attach(id, &cid, req),
            "net-detach" => self.op_net_detach(id, &cid, req),
            "dialed" => self.op_dialed(id, req),
            "resolved" => self.op_resolved(id, req),
            "ping" => {
                self.reply_ok(id, vec![]);
                Ok(())
            }
            _ => Err(op_error(
                ErrorKind::Spec,
                format!("unknown request {:?}", op),
            )),
        };
        if let Err(e) = result {
            self.reply_err(id, e);
        }
    }

    /// A cid or eid: `[A-Za-z0-9_-]{1,64}`, not in use.
    fn check_new_id(&self, id: &str, what: &str) -> Result<(), Json> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(op_error(
                ErrorKind::Spec,
                format!("{} of [A-Za-z0-9_-]{{1,64}}", what),
            ));
        }
        if self.ctrs.contains_key(id) {
            return Err(op_error(
                ErrorKind::Spec,
                format!("container {} exists", id),
            ));
        }
        Ok(())
    }

    /// The request's `eid`: the handle of a process it starts in a container (`exec`, `copy`), new.
    fn new_eid(&self, req: &Json, op: &str) -> Result<String, Json> {
        let eid = req.get("eid").and_then(|v| v.as_str()).unwrap_or("").to_string();
        self.check_new_id(&eid, &format!("{} needs an eid", op))?;
        Ok(eid)
    }

    /// The request's stdio channel numbers; each must be new and not 0.
    fn channels(&self, req: &Json) -> Result<Channels, Json> {
        let chan = |name: &str| {
            req.get(name)
                .and_then(|v| v.as_number())
                .and_then(|n| n.as_u32())
        };
        let chans = Channels {
            stdin: chan("stdin"),
            stdout: chan("stdout"),
            stderr: chan("stderr"),
        };
        for c in [chans.stdin, chans.stdout, chans.stderr].iter().flatten() {
            if *c == 0 || self.in_chans.contains_key(c) || self.out_chans.contains_key(c) {
                return Err(op_error(
                    ErrorKind::Spec,
                    format!("channel {} is 0 or in use", c),
                ));
            }
        }
        Ok(chans)
    }
}

fn spec_error(e: container::spec::SpecError) -> Json {
    container::Error::from(e).to_report()
}

#[cfg(test)]
mod tests {
    use super::OPS;
    use container::contract::fixture;

    #[test]
    fn contract_agent_ops() {
        let ops = fixture("agent-ops.json");
        let listed: Vec<&str> = ops
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(OPS.to_vec(), listed);
    }
}
