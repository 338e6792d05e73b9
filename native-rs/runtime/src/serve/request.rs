//! The warm helper's requests: one JSON object per line on the control
//! socket, the descriptors a `run` needs attached (container::sys::fdpass).
//!
//!   {"op":"run","id":N,"bundle":DIR,"record":B,"remove":B,"newSession":B,"stdio":[B,B,B]}
//!       fds: the status pipe's write end, then each stdio slot marked true
//!       (0, 1, 2 in order); a slot marked false gets /dev/null.
//!   {"op":"exec","id":N,"bundle":DIR,"pid":P,"process":FILE,"newSession":B,"stdio":[B,B,B]}
//!       a process in the running container whose init is host pid P: as
//!       `tsbox-runtime exec --pid P --process FILE --bundle DIR`; the same fds.
//!   {"op":"kill","id":N,"signal":SIGNO}
//!
//! Replies, one per line: `{"id":N,"pid":P}` once forked (P: the run's
//! supervisor, which reports on the status pipe as `tsbox-runtime run`
//! does, or the exec's helper, as `tsbox-runtime exec` does), `{"id":N,"exitCode":C,"signal":NAME|null}` once reaped,
//! `{"id":N,"error":TEXT}` for a run that could not be forked.

use container::json::{self, Json};
use std::path::PathBuf;

#[derive(Debug, PartialEq)]
pub enum Request {
    Run(RunRequest),
    Kill { id: u64, signal: i32 },
}

#[derive(Debug, PartialEq)]
pub struct RunRequest {
    pub id: u64,
    pub bundle: PathBuf,
    pub record: bool,
    pub remove: bool,
    pub new_session: bool,
    /// Which of stdin, stdout, stderr came as a descriptor.
    pub stdio: [bool; 3],
    /// An exec into the running container of `bundle` (record and remove unused).
    pub exec: Option<Exec>,
}

#[derive(Debug, PartialEq)]
pub struct Exec {
    /// Host pid of the container's init.
    pub pid: i32,
    /// The process's OCI `process` object, in a file.
    pub process: PathBuf,
}

impl RunRequest {
    /// Descriptors the request carries: the status pipe and the stdio given.
    pub fn fd_count(&self) -> usize {
        1 + self.stdio.iter().filter(|s| **s).count()
    }
}

/// One request line; Err: why it is not one (with its id when it had one).
pub fn parse(line: &str) -> Result<Request, (Option<u64>, String)> {
    let doc = json::parse(line).map_err(|e| (None, format!("not JSON: {}", e)))?;
    let number = |key: &str| doc.get(key).and_then(Json::as_number).and_then(|n| n.as_u64());
    let id = number("id");
    let fail = |what: &str| (id, what.to_string());
    let id_ = id.ok_or_else(|| fail("no id"))?;
    let flag = |key: &str| doc.get(key).and_then(Json::as_bool).unwrap_or(false);
    match doc.get("op").and_then(Json::as_str) {
        Some(op @ ("run" | "exec")) => {
            let bundle = doc.get("bundle").and_then(Json::as_str).filter(|b| !b.is_empty()).ok_or_else(|| fail(&format!("{}: no bundle", op)))?;
            let exec = if op == "exec" {
                let pid = number("pid").filter(|p| *p > 0 && *p <= i32::MAX as u64).ok_or_else(|| fail("exec: no pid"))?;
                let process = doc.get("process").and_then(Json::as_str).filter(|p| !p.is_empty()).ok_or_else(|| fail("exec: no process"))?;
                Some(Exec { pid: pid as i32, process: PathBuf::from(process) })
            } else {
                None
            };
            let slots = doc.get("stdio").and_then(Json::as_array).unwrap_or(&[]);
            let mut stdio = [false; 3];
            for (i, s) in slots.iter().take(3).enumerate() {
                stdio[i] = s.as_bool().unwrap_or(false);
            }
            Ok(Request::Run(RunRequest {
                id: id_,
                bundle: PathBuf::from(bundle),
                record: flag("record"),
                remove: flag("remove"),
                new_session: flag("newSession"),
                stdio,
                exec,
            }))
        }
        Some("kill") => {
            let signal = number("signal").filter(|s| *s > 0 && *s < 65).ok_or_else(|| fail("kill: no signal"))?;
            Ok(Request::Kill { id: id_, signal: signal as i32 })
        }
        Some(other) => Err(fail(&format!("unknown op {}", other))),
        None => Err(fail("no op")),
    }
}

