//! v2 cpu: cpu.weight (from OCI/docker shares) and cpu.max (quota period);
//! usage and throttling from cpu.stat.

use crate::cgroups::common::{no_file, Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Cpu;

pub const DEFAULT_PERIOD: u64 = 100_000;

/// shares 2..262144 onto weight 1..10000, linearly (runc's and crun's
/// conversion: the default 1024 becomes 39, not 100).
pub fn weight_of_shares(shares: u64) -> u64 {
    let s = shares.max(2).min(262_144);
    1 + ((s - 2) * 9999) / 262_142
}

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
            let weight = weight_of_shares(shares).to_string();
            if !fs::write_if_present(dir, "cpu.weight", &weight)? {
                dropped.push(no_file(Limit::CpuShares, "cpu.weight"));
            }
        }
        if c.quota.is_some() || c.period.is_some() {
            let quota = match c.quota {
                Some(q) if q > 0 => q.to_string(),
                _ => "max".into(),
            };
            let value = format!("{} {}", quota, c.period.unwrap_or(DEFAULT_PERIOD));
            if !fs::write_if_present(dir, "cpu.max", &value)? {
                dropped.push(no_file(Limit::CpuQuota, "cpu.max"));
            }
        }
        Ok(dropped)
    }

    /// cpu.stat's usage is there even without the cpu controller (core stat).
    fn stats(&self, dir: &Path, s: &mut Stats) {
        cpu_stats(dir, s)
    }
}

pub fn cpu_stats(dir: &Path, s: &mut Stats) {
    let text = fs::read(dir, "cpu.stat").unwrap_or_default();
    s.cpu_usage_usec = fs::keyed(&text, "usage_usec").unwrap_or(0);
    s.cpu_user_usec = fs::keyed(&text, "user_usec").unwrap_or(0);
    s.cpu_system_usec = fs::keyed(&text, "system_usec").unwrap_or(0);
    s.cpu_throttled_periods = fs::keyed(&text, "nr_throttled");
    s.cpu_throttled_usec = fs::keyed(&text, "throttled_usec");
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_to_weight() {
        use super::weight_of_shares;
        assert_eq!(weight_of_shares(2), 1);
        assert_eq!(weight_of_shares(1024), 39);
        assert_eq!(weight_of_shares(262_144), 10_000);
        assert_eq!(weight_of_shares(0), 1);
    }
}
