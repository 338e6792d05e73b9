//! Status events, one JSON object per line on a status fd: what tsbox-runtime
//! reports to the native backend and each vm agent supervisor to the agent
//! (docs/architecture.md "tsbox-runtime protocol").

use crate::json::Json;
use crate::sys::process::{self, ExitStatus};
use crate::sys::{fd, signal, Errno};
use crate::Error;

pub struct StatusEvents {
    fd: Option<i32>,
    /// Without a status fd, errors go to stderr behind this prefix.
    stderr_prefix: &'static str,
}

impl StatusEvents {
    pub fn new(fd: Option<i32>, stderr_prefix: &'static str) -> StatusEvents {
        // Keep it out of newuidmap & co. (the container closes it anyway).
        if let Some(fd) = fd {
            let _ = fd::set_cloexec(fd);
        }
        StatusEvents { fd, stderr_prefix }
    }

    fn emit(&self, event: Json) {
        if let Some(fd) = self.fd {
            // A reader that went away is not our problem (SIGPIPE is ignored).
            let _ = fd::write_all(fd, format!("{}\n", event).as_bytes());
        }
    }

    pub fn started(&self, pid: i32) {
        self.emit(Json::object(vec![
            ("event", Json::from("started")),
            ("pid", Json::from(pid)),
        ]));
    }

    /// Something the user should know that does not stop the start (limits
    /// a host cannot apply).
    pub fn warning(&self, message: &str) {
        self.emit(Json::object(vec![
            ("event", Json::from("warning")),
            ("message", Json::from(message)),
        ]));
        if self.fd.is_none() {
            eprintln!("{}: warning: {}", self.stderr_prefix, message);
        }
    }

    /// Reports a failure before or at execve; returns the exit code to use.
    pub fn error(&self, e: &Error) -> i32 {
        let mut event = vec![("event".to_string(), Json::from("error"))];
        if let Json::Object(report) = e.to_report() {
            event.extend(report);
        }
        self.emit(Json::Object(event));
        if self.fd.is_none() {
            eprintln!("{}: {}", self.stderr_prefix, e.message);
        }
        e.exit_code()
    }

    /// `oom_killed`: the kernel's OOM killer killed a process of the
    /// container's cgroup (its memory limit was hit).
    pub fn exited(&self, code: i32, signal: Option<String>, oom_killed: bool) {
        self.emit(Json::object(vec![
            ("event", Json::from("exited")),
            ("exitCode", Json::from(code)),
            ("signal", Json::from(signal)),
            ("oomKilled", Json::from(oom_killed)),
        ]));
    }

    /// After `exited`: the end is in the container's record (state.json, or
    /// with `--rm` the container gone), so a caller may go on before this
    /// process has exited and been reaped (≈ 1 ms of a library run).
    pub fn recorded(&self) {
        self.emit(Json::object(vec![("event", Json::from("recorded"))]));
    }
}

impl StatusEvents {
    /// The whole report of a process that `spawn`ed it: `error`, or
    /// `started`, then (after waiting for it) `exited`. Returns the exit code
    /// to leave with. `oom_killed` is asked once the process has ended.
    pub fn supervise(&self, spawned: Result<i32, Error>, oom_killed: &mut dyn FnMut() -> bool) -> i32 {
        self.supervise_then(spawned, oom_killed, &mut |_| {}, &mut |_| {})
    }

    /// `supervise`, calling `running` once `started` is reported (it
    /// returns once the process has ended, or at once), and telling `ended`
    /// how the process ended (exit code, signal, OOM kill) right after
    /// `exited` is reported.
    pub fn supervise_then(
        &self,
        spawned: Result<i32, Error>,
        oom_killed: &mut dyn FnMut() -> bool,
        running: &mut dyn FnMut(i32),
        ended: &mut dyn FnMut(&Ended),
    ) -> i32 {
        let pid = match spawned {
            Ok(pid) => pid,
            Err(e) => return self.error(&e),
        };
        self.started(pid);
        // The CLI's old-image holder (old_image.rs) exits a few ms after the hand-off's exec: reaped now, once the
        // container runs, rather than at our end (a zombie for as long as a foreground container ran).
        crate::old_image::reap();
        running(pid);
        match wait_exit(pid) {
            Ok((code, signal)) => {
                crate::trace::mark("supervise: waited");
                // A network keeper is our child too: once it has taken the
                // network down, `exited` means everything is released.
                process::reap_all_children();
                let end = Ended {
                    code,
                    signal,
                    oom_killed: oom_killed(),
                };
                self.exited(end.code, end.signal.clone(), end.oom_killed);
                crate::trace::mark("supervise: exited sent");
                ended(&end);
                code
            }
            Err(e) => self.error(&Error::errno("waiting for the container", e)),
        }
    }
}

/// How a supervised process ended, as `exited` reports it.
#[derive(Clone)]
pub struct Ended {
    pub code: i32,
    pub signal: Option<String>,
    pub oom_killed: bool,
}

/// Waits for the container's init: its exit code, or 128+n and the signal's
/// name when signal n killed it (as a shell reports it).
pub fn wait_exit(pid: i32) -> Result<(i32, Option<String>), Errno> {
    Ok(match process::wait(pid)? {
        ExitStatus::Code(c) => (c, None),
        ExitStatus::Signal(s) => (128 + s, Some(signal::name(s))),
    })
}