pub fn forked(id: u64, pid: i32) -> String {
    format!("{}\n", Json::object(vec![("id", Json::from(id)), ("pid", Json::from(pid))]))
}

pub fn reaped(id: u64, code: i32, signal: Option<String>) -> String {
    format!("{}\n", Json::object(vec![("id", Json::from(id)), ("exitCode", Json::from(code)), ("signal", Json::from(signal))]))
}

pub fn failed(id: Option<u64>, message: &str) -> String {
    format!("{}\n", Json::object(vec![("id", id.map_or(Json::Null, Json::from)), ("error", Json::from(message))]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_names_its_bundle_and_which_stdio_came() {
        let r = parse(r#"{"op":"run","id":7,"bundle":"/b/c","record":true,"stdio":[false,true,true]}"#).unwrap();
        match r {
            Request::Run(run) => {
                assert_eq!(run.id, 7);
                assert_eq!(run.bundle, PathBuf::from("/b/c"));
                assert!(run.record && !run.remove && !run.new_session);
                assert_eq!(run.stdio, [false, true, true]);
                assert_eq!(run.fd_count(), 3);
            }
            other => panic!("{:?}", other),
        }
    }

    #[test]
    fn an_exec_names_the_container_and_its_process() {
        let r = parse(r#"{"op":"exec","id":8,"bundle":"/b/c","pid":42,"process":"/b/c/exec-1.json","stdio":[true,true,true]}"#).unwrap();
        match r {
            Request::Run(run) => {
                assert_eq!(run.exec, Some(Exec { pid: 42, process: PathBuf::from("/b/c/exec-1.json") }));
                assert_eq!(run.bundle, PathBuf::from("/b/c"));
                assert_eq!(run.fd_count(), 4);
            }
            other => panic!("{:?}", other),
        }
        assert_eq!(parse(r#"{"op":"exec","id":9,"bundle":"/b","process":"/p"}"#).unwrap_err(), (Some(9), "exec: no pid".to_string()));
        assert_eq!(parse(r#"{"op":"exec","id":9,"bundle":"/b","pid":1}"#).unwrap_err(), (Some(9), "exec: no process".to_string()));
    }

    #[test]
    fn bad_requests_say_why_with_their_id() {
        assert_eq!(parse(r#"{"op":"kill","id":3,"signal":15}"#), Ok(Request::Kill { id: 3, signal: 15 }));
        assert_eq!(parse(r#"{"op":"kill","id":3,"signal":0}"#).unwrap_err(), (Some(3), "kill: no signal".to_string()));
        assert_eq!(parse(r#"{"op":"run","id":4}"#).unwrap_err().0, Some(4));
        assert_eq!(parse(r#"{"op":"fly","id":5}"#).unwrap_err(), (Some(5), "unknown op fly".to_string()));
        assert_eq!(parse("nope").unwrap_err().0, None);
    }

    #[test]
    fn replies_are_json_lines() {
        assert_eq!(forked(1, 42), "{\"id\":1,\"pid\":42}\n");
        assert_eq!(reaped(1, 137, Some("SIGKILL".into())), "{\"id\":1,\"exitCode\":137,\"signal\":\"SIGKILL\"}\n");
        assert_eq!(failed(None, "x"), "{\"id\":null,\"error\":\"x\"}\n");
    }
}
