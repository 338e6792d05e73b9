//! pids, v1 and v2 alike (the same files on both): the process limit and count.

use crate::cgroups::common::{no_file, Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Pids;

impl Controller for Pids {
    fn name(&self) -> &'static str {
        "pids"
    }

    fn limits(&self) -> &'static [Limit] {
        &[Limit::Pids]
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error> {
        if let Some(limit) = r.pids.limit {
            let value = if limit <= 0 {
                "max".to_string()
            } else {
                limit.to_string()
            };
            if !fs::write_if_present(dir, "pids.max", &value)? {
                return Ok(vec![no_file(Limit::Pids, "pids.max")]);
            }
        }
        Ok(Vec::new())
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        s.pids_current = fs::read_u64(dir, "pids.current").unwrap_or(0);
        s.pids_limit = fs::read_limit(dir, "pids.max", u64::MAX);
    }
}
