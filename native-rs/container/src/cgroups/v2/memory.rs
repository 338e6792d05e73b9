//! v2 memory: memory.max, memory.swap.max (OCI's swap is memory+swap, v2's
//! file is swap alone), memory.low (reservation); usage, peak (5.19+),
//! limit; OOM kills from memory.events.

use crate::cgroups::common::{no_file, Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Memory;

fn bytes(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// memory+swap → swap alone: unlimited stays unlimited, otherwise what is
/// left above the memory limit (runc's conversion).
pub fn swap_only(limit: Option<i64>, swap: i64) -> String {
    match limit {
        _ if swap < 0 => "max".into(),
        Some(l) if l >= 0 => (swap - l).max(0).to_string(),
        _ => swap.to_string(),
    }
}

impl Controller for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn limits(&self) -> &'static [Limit] {
        &[Limit::Memory, Limit::MemorySwap, Limit::MemoryReservation]
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error> {
        let m = &r.memory;
        let mut dropped = Vec::new();
        if let Some(limit) = m.limit {
            if !fs::write_if_present(dir, "memory.max", &bytes(limit))? {
                dropped.push(no_file(Limit::Memory, "memory.max"));
            }
        }
        if let Some(swap) = m.swap {
            // No file without CONFIG_SWAP or with swap accounting off.
            if !fs::write_if_present(dir, "memory.swap.max", &swap_only(m.limit, swap))? {
                dropped.push(no_file(Limit::MemorySwap, "memory.swap.max"));
            }
        }
        if let Some(reservation) = m.reservation {
            if !fs::write_if_present(dir, "memory.low", &bytes(reservation))? {
                dropped.push(no_file(Limit::MemoryReservation, "memory.low"));
            }
        }
        Ok(dropped)
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        s.memory_usage = fs::read_u64(dir, "memory.current").unwrap_or(0);
        s.memory_peak = fs::read_u64(dir, "memory.peak");
        s.memory_limit = fs::read_limit(dir, "memory.max", u64::MAX);
        s.memory_inactive_file = fs::read_keyed(dir, "memory.stat", "inactive_file");
    }
}

pub fn oom_kills(dir: &Path) -> u64 {
    fs::read_keyed(dir, "memory.events", "oom_kill").unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn swap_conversion() {
        use super::swap_only;
        assert_eq!(swap_only(Some(100), 300), "200");
        assert_eq!(swap_only(Some(100), 100), "0");
        assert_eq!(swap_only(Some(100), -1), "max");
        assert_eq!(swap_only(None, 50), "50");
    }
}
