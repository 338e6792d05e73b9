//! v1 cpuacct: CPU time used (no limits).

use crate::cgroups::common::{Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Cpuacct;

/// cpuacct.stat counts USER_HZ ticks (100 a second on Linux).
const USEC_PER_TICK: u64 = 10_000;

impl Controller for Cpuacct {
    fn name(&self) -> &'static str {
        "cpuacct"
    }

    fn limits(&self) -> &'static [Limit] {
        &[]
    }

    fn apply(&self, _dir: &Path, _r: &Resources) -> Result<Vec<Dropped>, Error> {
        Ok(Vec::new())
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        s.cpu_usage_usec = fs::read_u64(dir, "cpuacct.usage").unwrap_or(0) / 1000;
        // Nanoseconds since 4.7; ticks before.
        match (fs::read_u64(dir, "cpuacct.usage_user"), fs::read_u64(dir, "cpuacct.usage_sys")) {
            (Some(user), Some(sys)) => {
                s.cpu_user_usec = user / 1000;
                s.cpu_system_usec = sys / 1000;
            }
            _ => {
                let tick = |k| fs::read_keyed(dir, "cpuacct.stat", k).unwrap_or(0) * USEC_PER_TICK;
                s.cpu_user_usec = tick("user");
                s.cpu_system_usec = tick("system");
            }
        }
    }
}
