//! cgroup2 for containers in the guest: one cgroup per container under
//! /sys/fs/cgroup/tsbox with the OCI `linux.resources` limits the spec asks
//! for (memory.limit, pids.limit, cpu.quota/period), and its statistics.

use container::json::Json;
use std::fs;
use std::path::{Path, PathBuf};

const BASE: &str = "/sys/fs/cgroup";
const ROOT: &str = "/sys/fs/cgroup/tsbox";

/// Enables the controllers for /sys/fs/cgroup/tsbox and its children. Called once at start.
pub fn init() -> Result<(), String> {
    let enable = |dir: &str| {
        fs::write(
            Path::new(dir).join("cgroup.subtree_control"),
            "+memory +pids +cpu",
        )
        .map_err(|e| format!("enabling cgroup controllers in {}: {}", dir, e))
    };
    enable(BASE)?;
    fs::create_dir_all(ROOT).map_err(|e| format!("creating {}: {}", ROOT, e))?;
    enable(ROOT)
}

/// Creates the container's cgroup and writes its limits.
pub fn create(cid: &str, resources: Option<&Json>) -> Result<PathBuf, String> {
    let dir = Path::new(ROOT).join(cid);
    fs::create_dir(&dir).map_err(|e| format!("creating cgroup {}: {}", dir.display(), e))?;
    let result = write_limits(&dir, resources);
    if result.is_err() {
        let _ = fs::remove_dir(&dir);
    }
    result.map(|()| dir)
}

fn write_limits(dir: &Path, resources: Option<&Json>) -> Result<(), String> {
    let r = match resources {
        Some(r) if r.is_object() => r,
        _ => return Ok(()),
    };
    let num = |path: &[&str]| -> Option<i64> {
        let mut v = r;
        for key in path {
            v = v.get(key)?;
        }
        v.as_number().and_then(|n| n.as_i64())
    };
    let write = |file: &str, value: String| {
        fs::write(dir.join(file), &value)
            .map_err(|e| format!("setting {} to {}: {}", file, value, e))
    };
    if let Some(limit) = num(&["memory", "limit"]) {
        write(
            "memory.max",
            if limit < 0 {
                "max".into()
            } else {
                limit.to_string()
            },
        )?;
        // No swap in the guest, but say so: a limit means the limit.
        let _ = write("memory.swap.max", "0".into());
    }
    if let Some(limit) = num(&["pids", "limit"]) {
        write(
            "pids.max",
            if limit <= 0 {
                "max".into()
            } else {
                limit.to_string()
            },
        )?;
    }
    if let Some(quota) = num(&["cpu", "quota"]) {
        let period = num(&["cpu", "period"]).unwrap_or(100_000);
        let q = if quota <= 0 {
            "max".to_string()
        } else {
            quota.to_string()
        };
        write("cpu.max", format!("{} {}", q, period))?;
    }
    Ok(())
}

/// Removes the cgroup; it must be empty (the container has exited).
pub fn remove(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

fn read_keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    let text = fs::read_to_string(dir.join(file)).ok()?;
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        if parts.next() == Some(key) {
            parts.next()?.parse().ok()
        } else {
            None
        }
    })
}

/// memory.current/max, OOM kills, pids.current/max, CPU time.
pub fn stats(dir: &Path) -> Json {
    let limit = |file: &str| match fs::read_to_string(dir.join(file)) {
        Ok(t) if t.trim() == "max" => Json::Null,
        Ok(t) => t
            .trim()
            .parse::<u64>()
            .map(Json::from)
            .unwrap_or(Json::Null),
        Err(_) => Json::Null,
    };
    Json::object(vec![
        ("memoryCurrent", Json::from(read_u64(dir, "memory.current"))),
        ("memoryMax", limit("memory.max")),
        ("memoryPeak", Json::from(read_u64(dir, "memory.peak"))),
        (
            "oomKills",
            Json::from(read_keyed(dir, "memory.events", "oom_kill")),
        ),
        ("pidsCurrent", Json::from(read_u64(dir, "pids.current"))),
        ("pidsMax", limit("pids.max")),
        (
            "cpuUsageUsec",
            Json::from(read_keyed(dir, "cpu.stat", "usage_usec")),
        ),
    ])
}
