//! A plan file read for a replay, and what must still hold of it, as
//! src/cli/run-cache/plan-file.ts `readPlan` checks (which writes them): its
//! key's material whole, an age under an hour, the helper and the addon it
//! names still there. (The host's facts and the image are `prepare`'s.)

use container::json::{self, Json};
use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::path::Path;

/// plan-file.ts `MAX_AGE_MS`.
const MAX_AGE_MS: f64 = 60.0 * 60_000.0;

const X_OK: c_int = 1;
const R_OK: c_int = 4;

extern "C" {
    fn access(path: *const c_char, mode: c_int) -> c_int;
}

pub enum Found {
    Plan(Json),
    /// No file of that name.
    Missing,
    /// A file, but not a plan to replay (another key's, too old, unreadable).
    Refused,
}

pub fn read(file: &Path, material: &str, now_ms: f64) -> Found {
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Found::Missing,
        Err(_) => return Found::Refused,
    };
    let plan = match json::parse(&text) {
        Ok(p) => p,
        Err(_) => return Found::Refused,
    };
    let made = plan.get("made").and_then(Json::as_number).map(|n| n.as_f64());
    let fresh = made.map_or(false, |made| now_ms - made < MAX_AGE_MS && made <= now_ms);
    let usable = |key: &str, mode: c_int| plan.get(key).and_then(Json::as_str).map_or(false, |p| may(p, mode));
    if plan.get("material").and_then(Json::as_str) != Some(material) || !fresh || !usable("binary", X_OK) || !usable("addon", R_OK) {
        return Found::Refused;
    }
    Found::Plan(plan)
}

fn may(path: &str, mode: c_int) -> bool {
    CString::new(path).map_or(false, |p| unsafe { access(p.as_ptr(), mode) } == 0)
}
