//! v1 memory: limit, memory+swap limit, soft limit (reservation); usage,
//! peak, limit; OOM kills from memory.oom_control.

use crate::cgroups::common::{no_file, Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use crate::sys::errno::EINVAL;
use std::path::Path;

pub struct Memory;

/// v1 reports "no limit" as i64::MAX rounded down to a page.
pub const UNLIMITED_FROM: u64 = 1 << 62;

const LIMIT: &str = "memory.limit_in_bytes";
const SWAP: &str = "memory.memsw.limit_in_bytes";
const SOFT: &str = "memory.soft_limit_in_bytes";

fn bytes(v: i64) -> String {
    if v < 0 {
        "-1".into()
    } else {
        v.to_string()
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
        let mut swap_done = false;
        if let Some(limit) = m.limit {
            match fs::write_if_present(dir, LIMIT, &bytes(limit)) {
                Ok(true) => {}
                Ok(false) => dropped.push(no_file(Limit::Memory, LIMIT)),
                // memory+swap may not be below memory: when the new limit is
                // above the current memory+swap one, that one goes first.
                Err(e) if e.errno == Some(EINVAL.0) && m.swap.is_some() => {
                    fs::write(dir, SWAP, &bytes(m.swap.unwrap_or(-1)))?;
                    fs::write(dir, LIMIT, &bytes(limit))?;
                    swap_done = true;
                }
                Err(e) => return Err(e),
            }
        }
        if let (Some(swap), false) = (m.swap, swap_done) {
            // Without swap accounting (swapaccount=0) there is no memsw file.
            if !fs::write_if_present(dir, SWAP, &bytes(swap))? {
                dropped.push(no_file(Limit::MemorySwap, SWAP));
            }
        }
        if let Some(reservation) = m.reservation {
            if !fs::write_if_present(dir, SOFT, &bytes(reservation))? {
                dropped.push(no_file(Limit::MemoryReservation, SOFT));
            }
        }
        Ok(dropped)
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        s.memory_usage = fs::read_u64(dir, "memory.usage_in_bytes").unwrap_or(0);
        s.memory_peak = fs::read_u64(dir, "memory.max_usage_in_bytes");
        s.memory_limit = fs::read_limit(dir, LIMIT, UNLIMITED_FROM);
        s.memory_inactive_file = fs::read_keyed(dir, "memory.stat", "total_inactive_file");
    }
}

pub fn oom_kills(dir: &Path) -> u64 {
    fs::read_keyed(dir, "memory.oom_control", "oom_kill").unwrap_or(0)
}
