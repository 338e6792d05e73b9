//! docker's container events (src/containers/events.ts tells the whole
//! story): what the runtime does to a container's state.json — start, die,
//! oom, pause, unpause — and the removal of a `--rm` one, appended to the
//! data dir's `events.log` as docker's event message, and the `create` of a
//! replayed run (the addon's replay). The same rules as the TypeScript side,
//! checked by test/fixtures/contract/events.json.

use crate::json::Json;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

pub const FILE: &str = "events.log";
const ROTATED: &str = "events.log.1";
const MAX_BYTES: u64 = 1024 * 1024;
/// A `die` whose exit code nobody saw (the run's supervisor died with it):
/// what `wait` reports then (src/containers/events.ts `UNKNOWN_EXIT`).
const UNKNOWN_EXIT: i64 = 255;

/// What a container's state says of it, for its events.
pub struct Status<'a> {
    pub status: &'a str,
    pub oom_killed: bool,
}

impl<'a> Status<'a> {
    pub fn of(state: &'a Json) -> Status<'a> {
        Status {
            status: state.get("status").and_then(Json::as_str).unwrap_or(""),
            oom_killed: state.get("oomKilled").and_then(Json::as_bool).unwrap_or(false),
        }
    }
}

/// `oom` when it was OOM-killed, then the status change's own event.
pub fn status_actions(before: &Status, after: &Status) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !before.oom_killed && after.oom_killed {
        out.push("oom");
    }
    let live = |s: &str| s == "running" || s == "paused";
    let (was, now) = (before.status, after.status);
    if now == "running" && (was == "created" || was == "exited" || was == "restarting") {
        out.push("start");
    } else if now == "running" && was == "paused" {
        out.push("unpause");
    } else if now == "paused" && was == "running" {
        out.push("pause");
    } else if (now == "exited" || now == "restarting") && live(was) {
        out.push("die");
    }
    out
}

pub struct Event<'a> {
    pub action: &'a str,
    pub id: &'a str,
    pub image: &'a str,
    pub name: Option<&'a str>,
    /// `die`: the exit code.
    pub exit_code: Option<i64>,
    /// Nanoseconds since the epoch.
    pub time_nano: u64,
    /// The container's labels: attributes too, under the built-in ones (docker's).
    pub labels: Vec<(&'a str, &'a str)>,
}

/// One line of the file (without its newline).
pub fn line(e: &Event) -> String {
    let mut attributes: Vec<(String, Json)> = e.labels.iter().map(|(k, v)| (k.to_string(), Json::from(*v))).collect();
    let mut set = |key: &str, value: Json| {
        attributes.retain(|(k, _)| k != key);
        attributes.push((key.to_string(), value));
    };
    if e.action == "die" {
        set("exitCode", Json::from(e.exit_code.unwrap_or(UNKNOWN_EXIT).to_string()));
    }
    set("image", Json::from(e.image));
    set("name", Json::from(e.name.unwrap_or("")));
    // In key order, as Go writes a map (and the TypeScript writer: the same for ASCII keys).
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    Json::object(vec![
        ("status", Json::from(e.action)),
        ("id", Json::from(e.id)),
        ("from", Json::from(e.image)),
        ("Type", Json::from("container")),
        ("Action", Json::from(e.action)),
        ("Actor", Json::object(vec![("ID", Json::from(e.id)), ("Attributes", Json::Object(attributes))])),
        ("scope", Json::from("local")),
        ("time", Json::from(e.time_nano / 1_000_000_000)),
        ("timeNano", Json::from(e.time_nano)),
    ])
    .to_string()
}

/// Records what a change of `<bundle>/state.json` from `before` to `after` means.
pub fn record_transition(bundle: &Path, before: &Status, after: &Json) {
    let actions = status_actions(before, &Status::of(after));
    if !actions.is_empty() {
        let lines: Vec<String> = actions.iter().map(|a| line(&event_of(after, a, now_nano()))).collect();
        append(bundle, &lines);
    }
}

/// docker's event for a probe's result that changed the health status (moby's
/// handleProbeResult): `health_status: healthy` or `health_status: unhealthy`.
/// The reset to "starting" at a run's start is no probe's result and has none.
pub fn health_action(status: &str) -> String {
    format!("{}{}", HEALTH_STATUS_PREFIX, status)
}

/// The prefix of every health event's action (`events --filter event=health_status` matches it).
pub const HEALTH_STATUS_PREFIX: &str = "health_status: ";

/// Records `action` (`destroy`, a health status) of the container whose state this is.
pub fn record(bundle: &Path, state: &Json, action: &str) {
    append(bundle, &[line(&event_of(state, action, now_nano()))]);
}

fn event_of<'a>(state: &'a Json, action: &'a str, time_nano: u64) -> Event<'a> {
    let text = |k: &str| state.get(k).and_then(Json::as_str);
    Event {
        action,
        id: text("id").unwrap_or(""),
        image: text("image").unwrap_or(""),
        name: text("name"),
        exit_code: state.get("exitCode").and_then(Json::as_number).and_then(|n| n.as_i64()),
        time_nano,
        labels: labels_of(state.get("labels")),
    }
}

/// A `labels` object's string members (state.json's, the contract fixture's).
fn labels_of(labels: Option<&Json>) -> Vec<(&str, &str)> {
    match labels {
        Some(Json::Object(members)) => members.iter().filter_map(|(k, v)| v.as_str().map(|v| (k.as_str(), v))).collect(),
        _ => Vec::new(),
    }
}

