//! v2 io: the proportional weight (io.bfq.weight takes blkio's 1..1000 as
//! is; io.weight is 1..10000) and bytes read/written from io.stat.

use crate::cgroups::common::{Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Io;

/// blkio weight 10..1000 onto io.weight 1..10000 (runc's conversion).
pub fn io_weight(blkio: u16) -> u64 {
    let w = (blkio as u64).max(10).min(1000);
    1 + (w - 10) * 9999 / 990
}

impl Controller for Io {
    fn name(&self) -> &'static str {
        "io"
    }

    fn limits(&self) -> &'static [Limit] {
        &[Limit::BlkioWeight]
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error> {
        if let Some(weight) = r.block_io.weight {
            if !fs::write_if_present(dir, "io.bfq.weight", &weight.to_string())?
                && !fs::write_if_present(dir, "io.weight", &format!("default {}", io_weight(weight)))?
            {
                return Ok(vec![(
                    Limit::BlkioWeight,
                    "this kernel has no io.weight (no BFQ scheduler or iocost)".into(),
                )]);
            }
        }
        Ok(Vec::new())
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        let (read, write) = io_stat(&fs::read(dir, "io.stat").unwrap_or_default());
        s.io_read_bytes = read;
        s.io_write_bytes = write;
    }
}

/// Sums rbytes= and wbytes= over the devices of io.stat.
pub fn io_stat(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            read += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            write += v.parse::<u64>().unwrap_or(0);
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weight_and_stat() {
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(1000), 10_000);
        let stat = "8:0 rbytes=4096 wbytes=10 rios=1 wios=1\n8:16 rbytes=1 wbytes=2 rios=1\n";
        assert_eq!(io_stat(stat), (4097, 12));
    }
}
