//! Reading and writing cgroup files. Writes never create a file: a control
//! file that is missing means the kernel (or this hierarchy) lacks the
//! feature, which callers tell apart from a refused value.

use crate::error::{Context, Error};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;

/// Ok(false) when the file does not exist.
pub fn write_if_present(dir: &Path, file: &str, value: &str) -> Result<bool, Error> {
    let path = dir.join(file);
    let mut f = match OpenOptions::new().write(true).truncate(true).open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e).step(|| format!("opening {}", path.display())),
    };
    // One write(2): the kernel parses what one call hands it.
    f.write_all(value.as_bytes())
        .step(|| format!("setting {} to {}", path.display(), value))?;
    Ok(true)
}

pub fn write(dir: &Path, file: &str, value: &str) -> Result<(), Error> {
    if write_if_present(dir, file, value)? {
        Ok(())
    } else {
        Err(Error::setup(format!(
            "setting {} to {}: no such cgroup file",
            dir.join(file).display(),
            value
        )))
    }
}

pub fn read(dir: &Path, file: &str) -> Option<String> {
    fs::read_to_string(dir.join(file)).ok()
}

pub fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

/// A file holding one number.
pub fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    read(dir, file)?.trim().parse().ok()
}

/// A limit: "max" (v2) or a value at or above `unlimited_from` (v1's
/// page-rounded i64::MAX) is None.
pub fn read_limit(dir: &Path, file: &str, unlimited_from: u64) -> Option<u64> {
    let text = read(dir, file)?;
    let text = text.trim();
    if text == "max" || text == "-1" {
        return None;
    }
    text.parse().ok().filter(|v| *v < unlimited_from)
}

/// The value of `key` in a flat keyed file ("key value" lines: cpu.stat,
/// memory.events, memory.oom_control, cpuacct.stat).
pub fn read_keyed(dir: &Path, file: &str, key: &str) -> Option<u64> {
    keyed(&read(dir, file)?, key)
}

pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut parts = l.split_whitespace();
        if parts.next() == Some(key) {
            parts.next()?.parse().ok()
        } else {
            None
        }
    })
}

/// The pids listed in a cgroup.procs file.
pub fn pids(dir: &Path) -> Vec<i32> {
    read(dir, "cgroup.procs")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;

    #[test]
    fn writes_only_existing_files_and_reads_values() {
        let t = TempDir::new("cgfs");
        fs::write(t.0.join("pids.max"), "").unwrap();
        assert_eq!(write_if_present(&t.0, "pids.max", "10"), Ok(true));
        assert_eq!(fs::read_to_string(t.0.join("pids.max")).unwrap(), "10");
        assert_eq!(write_if_present(&t.0, "pids.nope", "1"), Ok(false));
        assert!(!t.0.join("pids.nope").exists());
        assert!(write(&t.0, "pids.nope", "1")
            .unwrap_err()
            .message
            .ends_with("pids.nope to 1: no such cgroup file"));

        fs::write(t.0.join("memory.max"), "max\n").unwrap();
        fs::write(t.0.join("v1.limit"), "9223372036854771712\n").unwrap();
        fs::write(t.0.join("set.limit"), "33554432\n").unwrap();
        assert_eq!(read_limit(&t.0, "memory.max", u64::MAX), None);
        assert_eq!(read_limit(&t.0, "v1.limit", 1 << 62), None);
        assert_eq!(read_limit(&t.0, "set.limit", 1 << 62), Some(33554432));
        fs::write(t.0.join("cpu.stat"), "usage_usec 15\nuser_usec 9\n").unwrap();
        assert_eq!(read_keyed(&t.0, "cpu.stat", "user_usec"), Some(9));
        assert_eq!(read_keyed(&t.0, "cpu.stat", "nope"), None);
        fs::write(t.0.join("cgroup.procs"), "12\n13\n").unwrap();
        assert_eq!(pids(&t.0), [12, 13]);
    }
}
