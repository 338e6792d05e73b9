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
use crate::spec::Process;
use crate::sys::{fd, process};
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
