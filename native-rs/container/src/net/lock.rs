//! A lock file: flock(2) on `<dir>/lock`, held until dropped. Every change
//! to a network's shared state (its leases, bridge, NAT rule, DNS server) and
//! to the rootless network namespace happens under one.

use crate::error::{Context, Error};
use crate::sys::consts::LOCK_EX;
use crate::sys::fd;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub struct Lock {
    _file: File,
}

impl Lock {
    /// Creates `dir` if needed, then waits for its lock.
    pub fn acquire(dir: &Path) -> Result<Lock, Error> {
        fs::create_dir_all(dir).step(|| format!("creating {}", dir.display()))?;
        let path = dir.join("lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .step(|| format!("opening {}", path.display()))?;
        fd::flock(file.as_raw_fd(), LOCK_EX).step(|| format!("locking {}", path.display()))?;
        Ok(Lock { _file: file })
    }
}
