//! A container that shares another's namespaces (docker's `--network`,
//! `--pid` and `--ipc container:X`). The spec names the peer by id
//! (`linux.namespaces[].container`, a tsbox field beside OCI's `path`), and
//! every start joins the namespaces of the peer's init as it is *then*: a
//! `/proc/PID/ns` path written when the container was created names a
//! process that is gone once the peer has restarted, or another process that
//! took over its pid. Peers live beside the bundle (`<containers>/<id>/`)
//! and their `state.json` (src/containers/state.ts) says whether and where
//! they run.

use crate::json::{self, Json};
use crate::spec::{Spec, SpecError};
use crate::sys::process;
use std::path::{Path, PathBuf};

/// Container ids are 32 random bytes in hex: nothing that could climb out of
/// the containers directory.
pub fn valid_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Fills in `path` of every namespace that names a peer container: what a
/// run does (runtime/src/run.rs) before it launches from the bundle.
pub fn resolve(spec: &mut Spec, bundle: &Path) -> Result<(), SpecError> {
    // spec.rs's validation made sure every entry names the same container.
    let id = match spec.linux.namespaces.iter().find_map(|ns| ns.container.clone()) {
        Some(id) => id,
        None => return Ok(()),
    };
    let containers = bundle.parent().unwrap_or_else(|| Path::new("/"));
    let state = read_state(&containers.join(&id));
    let pid = state.as_ref().map_err(String::clone).and_then(running_pid).map_err(|why| SpecError {
        path: String::new(),
        message: format!("cannot join the namespaces of container {}: {}", name_of(state.as_ref().ok(), &id), why),
    })?;
    for ns in spec.linux.namespaces.iter_mut().filter(|ns| ns.container.is_some()) {
        ns.path = Some(PathBuf::from(format!("/proc/{}/ns/{}", pid, ns.kind.proc_name())));
    }
    Ok(())
}

fn read_state(bundle: &Path) -> Result<Json, String> {
    let text = std::fs::read_to_string(bundle.join("state.json")).map_err(|_| "there is no such container".to_string())?;
    json::parse(&text).map_err(|_| "its state.json is unreadable".to_string())
}

/// Its name, as the user knows it, else its short id.
fn name_of(state: Option<&Json>, id: &str) -> String {
    match state.and_then(|s| s.get("name")).and_then(Json::as_str) {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => id[..12].to_string(),
    }
}

/// The pid of the peer's init, if its supervisor is alive and says it runs.
fn running_pid(state: &Json) -> Result<i32, String> {
    let status = state.get("status").and_then(Json::as_str).unwrap_or("");
    let pid = state.get("pid").and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap_or(0);
    let monitor = state.get("monitorPid").and_then(Json::as_number).and_then(|n| n.as_i64()).unwrap_or(0);
    let monitor_start = state.get("monitorStartTime").and_then(Json::as_str).and_then(|s| s.parse::<u64>().ok());
    let alive = match monitor_start {
        Some(start) => monitor > 0 && monitor <= i32::MAX as i64 && process::alive(monitor as i32, start),
        None => false,
    };
    if (status != "running" && status != "paused") || pid <= 0 || pid > i32::MAX as i64 || !alive {
        return Err("it is not running".to_string());
    }
    Ok(pid as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_hex_only() {
        assert!(valid_id(&"a0".repeat(32)));
        assert!(!valid_id("../../etc"));
        assert!(!valid_id(&"A0".repeat(32)));
        assert!(!valid_id(&"a0".repeat(31)));
    }

    #[test]
    fn a_peer_runs_only_while_its_supervisor_does() {
        let dir = std::env::temp_dir().join(format!("tsbox-peer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id() as i32;
        let start = process::start_time(me).unwrap();
        let write = |status: &str, monitor_start: u64| {
            let text = format!(
                r#"{{"status":"{}","pid":{},"monitorPid":{},"monitorStartTime":"{}"}}"#,
                status, me, me, monitor_start
            );
            std::fs::write(dir.join("state.json"), text).unwrap();
        };
        let pid = || read_state(&dir).and_then(|s| running_pid(&s));
        write("running", start);
        assert_eq!(pid(), Ok(me));
        write("paused", start);
        assert_eq!(pid(), Ok(me));
        write("exited", start);
        assert_eq!(pid(), Err("it is not running".to_string()));
        // A recycled pid: another start time.
        write("running", start + 1);
        assert_eq!(pid(), Err("it is not running".to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(pid(), Err("there is no such container".to_string()));
    }
}
