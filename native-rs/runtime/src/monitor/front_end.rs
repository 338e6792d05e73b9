//! `monitor --front-end TEXT`: the CLI's `run -d` process became us (execve,
//! src/cli/hand-off.ts). The monitor detaches as ever, reporting on a pipe;
//! the original process stays to read it, then does what the CLI did after
//! `launch` (src/containers/ops/start.ts): prints TEXT (the container's id)
//! once it started (after any warning, as the CLI's `tsbox: warning: …`), or
//! the error as the CLI's `tsbox: …` line, recording it if the monitor could
//! not, and with `--rm` deleting the container, then exits with docker's code.

use super::remove;
use crate::state_file::{self, Lock, StateFile};
use container::json::{self, Json};
use container::sys::fd;
use std::os::raw::c_int;
use std::path::Path;

pub struct Waiting<'a> {
    pub status: c_int,
    pub bundle: &'a Path,
    pub print: &'a str,
    pub remove: bool,
}

/// How the start went, from the status events: Ok once `started`, else the
/// message and exit code of the `error` (or of a monitor that said nothing).
fn outcome(status: c_int) -> Result<(), (String, i32)> {
    loop {
        let line = fd::read_line(status);
        if line.is_empty() {
            return Err(("the container's monitor exited before starting it".into(), 125));
        }
        let event = match json::parse(&String::from_utf8_lossy(&line)) {
            Ok(e) => e,
            Err(_) => continue,
        };
        match event.get("event").and_then(Json::as_str) {
            Some("started") => return Ok(()),
            Some("warning") => {
                if let Some(message) = event.get("message").and_then(Json::as_str) {
                    eprintln!("tsbox: warning: {}", message);
                }
            }
            Some("error") => {
                let message = event.get("message").and_then(Json::as_str).unwrap_or("container setup failed").to_string();
                let code = event.get("exitCode").and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap_or(125);
                return Err((message, code as i32));
            }
            _ => {}
        }
    }
}

pub fn wait_for_start(w: Waiting) -> i32 {
    let (message, code) = match outcome(w.status) {
        Ok(()) => {
            println!("{}", w.print);
            return 0;
        }
        Err(e) => e,
    };
    eprintln!("tsbox: {}", message);
    // The monitor has let go of the lock once it reported (or died).
    if let Ok(lock) = state_file::take_lock(w.bundle) {
        if w.remove {
            remove::remove_locked(w.bundle, lock);
            return code;
        }
        let state = StateFile::new(w.bundle);
        let recorded = state.read().map_or(false, |s| {
            s.get("error").and_then(Json::as_str) == Some(message.as_str())
        });
        if !recorded {
            let _ = state.update(Lock::Held, super::failed_start_fields(code, &message));
        }
        fd::close(lock);
    }
    code
}
