//! v2 pids: the same files as v1's (v1/pids.rs has the code).

use crate::cgroups::common::{Controller, Dropped};
use crate::cgroups::resources::{Limit, Resources};
use crate::cgroups::stats::Stats;
use crate::cgroups::v1::pids::{apply_pids, pids_stats};
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
        apply_pids(dir, r)
    }

    fn stats(&self, dir: &Path, s: &mut Stats) {
        pids_stats(dir, s)
    }
}
