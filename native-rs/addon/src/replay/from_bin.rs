//! The run cache's replay, called by bin/tsbox.js before any of the CLI is
//! loaded: a `tsbox run` whose command line (up to the image), environment,
//! working directory and tsbox build have a plan that still holds becomes
//! its container as the full run would — the plan's files with its own id,
//! name, time and command (`prepare`), the plan's warnings, the hand-over to
//! tsbox-runtime — without Node loading a line of the CLI (the JS replay's
//! bundle and its key were ≈ 3 ms of a run). Anything unexpected (no plan,
//! a stale one, a name in use, a failed write) undoes what it made and
//! returns why: the full run follows, and says what is wrong if something is.
//!
//! JS: `replayRun(args: string, dist: string, addon: string): string`, `args`
//! the CLI's arguments (`run …`) joined with NUL bytes, `dist` the CLI's
//! bundle dir (its build), `addon` this addon's path as the bin loaded it
//! (a plan is replayed only by the addon it was made with). Returns only
//! when it did not replay, with the reason (also a trace mark).

use super::data_dir;
use super::key::{build_id, KeyBase, Keys};
use super::names;
use super::plan_file::{self, Found};
use crate::handoff;
use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::guard;
use container::json::Json;
use container::sys::{cred, fd};
use container::trace;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const O_RDONLY: i32 = 0;
const O_CLOEXEC: i32 = 0o2_000_000;

/// replayRun(args, dist, addon)
pub unsafe extern "C" fn replay_run_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let argv = env.string_arg(&args, 0, "args")?;
        let dist = env.string_arg(&args, 1, "dist")?;
        let addon = env.string_arg(&args, 2, "addon")?;
        let argv: Vec<String> = argv.split('\0').map(str::to_string).collect();
        let traced = trace_from_env();
        let why = replay(&argv, Path::new(&dist), Path::new(&addon));
        if traced {
            trace::mark(&format!("run-cache: {}", why));
            // The CLI's own marks are its (src/trace-mark.ts).
            trace::set_fd(-1);
        }
        env.string(&why)
    })
}

/// Why there was no replay (on a replay, no return).
fn replay(argv: &[String], dist: &Path, addon: &Path) -> String {
    if argv.first().map(String::as_str) != Some("run") {
        return "not a run".to_string();
    }
    let env = match environment() {
        Some(env) => env,
        None => return "no plan: a variable that is not UTF-8, or named twice".to_string(),
    };
    let cwd = match std::env::current_dir().ok().and_then(|d| d.to_str().map(str::to_string)) {
        Some(cwd) => cwd,
        None => return "no plan: no working directory".to_string(),
    };
    let euid = cred::geteuid();
    let get = |name: &str| env.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let data = match data_dir::named(&get, &cwd, &|home| data_dir::others_dir(home, euid)).and_then(|named| data_dir::existing_own(&named, euid)) {
        Some(data) => data,
        None => return "no plan: no data dir of this user's here".to_string(),
    };
    let build = match build_id(dist) {
        Some(build) => build,
        None => return "no plan: the CLI is not built".to_string(),
    };
    let keys = Keys::new(&KeyBase { env, cwd, build, uid: cred::getuid(), gid: cred::getgid() });
    let cache = data.join("run-cache");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64() * 1000.0);
    // The image ends the part of the line a plan is of; which argument it is takes the flags' parser to know, so
    // each prefix is tried (a plan's prefix ends at its image: at most one of them matches).
    let run_args = &argv[1..];
    for end in 1..=run_args.len() {
        let key = keys.key(&run_args[..end], end < run_args.len());
        let file = cache.join(&key.file);
        match plan_file::read(&file, &key.material, now) {
            Found::Missing => continue,
            Found::Refused => trace::mark(&format!("run-cache: no plan to replay in {}", file.display())),
            Found::Plan(plan) => return replay_plan(&plan, data, addon, &run_args[end..]),
        }
    }
    "no plan".to_string()
}

/// The container made (`prepare`) and this process handed over to the helper on it.
fn replay_plan(plan: &Json, data: PathBuf, addon: &Path, command: &[String]) -> String {
    let made_by = plan.get("addon").and_then(Json::as_str).map(Path::new);
    if made_by.and_then(|p| std::fs::canonicalize(p).ok()) != std::fs::canonicalize(addon).ok() {
        return "no replay: the plan is another addon's".to_string();
    }
    let name = match plan.get("name").and_then(Json::as_str) {
        Some(name) => name.to_string(),
        None => match random_pair() {
            Some(r) => names::generated(r),
            None => return "no replay: no random numbers".to_string(),
        },
    };
    let made = match super::prepare(plan, data.clone(), &name, command) {
        Ok(made) => made,
        Err(e) => return format!("no replay: {}", e),
    };
    let (id, helper_args) = (&made[0], &made[2..]);
    let binary = plan.get("binary").and_then(Json::as_str).unwrap_or("");
    for warning in plan.get("warnings").and_then(Json::as_array).unwrap_or(&[]) {
        if let Some(w) = warning.as_str() {
            // src/cli/context.ts `warningLine`.
            let _ = fd::write_all(2, format!("tsbox: warning: {}\n", w).as_bytes());
        }
    }
    trace::mark(&format!("run-cache: replay {}", id));
    // Without -i the process reads nothing of ours (become.ts: /dev/null as fd 0).
    let stdin = if plan.get("stdin").and_then(Json::as_str) == Some("ignore") {
        fd::open_path(Path::new("/dev/null"), O_RDONLY | O_CLOEXEC, 0).unwrap_or(-1)
    } else {
        -1
    };
    let mut argv: Vec<&str> = vec![binary];
    argv.extend(helper_args.iter().map(String::as_str));
    let err = handoff::hand_off(binary, &argv, stdin, -1);
    super::files::undo(&super::files::Container { data, id: id.clone() }, Some(&name), true);
    format!("replay failed: {}", err.message)
}

/// The environment as Node's `process.env` has it, or None where it may differ (a name twice, or not UTF-8).
fn environment() -> Option<Vec<(String, String)>> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (name, value) in std::env::vars_os() {
        let (name, value) = (name.into_string().ok()?, value.into_string().ok()?);
        if name.is_empty() || name.starts_with('=') || !seen.insert(name.clone()) {
            return None;
        }
        out.push((name, value));
    }
    Some(out)
}

/// `TSBOX_TRACE_FD` as src/trace-mark.ts takes it: digits, an open descriptor, not one of Node's own (anon inodes).
fn trace_from_env() -> bool {
    let n = match std::env::var("TSBOX_TRACE_FD").ok().filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())).and_then(|v| v.parse::<i32>().ok()) {
        Some(n) => n,
        None => return false,
    };
    let target = std::fs::read_link(format!("/proc/self/fd/{}", n));
    if target.map_or(true, |t| t.to_string_lossy().starts_with("anon_inode:")) {
        return false;
    }
    trace::set_fd(n);
    true
}

fn random_pair() -> Option<[u16; 2]> {
    let mut b = [0u8; 4];
    super::random_bytes(&mut b).ok()?;
    Some([u16::from_le_bytes([b[0], b[1]]), u16::from_le_bytes([b[2], b[3]])])
}
