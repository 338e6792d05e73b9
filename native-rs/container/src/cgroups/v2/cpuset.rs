//! v2 cpuset: cpuset.cpus and cpuset.mems (empty means the parent's).

use crate::cgroups::common::{no_file, Controller, Dropped};
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
        for (file, value) in [("cpuset.cpus", &r.cpu.cpus), ("cpuset.mems", &r.cpu.mems)] {
            if let Some(v) = value {
                if !fs::write_if_present(dir, file, v)? {
                    return Ok(vec![no_file(Limit::Cpuset, file)]);
                }
            }
        }
        Ok(Vec::new())
    }

    fn stats(&self, _dir: &Path, _s: &mut Stats) {}
}