fn now_nano() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// `<data>/events.log` for `<data>/containers/<id>` (or its `.removing-…`
/// name); none for a bundle kept anywhere else (a test's, a caller's own).
fn file_of(bundle: &Path) -> Option<PathBuf> {
    // The monitor names its bundle "." (it works from inside it); a path's
    // components leave a trailing "." out.
    let bundle = if bundle.is_absolute() { bundle.to_path_buf() } else { std::env::current_dir().ok()?.join(bundle) };
    let containers = bundle.parent()?;
    if containers.file_name()? != "containers" {
        return None;
    }
    Some(containers.parent()?.join(FILE))
}

/// One O_APPEND write, then the rotation of a file grown too big. Events are
/// bookkeeping: failing to write one never fails what the container did.
fn append(bundle: &Path, lines: &[String]) {
    let file = match file_of(bundle) {
        Some(f) => f,
        None => return,
    };
    let text: String = lines.iter().map(|l| format!("{}\n", l)).collect();
    let written = OpenOptions::new().read(true).append(true).create(true).open(&file).and_then(move |mut f| {
        // Half a line a full disk left (any writer's: src/containers/events.ts too) is not continued.
        let fresh = ends_line(&f)?;
        f.write_all(if fresh { text } else { format!("\n{}", text) }.as_bytes())
    });
    if written.is_ok() && fs::metadata(&file).map(|m| m.len() > MAX_BYTES).unwrap_or(false) {
        let _ = fs::rename(&file, file.with_file_name(ROTATED));
    }
}

/// Whether the file is empty or ends a line.
fn ends_line(f: &fs::File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt;
    let size = f.metadata()?.len();
    let mut last = [0u8; 1];
    Ok(size == 0 || (f.read_at(&mut last, size - 1)? == 1 && last[0] == b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn fixture() -> Json {
        json::parse(include_str!("../../../test/fixtures/contract/events.json")).unwrap()
    }

    #[test]
    fn contract_events() {
        let f = fixture();
        assert_eq!(f.get("file").and_then(Json::as_str), Some(FILE));
        assert_eq!(f.get("rotated").and_then(Json::as_str), Some(ROTATED));
        assert_eq!(f.get("maxBytes").and_then(Json::as_number).and_then(|n| n.as_u64()), Some(MAX_BYTES));
        for t in f.get("transitions").and_then(Json::as_array).unwrap() {
            let s = |k: &str| t.get(k).and_then(Json::as_str).unwrap();
            let oom = t.get("oomKilled").and_then(Json::as_bool).unwrap_or(false);
            let want: Vec<&str> = t.get("actions").and_then(Json::as_array).unwrap().iter().map(|a| a.as_str().unwrap()).collect();
            let got = status_actions(&Status { status: s("before"), oom_killed: false }, &Status { status: s("after"), oom_killed: oom });
            assert_eq!(got, want, "{} -> {}", s("before"), s("after"));
        }
        let health = f.get("health").unwrap();
        for status in ["healthy", "unhealthy"] {
            assert_eq!(Some(health_action(status).as_str()), health.get(status).and_then(Json::as_str));
        }
        for case in f.get("lines").and_then(Json::as_array).unwrap() {
            let e = case.get("event").unwrap();
            let text = |k: &str| e.get(k).and_then(Json::as_str);
            let event = Event {
                action: text("action").unwrap(),
                id: text("id").unwrap(),
                image: text("image").unwrap(),
                name: text("name"),
                exit_code: e.get("exitCode").and_then(Json::as_number).and_then(|n| n.as_i64()),
                time_nano: text("timeNano").unwrap().parse().unwrap(),
                labels: labels_of(e.get("labels")),
            };
            assert_eq!(line(&event), case.get("line").and_then(Json::as_str).unwrap());
        }
    }

    #[test]
    fn appends_beside_the_containers_dir_and_rotates() {
        let data = std::env::temp_dir().join(format!("tsbox-events-{}", std::process::id()));
        let bundle = data.join("containers").join("c1");
        fs::create_dir_all(&bundle).unwrap();
        let state = json::parse(r#"{"id":"c1","image":"busybox","name":"web","status":"running","exitCode":3}"#).unwrap();
        record_transition(&bundle, &Status { status: "created", oom_killed: false }, &state);
        record(&bundle, &state, "destroy");
        let text = fs::read_to_string(data.join(FILE)).unwrap();
        let actions: Vec<String> = text.lines().map(|l| json::parse(l).unwrap().get("Action").and_then(Json::as_str).unwrap().to_string()).collect();
        assert_eq!(actions, ["start", "destroy"]);
        // A line a full disk cut short: the next entry starts on a line of its own.
        fs::write(data.join(FILE), "{\"Action\":\"kil").unwrap();
        record(&bundle, &state, "destroy");
        let text = fs::read_to_string(data.join(FILE)).unwrap();
        assert_eq!(text.lines().nth(1).map(|l| json::parse(l).is_ok()), Some(true), "{}", text);
        fs::write(data.join(FILE), vec![b'x'; MAX_BYTES as usize]).unwrap();
        record(&bundle, &state, "destroy");
        assert!(data.join(ROTATED).exists() && !data.join(FILE).exists());
        fs::remove_dir_all(&data).unwrap();
    }
}
