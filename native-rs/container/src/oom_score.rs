//! `process.oomScoreAdj`: the container's processes get it, never the
//! runtime holding them (as runc's: `runc init` writes it and becomes the
//! container). The runtime with the score, larger than a small container,
//! was the one a host OOM killed first, and the container died with it.
//! Lowering it needs CAP_SYS_RESOURCE on the host, which rootless lacks; a
//! value put back is never below the minimum the kernel keeps, so that needs
//! none.

use crate::error::{Context, Error};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};

fn write(file: &mut File, adj: i32) -> Result<(), Error> {
    file.write_all(adj.to_string().as_bytes()).step(|| {
        format!(
            "setting oom_score_adj to {} (lowering it needs CAP_SYS_RESOURCE on the host)",
            adj
        )
    })
}

fn open(path: &str) -> Result<File, Error> {
    OpenOptions::new().read(true).write(true).open(path).step(|| format!("opening {}", path))
}

/// The child `pid`'s, written from outside before it is released (launch:
/// it is still ours to write then, not yet non-dumpable).
pub fn apply_to(pid: i32, adj: Option<i32>) -> Result<(), Error> {
    match adj {
        Some(adj) => write(&mut open(&format!("/proc/{}/oom_score_adj", pid))?, adj),
        None => Ok(()),
    }
}

/// Ours, for a child forked next to inherit, until `restore` (exec: once the
/// helper has joined the container, its child's /proc files are out of its
/// reach, and so is its own /proc/self; the file stays open for the restore).
pub struct Inherited {
    file: File,
    old: String,
}

pub fn set_for_child(adj: Option<i32>) -> Result<Option<Inherited>, Error> {
    let adj = match adj {
        Some(a) => a,
        None => return Ok(None),
    };
    let mut file = open("/proc/self/oom_score_adj")?;
    let mut old = String::new();
    file.read_to_string(&mut old).step(|| "reading /proc/self/oom_score_adj")?;
    write(&mut file, adj)?;
    Ok(Some(Inherited { file, old: old.trim().to_string() }))
}

impl Inherited {
    /// Ours back, once the child is forked (best effort: it only costs us the score).
    pub fn restore(mut self) {
        let _ = self.file.write_all(self.old.as_bytes());
    }
}
