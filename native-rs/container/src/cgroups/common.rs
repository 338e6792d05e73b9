//! The manager every cgroup version implements, and the controller trait its
//! per-controller files implement (youki's libcgroups shape: adding a
//! controller is adding a file to v1/ or v2/).

use super::resources::{Limit, Resources};
use super::stats::Stats;
use crate::error::Error;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl Version {
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// A limit this cgroup cannot apply, and why ("no blkio weight file on this
/// kernel", "the cpu controller is not delegated to uid 1000").
pub type Dropped = (Limit, String);

/// One container's cgroup (one directory per v1 hierarchy, one on v2).
pub trait Manager {
    fn version(&self) -> Version;
    /// The directories, named by their controllers ("memory", "cpu,cpuacct";
    /// "unified" on v2): what `cgroup.json` records.
    fn dirs(&self) -> Vec<(String, PathBuf)>;
    /// Writes the limits; returns those it could not apply.
    fn apply(&self, resources: &Resources) -> Result<Vec<Dropped>, Error>;
    /// The directory a `clone3(CLONE_INTO_CGROUP)` can start a process in
    /// (v2 only: one directory holds every controller).
    fn clone_into(&self) -> Option<&Path>;
    /// Freezes every process in it; returns once the kernel says frozen.
    fn freeze(&self) -> Result<(), Error>;
    fn thaw(&self) -> Result<(), Error>;
    /// The file and value that thaw it in one write (from a signal handler:
    /// a v1-frozen task takes no SIGKILL until thawed).
    fn thaw_file(&self) -> Option<(PathBuf, &'static str)>;
    fn stats(&self) -> Stats;
    /// How many processes the OOM killer killed in it.
    fn oom_kills(&self) -> u64;
    /// Kills what is left in it (thawed first) and removes the directories.
    fn destroy(&self) -> Result<(), Error>;
}

/// One controller's part of applying limits and reading stats.
pub trait Controller {
    fn name(&self) -> &'static str;
    /// The limits it applies: dropped when the controller is not there.
    fn limits(&self) -> &'static [Limit];
    /// Writes its part of `r` into `dir`; returns limits whose control file
    /// this kernel lacks.
    fn apply(&self, dir: &Path, r: &Resources) -> Result<Vec<Dropped>, Error>;
    fn stats(&self, dir: &Path, s: &mut Stats);
}

/// The requested limits of `controller`, dropped for `why`.
pub fn drop_all(controller: &dyn Controller, r: &Resources, why: &str) -> Vec<Dropped> {
    r.requested()
        .into_iter()
        .filter(|l| controller.limits().contains(l))
        .map(|l| (l, why.to_string()))
        .collect()
}

/// A write that found no control file (`fs::write_if_present` said false).
pub fn no_file(limit: Limit, file: &str) -> Dropped {
    (limit, format!("this kernel has no {}", file))
}
