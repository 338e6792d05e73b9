//! Answers on channel 0 and the error objects they carry. Errors are the
//! crate's (`container::Error`): the same kinds and exit codes as
//! tsbox-runtime's status events, never literals here.

use super::Agent;
use crate::frame;
use container::json::Json;
use container::{Error, ErrorKind};

/// The `error` object of a failed reply (`{kind, message, exitCode}`).
pub fn op_error(kind: ErrorKind, message: impl Into<String>) -> Json {
    Error::new(kind, message).to_report()
}

pub fn no_such(cid: &str) -> Json {
    op_error(
        ErrorKind::Spec,
        format!("no such container in the guest: {}", cid),
    )
}

impl Agent {
    pub(crate) fn send_json(&mut self, value: Json) {
        let text = value.to_string();
        self.send(frame::CTRL, 0, text.as_bytes());
    }

    pub(crate) fn reply_ok(&mut self, id: u64, mut fields: Vec<(&str, Json)>) {
        container::trace::mark(&format!("agent: reply {}", id));
        let mut all = vec![("id", Json::from(id)), ("ok", Json::from(true))];
        all.append(&mut fields);
        self.send_json(Json::object(all));
    }

    pub(crate) fn reply_err(&mut self, id: u64, error: Json) {
        self.send_json(Json::object(vec![
            ("id", Json::from(id)),
            ("ok", Json::from(false)),
            ("error", error),
        ]));
    }

    /// An ERROR frame: the host's frame on `chan` was not accepted.
    pub(crate) fn reject(&mut self, chan: u32, reason: &str) {
        let body = Json::object(vec![
            ("channel", Json::from(chan)),
            ("message", Json::from(reason)),
        ])
        .to_string();
        self.send(frame::ERROR, chan, body.as_bytes());
    }
}
