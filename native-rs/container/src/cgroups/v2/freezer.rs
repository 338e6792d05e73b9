//! v2 freezer (core since 5.2, no controller to enable): cgroup.freeze, and
//! cgroup.events says "frozen 1" once every task has stopped.

use crate::cgroups::fs;
use crate::error::Error;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

pub fn set(dir: &Path, frozen: bool) -> Result<(), Error> {
    if !fs::write_if_present(dir, "cgroup.freeze", if frozen { "1" } else { "0" })? {
        return Err(Error::setup(format!(
            "cannot {} the container: this kernel has no cgroup.freeze (Linux 5.2+)",
            if frozen { "freeze" } else { "thaw" }
        )));
    }
    let want = if frozen { 1 } else { 0 };
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::read_keyed(dir, "cgroup.events", "frozen") != Some(want) {
        if Instant::now() > deadline {
            return Err(Error::setup(format!(
                "the container's cgroup {} did not become {}",
                dir.display(),
                if frozen { "frozen" } else { "thawed" }
            )));
        }
        sleep(Duration::from_millis(1));
    }
    Ok(())
}
