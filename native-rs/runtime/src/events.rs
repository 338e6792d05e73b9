//! Status events: one JSON object per line on the status fd.

use container::json::Json;
use container::sys::fd;
use container::Error;

pub struct Events {
    fd: Option<i32>,
}

impl Events {
    pub fn new(fd: Option<i32>) -> Events {
        // Keep it out of newuidmap & co. (the container closes it anyway).
        if let Some(fd) = fd {
            let _ = fd::set_cloexec(fd);
        }
        Events { fd }
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

    /// Reports a failure before or at execve; returns the exit code to use.
    /// Without a status fd the message goes to stderr instead.
    pub fn error(&self, e: &Error) -> i32 {
        self.emit(Json::object(vec![
            ("event", Json::from("error")),
            ("kind", Json::from(e.kind.as_str())),
            ("message", Json::from(e.message.as_str())),
            ("exitCode", Json::from(e.exit_code())),
        ]));
        if self.fd.is_none() {
            eprintln!("tsbox-runtime: {}", e.message);
        }
        e.exit_code()
    }

    pub fn exited(&self, code: i32, signal: Option<String>) {
        self.emit(Json::object(vec![
            ("event", Json::from("exited")),
            ("exitCode", Json::from(code)),
            ("signal", Json::from(signal)),
        ]));
    }
}
