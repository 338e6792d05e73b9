//! `process.oomScoreAdj`: written to our own /proc/self/oom_score_adj right
//! before the fork, so the container's process inherits it (as runc does).
//! Lowering it needs CAP_SYS_RESOURCE on the host, which rootless lacks.

use crate::error::{Context, Error};

pub fn apply(adj: Option<i32>) -> Result<(), Error> {
    let adj = match adj {
        Some(a) => a,
        None => return Ok(()),
    };
    std::fs::write("/proc/self/oom_score_adj", adj.to_string()).step(|| {
        format!(
            "setting oom_score_adj to {} (lowering it needs CAP_SYS_RESOURCE on the host)",
            adj
        )
    })
}
