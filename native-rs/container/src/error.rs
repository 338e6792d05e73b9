//! The one error type of the crate: a kind (what the user did wrong, which
//! also fixes the exit code), the errno if a syscall failed, and a message
//! naming the step, e.g. `mounting proc on /proc: Operation not permitted`.

use crate::json::{self, Json};
use crate::spec::SpecError;
use crate::sys::Errno;
use std::fmt;
use std::io;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The executable does not exist (exit 127).
    NotFound,
    /// The executable exists but cannot be run (exit 126).
    Permission,
    /// Container setup failed (exit 125).
    Setup,
    /// The spec is invalid (exit 125).
    Spec,
    /// The container to join has no running init any more (exit 125).
    NotRunning,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Permission => "permission",
            ErrorKind::Setup => "setup",
            ErrorKind::Spec => "spec",
            ErrorKind::NotRunning => "not_running",
        }
    }

    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::NotFound => 127,
            ErrorKind::Permission => 126,
            ErrorKind::Setup | ErrorKind::Spec | ErrorKind::NotRunning => 125,
        }
    }

    /// Every kind, for parsing and for the TS↔Rust contract fixture.
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::NotFound,
        ErrorKind::Permission,
        ErrorKind::Setup,
        ErrorKind::Spec,
        ErrorKind::NotRunning,
    ];

    pub fn parse(s: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub errno: Option<i32>,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            errno: None,
            message: message.into(),
        }
    }

    pub fn setup(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Setup, message)
    }

    /// `"<step>: <strerror>"`, kind setup.
    pub fn errno(step: impl fmt::Display, errno: Errno) -> Error {
        Error {
            kind: ErrorKind::Setup,
            errno: Some(errno.0),
            message: format!("{}: {}", step, errno),
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }

    /// What a front end is told: `{kind, message, exitCode}`, the body of a
    /// status `error` event and of a failed agent reply.
    pub fn to_report(&self) -> Json {
        Json::object(vec![
            ("kind", Json::from(self.kind.as_str())),
            ("message", Json::from(self.message.as_str())),
            ("exitCode", Json::from(self.exit_code())),
        ])
    }

    /// The wire form used on the child's error pipe.
    pub fn to_json(&self) -> Json {
        Json::object(vec![
            ("kind", Json::from(self.kind.as_str())),
            ("errno", Json::from(self.errno)),
            ("message", Json::from(self.message.as_str())),
        ])
    }

    pub fn from_json(text: &str) -> Option<Error> {
        let v = json::parse(text).ok()?;
        Some(Error {
            kind: ErrorKind::parse(v.get("kind")?.as_str()?)?,
            errno: v
                .get("errno")
                .and_then(Json::as_number)
                .and_then(|n| n.as_i64())
                .map(|n| n as i32),
            message: v.get("message")?.as_str()?.to_string(),
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<SpecError> for Error {
    fn from(e: SpecError) -> Error {
        Error::new(ErrorKind::Spec, e.to_string())
    }
}

/// Attaches the step to a failed syscall or I/O call.
pub trait Context<T> {
    fn step<S: fmt::Display, F: FnOnce() -> S>(self, step: F) -> Result<T, Error>;
}

impl<T> Context<T> for Result<T, Errno> {
    fn step<S: fmt::Display, F: FnOnce() -> S>(self, step: F) -> Result<T, Error> {
        self.map_err(|e| Error::errno(step(), e))
    }
}

impl<T> Context<T> for Result<T, io::Error> {
    fn step<S: fmt::Display, F: FnOnce() -> S>(self, step: F) -> Result<T, Error> {
        self.map_err(|e| match Errno::from_io(&e) {
            Some(errno) => Error::errno(step(), errno),
            None => Error::setup(format!("{}: {}", step(), e)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::errno::EPERM;

    #[test]
    fn message_and_wire_roundtrip() {
        let e: Result<(), Errno> = Err(EPERM);
        let e = e.step(|| "mounting proc on /proc").unwrap_err();
        assert_eq!(e.message, "mounting proc on /proc: Operation not permitted");
        assert_eq!(e.exit_code(), 125);
        assert_eq!(Error::from_json(&e.to_json().to_string()), Some(e));
        assert_eq!(ErrorKind::NotFound.exit_code(), 127);
        assert_eq!(Error::from_json("garbage"), None);
    }
}
