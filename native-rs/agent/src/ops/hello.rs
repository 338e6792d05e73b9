//! `hello`: every (re)connection, after a cold boot or a snapshot restore:
//! the host's clock and fresh entropy, and a reset of the link accounting.

use crate::agent::{log, Agent, LINK_WINDOW, STREAM_WINDOW, VERSION};
use crate::frame;
use crate::sys;
use container::json::Json;

impl Agent {
    pub(super) fn op_hello(&mut self, id: u64, req: &Json) -> Result<(), Json> {
        if let Some(ms) = req
            .get("time")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u64())
        {
            if let Err(e) = sys::set_clock_ms(ms) {
                log(&format!("setting the clock: {}", e.description()));
            }
        }
        if let Some(seed) = req.get("seed").and_then(|v| v.as_str()) {
            // Hex pairs; anything else is skipped (slicing bytes, not chars,
            // so no input can panic here).
            let bytes: Vec<u8> = seed
                .as_bytes()
                .chunks(2)
                .filter_map(|pair| std::str::from_utf8(pair).ok())
                .filter_map(|pair| u8::from_str_radix(pair, 16).ok())
                .collect();
            if let Err(e) = sys::add_entropy(&bytes) {
                log(&format!("adding entropy: {}", e.description()));
            }
        }
        // Everything read so far is accounted: the host starts counting anew.
        self.reported = self.decoder.consumed;
        super::create::forget_profile_refs();
        self.reply_ok(
            id,
            vec![
                ("version", Json::from(VERSION)),
                ("window", Json::from(LINK_WINDOW)),
                ("streamWindow", Json::from(STREAM_WINDOW)),
                ("maxFrame", Json::from(frame::MAX_IN_PAYLOAD as u64)),
                ("containers", Json::from(self.ctrs.len() as u64)),
                // Creates may name the session's last seccomp profile instead of sending it (create.rs).
                ("seccompRef", Json::from(true)),
            ],
        );
        Ok(())
    }
}
