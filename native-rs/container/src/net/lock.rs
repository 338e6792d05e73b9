//! A lock file: flock(2) on `<dir>/lock`, held until dropped. Every change
//! to a network's shared state (its leases, bridge, NAT rule, DNS server) and
//! to the rootless network namespace happens under one.

use crate::error::{Context, Error};
use crate::sys::consts::{LOCK_EX, LOCK_NB};
use crate::sys::errno::EAGAIN;
use crate::sys::fd;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::os::raw::c_int;
use std::os::unix::io::AsRawFd;
use std::path::Path;

pub struct Lock {
    _file: File,
}

impl Lock {
    /// Creates `dir` if needed, then waits for its lock.
    pub fn acquire(dir: &Path) -> Result<Lock, Error> {
        Lock::take(dir, LOCK_EX)?.ok_or_else(|| Error::setup("the lock was not taken"))
    }

    /// The lock if nobody holds it now (None if somebody does).
    pub fn try_acquire(dir: &Path) -> Result<Option<Lock>, Error> {
        Lock::take(dir, LOCK_EX | LOCK_NB)
    }

    /// Waits for the lock on the file `name` in `dir` (which must exist): one of several locks of a directory.
    pub fn acquire_file(dir: &Path, name: &str) -> Result<Lock, Error> {
        Lock::take_file(&dir.join(name), LOCK_EX)?.ok_or_else(|| Error::setup("the lock was not taken"))
    }

    fn take(dir: &Path, operation: c_int) -> Result<Option<Lock>, Error> {
        fs::create_dir_all(dir).step(|| format!("creating {}", dir.display()))?;
        Lock::take_file(&dir.join("lock"), operation)
    }

    fn take_file(path: &Path, operation: c_int) -> Result<Option<Lock>, Error> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .step(|| format!("opening {}", path.display()))?;
        match fd::flock(file.as_raw_fd(), operation) {
            Ok(()) => Ok(Some(Lock { _file: file })),
            Err(EAGAIN) if operation & LOCK_NB != 0 => Ok(None),
            Err(e) => Err(Error::errno(format!("locking {}", path.display()), e)),
        }
    }
}
