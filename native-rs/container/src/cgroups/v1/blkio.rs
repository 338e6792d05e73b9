//! v1 blkio: the proportional weight (CFQ's blkio.weight or BFQ's
//! blkio.bfq.weight, whichever this kernel has) and bytes read/written.

use crate::cgroups::common::{Controller, Dropped};
use crate::cgroups::fs;
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::error::Error;
use std::path::Path;

pub struct Blkio;

impl Controller for Blkio {
    fn name(&self) -> &'static str {
        "blkio"
    }

    fn limits(&self) -> &'static [Limit] {
        &[Limit::BlkioWeight]
    }

    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error> {
        if let Some(weight) = r.block_io.weight {
            let value = weight.to_string();
            if !fs::write_if_present(dir, "blkio.weight", &value)?
                && !fs::write_if_present(dir, "blkio.bfq.weight", &value)?
            {
                return Ok(vec![(
                    Limit::BlkioWeight,
                    "this kernel has no blkio.weight (no CFQ or BFQ I/O scheduler)".into(),
                )]);
            }
        }
        Ok(Vec::new())
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        // The scheduler's own counters where there are some, else the
        // throttling layer's (which sees every request).
        for file in [
            "blkio.io_service_bytes_recursive",
            "blkio.throttle.io_service_bytes_recursive",
        ] {
            if let Some(text) = fs::read(dir, file) {
                let (read, write) = service_bytes(&text);
                if read + write > 0 || file.contains("throttle") {
                    s.io_read_bytes = read;
                    s.io_write_bytes = write;
                    return;
                }
            }
        }
    }
}

/// Sums "MAJ:MIN Read N" / "MAJ:MIN Write N" lines over devices.
pub fn service_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let n: u64 = f[2].parse().unwrap_or(0);
        match f[1] {
            "Read" => read += n,
            "Write" => write += n,
            _ => {}
        }
    }
    (read, write)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sums_devices() {
        let text = "8:0 Read 4096\n8:0 Write 100\n8:0 Total 4196\n8:16 Read 1\nTotal 4197\n";
        assert_eq!(super::service_bytes(text), (4097, 100));
    }
}
