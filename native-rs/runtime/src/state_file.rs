//! `<bundle>/state.json`, the container's record that every tsbox process
//! reads (src/containers/state.ts documents the fields). Changes are
//! read-modify-write under `flock` on `<bundle>/lock`, the lock the
//! TypeScript side takes too, and land by rename: readers never see a torn
//! file and need no lock. The monitor writes the run-time fields (status,
//! pid, exit, restarts); everything else is the front end's.

use crate::timefmt;
use container::json::{self, Json};
use container::sys::consts::{LOCK_EX, O_CLOEXEC, O_CREAT, O_RDWR};
use container::sys::{errno, fd, Errno};
use std::fs;
use std::io;
use std::os::raw::c_int;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const LOCK_FILE: &str = "lock";
const STATE_FILE: &str = "state.json";
/// Freed to land a record a full disk refused (`rewrite`): the monitor keeps
/// one per bundle, so a run's end on a full disk is still recorded (before,
/// `ps` said "Exited (unknown)" for good, its exit code lost).
const RESERVE_FILE: &str = "state.reserve";
const RESERVE_BYTES: usize = 64 * 1024;

pub struct StateFile {
    dir: PathBuf,
}

/// Whether the caller already holds the bundle's lock (inherited from the
/// front end that started us) or `update` must take it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    Held,
    Take,
}

impl StateFile {
    pub fn new(bundle: &Path) -> StateFile {
        StateFile {
            dir: bundle.to_path_buf(),
        }
    }

    /// Sets `changes` in state.json, keeping every other field. A bundle
    /// whose state.json is gone (being removed) is left alone.
    pub fn update(&self, lock: Lock, changes: Vec<(&str, Json)>) -> io::Result<()> {
        let guard = match lock {
            Lock::Held => None,
            Lock::Take => match take_lock(&self.dir) {
                Ok(fd) => Some(fd),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            },
        };
        let result = self.rewrite(changes);
        if let Some(fd) = guard {
            fd::close(fd);
        }
        result
    }

    /// Makes the bundle's reserve if it has none: random bytes, which a
    /// compressing file system keeps too (zeros it would not), as the image
    /// store's index reserve (src/fs-util.ts `keepSpaceReserve`). Best effort:
    /// a disk with no room for it has none for the run either.
    pub fn keep_reserve(&self) {
        let path = self.dir.join(RESERVE_FILE);
        if path.exists() {
            return;
        }
        let mut bytes = vec![0u8; RESERVE_BYTES];
        let random = fs::File::open("/dev/urandom").and_then(|mut f| io::Read::read_exact(&mut f, &mut bytes));
        let tmp = self.dir.join(format!(".{}.{}.tmp", RESERVE_FILE, std::process::id()));
        if random.and_then(|()| fs::write(&tmp, &bytes)).and_then(|()| fs::rename(&tmp, &path)).is_err() {
            let _ = fs::remove_file(&tmp);
        }
    }

    /// state.json as it is now (None when it is gone or unreadable).
    pub fn read(&self) -> Option<Json> {
        let text = fs::read_to_string(self.dir.join(STATE_FILE)).ok()?;
        json::parse(&text).ok().filter(Json::is_object)
    }

    fn rewrite(&self, changes: Vec<(&str, Json)>) -> io::Result<()> {
        let path = self.dir.join(STATE_FILE);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut state = json::parse(&text)
            .ok()
            .filter(Json::is_object)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "state.json is not a JSON object"))?;
        let before = {
            let was = crate::events::Status::of(&state);
            (was.status.to_string(), was.oom_killed)
        };
        for (key, value) in changes {
            state.set(key, value);
        }
        let tmp = self
            .dir
            .join(format!(".{}.{}.tmp", STATE_FILE, std::process::id()));
        let text = format!("{}\n", state);
        let write = || {
            // A failed write leaves no temp behind to hold the last free pages.
            fs::write(&tmp, &text).and_then(|()| fs::rename(&tmp, &path)).map_err(|e| {
                let _ = fs::remove_file(&tmp);
                e
            })
        };
        // A full disk: the reserve goes, and the record lands in its room.
        write().or_else(|e| if disk_full(&e) && fs::remove_file(self.dir.join(RESERVE_FILE)).is_ok() { write() } else { Err(e) })?;
        let was = crate::events::Status { status: &before.0, oom_killed: before.1 };
        crate::events::record_transition(&self.dir, &was, &state);
        Ok(())
    }
}

fn disk_full(e: &io::Error) -> bool {
    [errno::ENOSPC.0, errno::EDQUOT.0].iter().any(|&n| e.raw_os_error() == Some(n))
}

/// Opens and locks `<bundle>/lock`; closing the fd releases it.
pub fn take_lock(dir: &Path) -> io::Result<c_int> {
    let lock = fd::open_path(&dir.join(LOCK_FILE), O_RDWR | O_CREAT | O_CLOEXEC, 0o600).map_err(to_io)?;
    if let Err(e) = fd::flock(lock, LOCK_EX) {
        fd::close(lock);
        return Err(to_io(e));
    }
    Ok(lock)
}

fn to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.0)
}

/// Field 22 of /proc/<pid>/stat, the start time in clock ticks since boot:
/// with the pid it names one process for good (src/containers/state.ts
/// `processStartTime` reads the same field).
pub fn start_time(pid: i32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid)).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19).map(str::to_string)
}

pub fn now() -> Json {
    Json::from(timefmt::iso_millis(SystemTime::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_in_place_and_skips_a_removed_bundle() {
        let dir = std::env::temp_dir().join(format!("tsbox-statefile-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(STATE_FILE), r#"{"id":"x","name":"web","status":"created","pid":null}"#).unwrap();
        let sf = StateFile::new(&dir);
        sf.update(Lock::Take, vec![("status", Json::from("running")), ("pid", Json::from(42)), ("restartCount", Json::from(0))])
            .unwrap();
        let v = json::parse(&fs::read_to_string(dir.join(STATE_FILE)).unwrap()).unwrap();
        assert_eq!(v.to_string(), r#"{"id":"x","name":"web","status":"running","pid":42,"restartCount":0}"#);
        assert!(dir.join(LOCK_FILE).exists());
        fs::remove_file(dir.join(STATE_FILE)).unwrap();
        sf.update(Lock::Take, vec![("status", Json::from("exited"))]).unwrap();
        assert!(!dir.join(STATE_FILE).exists());
        fs::remove_dir_all(&dir).unwrap();
        // No bundle at all: nothing is created.
        sf.update(Lock::Take, vec![("status", Json::from("exited"))]).unwrap();
        assert!(!dir.exists());
        assert!(start_time(std::process::id() as i32).is_some());
    }

    #[test]
    fn contract_state_reserve() {
        let f = json::parse(include_str!("../../../test/fixtures/contract/data-layout.json")).unwrap();
        assert_eq!(f.get("stateReserve").and_then(|v| v.as_str()), Some(RESERVE_FILE));
    }
}
