//! A spare container: set up ahead of the run that takes it, its process
//! given only at start. The vm agent makes one while the guest is idle (a
//! container's namespaces, root, mounts and pivot are what costs under
//! emulation), and `start` hands it the run's command, environment, working
//! directory, user and terminal size (set on the terminal with the rest of the
//! process's own set-up). Everything else about the process shaped what was
//! set up already (whether it has a terminal, its limits, capabilities…) and
//! must be the spare's.
//! Contract: test/fixtures/contract/spare-process.json.

use crate::error::{Context, Error, ErrorKind};
use crate::json::{self, Json};
use crate::spec::Process;
use crate::sys::{fd, fdpass, process};
use std::os::raw::c_int;

/// What a start may change, by their names in the OCI `process` object.
pub const LATE_FIELDS: [&str; 5] = ["args", "env", "cwd", "user", "consoleSize"];

/// The process for a spare whose own is `spare`: the start's document
/// (`null`: the spare's own process), checked to differ only in LATE_FIELDS.
pub fn bind(spare: &Process, doc: &str) -> Result<Process, Error> {
    if doc.trim() == "null" {
        return Ok(spare.clone());
    }
    let late = Process::parse(doc)?;
    let mut kept = late.clone();
    kept.args = spare.args.clone();
    kept.env = spare.env.clone();
    kept.cwd = spare.cwd.clone();
    kept.user = spare.user.clone();
    kept.console_size = spare.console_size;
    if kept == *spare {
        return Ok(late);
    }
    let differs = [
        ("terminal", kept.terminal != spare.terminal),
        ("capabilities", kept.capabilities != spare.capabilities),
        ("rlimits", kept.rlimits != spare.rlimits),
        ("noNewPrivileges", kept.no_new_privileges != spare.no_new_privileges),
        ("oomScoreAdj", kept.oom_score_adj != spare.oom_score_adj),
    ];
    let names: Vec<&str> = differs.iter().filter(|d| d.1).map(|d| d.0).collect();
    Err(Error::new(
        ErrorKind::Spec,
        format!("the process does not fit the spare container: process.{} differs", names.join(", process.")),
    ))
}

/// The container's side, set up and waiting: the start's document from `from`
/// (read to its end), bound. EOF before any byte: the spare was deleted
/// unstarted, and nobody waits for this process.
pub fn receive(from: c_int, spare: &Process) -> Result<Process, Error> {
    let doc = fd::read_to_end(from).step(|| "waiting for the spare container's process")?;
    fd::close(from);
    if doc.is_empty() {
        process::exit_now(1);
    }
    let text = String::from_utf8(doc).map_err(|_| Error::new(ErrorKind::Spec, "the spare container's process is not UTF-8"))?;
    bind(spare, &text)
}

/// How a spare's process reaches it. `Pipe`: the vm agent's, the document
/// alone (the spare's stdio are the supervisor's, given at create). `Socket`:
/// the warm helper's (tsbox-runtime serve), whose spares are made before the
/// run that takes one is asked for, so its stdio come at start too: the
/// child says `READY` on it once set up, then gets a [`Start`] with fds 0-2.
#[derive(Clone, Copy, Debug)]
pub enum Gate {
    Pipe(c_int),
    /// The container's end, and the supervisor's (closed in the container
    /// first, or a dropped spare would never read EOF).
    Socket { ours: c_int, theirs: c_int },
}

/// What the container side of a `Gate::Socket` writes once it waits there.
pub const READY: u8 = b'r';

/// A spare's start through a `Gate::Socket`, as the supervisor sends it:
/// `{"pipes":N,"process":P|null}` with the process's fds 0, 1 and 2 attached.
/// `pipes`: which of them are the supervisor's relay pipes, given to the
/// process's user (process_setup::mark_own_pipes), never the caller's.
pub fn send_start(gate: c_int, pipes: u8, process: &str, stdio: [c_int; 3]) -> Result<(), Error> {
    let line = format!("{{\"pipes\":{},\"process\":{}}}", pipes, process);
    fdpass::send_all(gate, line.as_bytes(), &stdio, -1).step(|| "starting the spare container")?;
    fd::close(gate);
    Ok(())
}

/// The container's side of a `Gate::Socket`, set up: `READY`, then the start
/// (read to its end), its fds put on 0-2. Returns the bound process and the
/// `pipes` bits. EOF before any byte: the spare was dropped, and nobody
/// waits for this process.
pub fn receive_start(gate: c_int, spare: &Process) -> Result<(Process, u8), Error> {
    fd::write_all(gate, &[READY]).step(|| "telling the spare container's supervisor it is ready")?;
    let mut doc = Vec::new();
    let mut fds = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match fdpass::recv(gate, &mut buf, &mut fds).step(|| "waiting for the spare container's process")? {
            0 => break,
            n => doc.extend_from_slice(&buf[..n]),
        }
    }
    fd::close(gate);
    if doc.is_empty() {
        process::exit_now(1);
    }
    let bad = |why: &str| Error::new(ErrorKind::Spec, format!("the spare container's start {}", why));
    if fds.len() != 3 {
        return Err(bad("did not bring fds 0-2"));
    }
    let text = String::from_utf8(doc).map_err(|_| bad("is not UTF-8"))?;
    let start = json::parse(&text).map_err(|e| bad(&format!("is not JSON: {}", e)))?;
    let pipes = start.get("pipes").and_then(Json::as_number).and_then(|n| n.as_u64()).filter(|n| *n < 8).ok_or_else(|| bad("has no pipes"))?;
    let process = start.get("process").ok_or_else(|| bad("has no process"))?;
    for (target, f) in fds.iter().enumerate() {
        fd::dup_onto(*f, target as c_int).step(|| "giving the spare container its stdio")?;
        fd::close(*f);
    }
    Ok((bind(spare, &process.to_string())?, pipes as u8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::fixture;

    fn process(doc: &crate::json::Json) -> Process {
        Process::from_document(doc).unwrap()
    }

    #[test]
    fn contract_spare_process() {
        let fx = fixture("spare-process.json");
        let late: Vec<&str> = fx.get("late").unwrap().as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(late, LATE_FIELDS.to_vec());
        let spare = process(fx.get("spare").unwrap());
        assert_eq!(bind(&spare, "null").unwrap(), spare);
        for doc in fx.get("fits").unwrap().as_array().unwrap() {
            assert_eq!(bind(&spare, &doc.to_string()).unwrap(), process(doc), "{}", doc);
        }
        for case in fx.get("misfits").unwrap().as_array().unwrap() {
            let doc = case.get("process").unwrap();
            let differs = case.get("differs").unwrap().as_str().unwrap();
            let err = bind(&spare, &doc.to_string()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Spec);
            assert!(err.message.ends_with(&format!("process.{} differs", differs)), "{}: {}", differs, err.message);
        }
    }

    #[test]
    fn a_bad_document_is_a_spec_error() {
        let spare = process(fixture("spare-process.json").get("spare").unwrap());
        for doc in ["{", "{\"args\":[]}", "[]"] {
            assert_eq!(bind(&spare, doc).unwrap_err().kind, ErrorKind::Spec, "{}", doc);
        }
    }
}
