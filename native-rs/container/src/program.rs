//! Finding the host programs the set-up runs (newuidmap, pasta, iptables).

use std::path::{Path, PathBuf};

/// A program on PATH or in the system's directories, which a user's PATH often lacks (the sbin dirs) or a
/// cut-down one (npx in a bare environment) may: the front end's `onPath` (src/on-path.ts) looks in the same
/// places, so what it promises (`tsbox info`, the choice of id mappings) is what runs.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}
