//! The run cache's replay in Rust: a plan's marks filled with a new
//! container's own values (`marks`) and its files made as the full run makes
//! them (`files`). The CLI's replay (`from_bin`, called by bin/tsbox.js) finds
//! the plan (`data_dir`, `key`, `plan_file`) and hands over to tsbox-runtime
//! itself; the library's (src/containers/plan-cache.ts) calls `replayPrepare`.
//!
//! JS: `replayPrepare(planText: string, dataDir: string, name: string, command: string): string`,
//! `command` the arguments after the image as JSON (an array of strings), `name` the name to reserve (the plan's
//! or a generated one); returns the new container's id, its name and the helper's arguments, NUL-separated.
//! A miss or failure throws (code `ERR_REPLAY`, the reason as the message) with nothing left behind.
//! `replayUndo(dataDir: string, id: string, name: string)`: a prepared container removed again (its hand-over
//! failed). `hostFacts(): string` and `fileIdentity(path: string): string`: what a plan records of the host and of
//! the image index (`host`), compared again by `replayPrepare`.

mod data_dir;
mod files;
pub mod from_bin;
mod host;
mod key;
mod marks;
mod names;
mod plan_file;

use crate::napi::ffi::{napi_callback_info, napi_env, napi_value};
use crate::napi::{guard, JsError};
use container::json::{self, Json};
use container::sys::process;
use container::timefmt;
use files::{Container, Creator, Image};
use marks::{Own, Plan};
use std::io::Read;
use std::path::PathBuf;
use std::time::SystemTime;

fn miss(why: impl Into<String>) -> JsError {
    JsError::new("ERR_REPLAY", why)
}

/// replayPrepare(planText, dataDir, name, command)
pub unsafe extern "C" fn replay_prepare_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 4)?;
        let plan_text = env.string_arg(&args, 0, "planText")?;
        let data = PathBuf::from(env.string_arg(&args, 1, "dataDir")?);
        let name = env.string_arg(&args, 2, "name")?;
        let command = strings(json::parse(&env.string_arg(&args, 3, "command")?).ok().as_ref()).ok_or_else(|| miss("the command is not a list of strings"))?;
        let plan = json::parse(&plan_text).map_err(|e| miss(format!("the plan: {}", e)))?;
        let made = prepare(&plan, data, &name, &command).map_err(miss)?;
        env.string(&made.join("\0"))
    })
}

/// replayUndo(dataDir, id, name)
pub unsafe extern "C" fn replay_undo_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 3)?;
        let c = Container { data: PathBuf::from(env.string_arg(&args, 0, "dataDir")?), id: env.string_arg(&args, 1, "id")? };
        let name = env.string_arg(&args, 2, "name")?;
        files::undo(&c, Some(&name), true);
        env.undefined()
    })
}

/// hostFacts()
pub unsafe extern "C" fn host_facts_js(env: napi_env, _info: napi_callback_info) -> napi_value {
    guard(env, |env| env.string(&host::host_facts()))
}

/// fileIdentity(path)
pub unsafe extern "C" fn file_identity_js(env: napi_env, info: napi_callback_info) -> napi_value {
    guard(env, |env| {
        let args = env.args(info, 1)?;
        env.string(&host::file_identity(std::path::Path::new(&env.string_arg(&args, 0, "path")?)))
    })
}

/// The container made: `[id, name, …helper arguments]`.
fn prepare(plan: &Json, data: PathBuf, name: &str, command: &[String]) -> Result<Vec<String>, String> {
    if plan.get("host").and_then(Json::as_str) != Some(host::host_facts().as_str()) {
        return Err("the host changed".to_string());
    }
    let text = |key: &str| plan.get(key).and_then(Json::as_str).ok_or_else(|| format!("the plan has no {}", key));
    let list = |key: &str| strings(plan.get(key)).ok_or_else(|| format!("the plan's {} is not a list of strings", key));
    let state = plan.get("state").ok_or("the plan has no state")?;
    let shape = Plan {
        spec_text: text("specText")?.to_string(),
        inspect_text: text("inspectText")?.to_string(),
        state_text: text("stateText")?.to_string(),
        helper_args: list("helperArgs")?,
        command: match plan.get("command") {
            None | Some(Json::Null) => None,
            Some(c) => Some((strings(c.get("specHead")).ok_or("a bad command head")?, strings(c.get("inspectHead")).ok_or("a bad command head")?)),
        },
    };
    let (layers, lower) = (list("layers")?, list("lower")?);
    let image = Image {
        digest: state.get("imageDigest").and_then(Json::as_str).ok_or("the plan's state has no image")?,
        layers: &layers,
        lower: &lower,
        index: text("index")?,
    };
    let c = Container { data, id: random_id()? };
    let pid = process::own_pid();
    let start = process::start_time(pid).map(|t| t.to_string());
    let creator = Creator { pid, start: start.as_deref() };
    files::claim(&c, &creator, &image, state.get("remove").and_then(Json::as_bool).unwrap_or(false), name)?;
    let created = timefmt::iso_millis(SystemTime::now());
    let own = Own { id: &c.id, name, created: &created, creator_pid: pid, creator_start_time: start.as_deref(), command };
    let made = marks::instantiate(&shape, &own);
    files::write(&c, name, &made.spec_text, &made.inspect_text, &made.state_text)?;
    let mut out = vec![c.id.clone(), name.to_string()];
    out.extend(made.helper_args);
    Ok(out)
}

fn strings(v: Option<&Json>) -> Option<Vec<String>> {
    v?.as_array()?.iter().map(|s| s.as_str().map(str::to_string)).collect()
}

/// 64 hex digits (fs-util.ts `randomHex(32)`).
fn random_id() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    random_bytes(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{:02x}", b)).collect())
}

fn random_bytes(into: &mut [u8]) -> Result<(), String> {
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(into)).map_err(|e| format!("/dev/urandom: {}", e))
}
