//! v1 freezer: FROZEN / THAWED through freezer.state, which reads FREEZING
//! until every task has stopped.

use crate::cgroups::fs;
use crate::error::Error;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

pub const STATE: &str = "freezer.state";

pub fn set(dir: &Path, frozen: bool) -> Result<(), Error> {
    let want = if frozen { "FROZEN" } else { "THAWED" };
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // Writing FROZEN again nudges tasks that were busy (runc does the same).
        fs::write(dir, STATE, want)?;
        for _ in 0..10 {
            if fs::read(dir, STATE).map_or(false, |s| s.trim() == want) {
                return Ok(());
            }
            sleep(Duration::from_millis(1));
        }
        if Instant::now() > deadline {
            return Err(Error::setup(format!(
                "the container's cgroup did not become {} ({} in {})",
                want.to_lowercase(),
                fs::read(dir, STATE).unwrap_or_default().trim(),
                dir.display()
            )));
        }
    }
}
