//! v1 cpu: shares and the CFS bandwidth quota/period; throttling stats.

use crate::cgroups::common::{no_file, Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Cpu;

impl Controller for Cpu {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn limits(&self) -> &'static [Limit] {
        &[Limit::CpuShares, Limit::CpuQuota]
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error> {
        let c = &r.cpu;
        let mut dropped = Vec::new();
        if let Some(shares) = c.shares {
            if !fs::write_if_present(dir, "cpu.shares", &shares.to_string())? {
                dropped.push(no_file(Limit::CpuShares, "cpu.shares"));
            }
        }
        // The period first: the quota is checked against it.
        let mut bandwidth = true;
        if let Some(period) = c.period {
            bandwidth = fs::write_if_present(dir, "cpu.cfs_period_us", &period.to_string())?;
        }
        if let (Some(quota), true) = (c.quota, bandwidth) {
            let q = if quota <= 0 { -1 } else { quota };
            bandwidth = fs::write_if_present(dir, "cpu.cfs_quota_us", &q.to_string())?;
        }
        if !bandwidth {
            // CONFIG_CFS_BANDWIDTH=n
            dropped.push(no_file(Limit::CpuQuota, "cpu.cfs_quota_us"));
        }
        Ok(dropped)
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        s.cpu_throttled_periods = fs::read_keyed(dir, "cpu.stat", "nr_throttled");
        s.cpu_throttled_usec = fs::read_keyed(dir, "cpu.stat", "throttled_time").map(|ns| ns / 1000);
    }
}
