//! v1 cpuset: the CPUs and memory nodes the container may use. A new v1
//! cpuset cgroup starts with none (no task can join it), so every level
//! tsbox creates first takes its parent's.

use crate::cgroups::common::{Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Cpuset;

impl Controller for Cpuset {
    fn name(&self) -> &'static str {
        "cpuset"
    }

    fn limits(&self) -> &'static [Limit] {
        &[Limit::Cpuset]
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error> {
        if let Some(cpus) = &r.cpu.cpus {
            fs::write(dir, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = &r.cpu.mems {
            fs::write(dir, "cpuset.mems", mems)?;
        }
        Ok(Vec::new())
    }

    fn stats(&self, _dir: &Path, _s: &mut Stats) {}
}

/// Copies the parent's cpus and mems into a new cgroup whose own are empty.
pub fn inherit(dir: &Path) -> Result<(), Error> {
    let parent = match dir.parent() {
        Some(p) => p,
        None => return Ok(()),
    };
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let own = fs::read(dir, file).unwrap_or_default();
        if own.trim().is_empty() {
            let theirs = fs::read(parent, file).unwrap_or_default();
            fs::write_if_present(dir, file, theirs.trim())?;
        }
    }
    Ok(())
}
