//! What a run plan depends on besides its key (src/cli/run-cache/plan-file.ts):
//! the facts of this process and host a full run read, and a file's identity.
//! Made here only, for the plan's recording (JS, through the addon) and its
//! replay alike, so both sides compare the same text.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// This boot; the namespaces we run in (an id map, a sysctl's mount, another container's view); no_new_privs,
/// the seccomp mode and capabilities, and the hard RLIMIT_NOFILE (the container's); swap (a memory limit's swap);
/// the subordinate id, passwd and group files. What else of the host a full run reads (sysctls, installed id
/// helpers, cgroup mounts) counts through the plan's age.
pub fn host_facts() -> String {
    let read = |path: &str| fs::read_to_string(path).unwrap_or_else(|_| "-".to_string());
    let lines = |path: &str, keep: &dyn Fn(&str) -> bool| read(path).lines().filter(|l| keep(l)).collect::<Vec<_>>().join(" ");
    let mut facts = vec![read("/proc/sys/kernel/random/boot_id").trim().to_string()];
    for ns in ["user", "mnt", "net", "pid", "ipc", "uts", "cgroup"] {
        facts.push(fs::read_link(format!("/proc/self/ns/{}", ns)).map_or_else(|_| "-".to_string(), |l| l.to_string_lossy().into_owned()));
    }
    facts.push(lines("/proc/self/status", &|l| ["NoNewPrivs:", "Seccomp:", "CapEff:", "CapBnd:"].iter().any(|k| l.starts_with(k))));
    facts.push(lines("/proc/self/limits", &|l| l.starts_with("Max open files")));
    facts.push(read("/proc/swaps"));
    for file in ["/etc/subuid", "/etc/subgid", "/etc/passwd", "/etc/group"] {
        facts.push(file_identity(Path::new(file)));
    }
    facts.join("\n")
}

/// A file's device, inode, size and modification time in ns, or "none": a write-then-rename (every index.json
/// update) or any change gives another.
pub fn file_identity(path: &Path) -> String {
    match fs::metadata(path) {
        Ok(m) => format!("{}-{}-{}-{}", m.dev(), m.ino(), m.size(), i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec())),
        Err(_) => "none".to_string(),
    }
}
