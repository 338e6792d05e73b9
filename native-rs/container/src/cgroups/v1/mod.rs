//! cgroup v1: one directory per hierarchy (a hierarchy may carry several
//! controllers, e.g. "cpu,cpuacct"), one file per controller here.

mod blkio;
mod cpu;
mod cpuacct;
pub mod cpuset;
pub mod freezer;
pub mod memory;
pub mod pids;

use super::common::{drop_all, Controller, Dropped, Manager, Version};
use super::resources::Resources;
use super::stats::Stats;
use super::remove;
use crate::error::{Context, Error};
use std::path::{Path, PathBuf};

pub const CONTROLLERS: [&dyn Controller; 6] = [
    &memory::Memory,
    &cpu::Cpu,
    &cpuacct::Cpuacct,
    &cpuset::Cpuset,
    &pids::Pids,
    &blkio::Blkio,
];

pub struct V1Manager {
    /// (the hierarchy's controllers, this cgroup's directory in it)
    dirs: Vec<(Vec<String>, PathBuf)>,
    /// Controllers it has no directory for, and why (for the dropped limits).
    missing: Vec<(String, String)>,
}

impl V1Manager {
    pub fn new(dirs: Vec<(Vec<String>, PathBuf)>, missing: Vec<(String, String)>) -> V1Manager {
        V1Manager { dirs, missing }
    }

    fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs
            .iter()
            .find(|(c, _)| c.iter().any(|n| n == controller))
            .map(|(_, d)| d.as_path())
    }

    fn why_missing(&self, controller: &str) -> String {
        self.missing
            .iter()
            .find(|(c, _)| c == controller)
            .map(|(_, why)| why.clone())
            .unwrap_or_else(|| format!("no {} controller is mounted", controller))
    }
}

impl Manager for V1Manager {
    fn version(&self) -> Version {
        Version::V1
    }

    fn dirs(&self) -> Vec<(String, PathBuf)> {
        self.dirs
            .iter()
            .map(|(c, d)| (c.join(","), d.clone()))
            .collect()
    }

    fn apply(&self, r: &Resources) -> Result<Vec<Dropped>, Error> {
        let mut dropped = Vec::new();
        for c in CONTROLLERS.iter() {
            match self.dir_of(c.name()) {
                Some(dir) => dropped.extend(c.apply(dir, r)?),
                None => dropped.extend(drop_all(*c, r, &self.why_missing(c.name()))),
            }
        }
        Ok(dropped)
    }

    fn clone_into(&self) -> Option<&Path> {
        None
    }

    fn freeze(&self) -> Result<(), Error> {
        freezer::set(self.freezer_dir()?, true)
    }

    fn thaw(&self) -> Result<(), Error> {
        freezer::set(self.freezer_dir()?, false)
    }

    fn thaw_file(&self) -> Option<(PathBuf, &'static str)> {
        self.dir_of("freezer").map(|d| (d.join(freezer::STATE), "THAWED"))
    }

    fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for c in CONTROLLERS.iter() {
            if let Some(dir) = self.dir_of(c.name()) {
                c.stats(dir, &mut s);
            }
        }
        s
    }

    fn oom_kills(&self) -> u64 {
        self.dir_of("memory").map_or(0, memory::oom_kills)
    }

    fn destroy(&self) -> Result<(), Error> {
        if let Some(dir) = self.dir_of("freezer") {
            // Frozen tasks cannot die until thawed.
            let _ = freezer::set(dir, false);
        }
        let dirs: Vec<&Path> = self.dirs.iter().map(|(_, d)| d.as_path()).collect();
        remove::kill_and_remove(&dirs, false)
    }
}

impl V1Manager {
    fn freezer_dir(&self) -> Result<&Path, Error> {
        self.dir_of("freezer").ok_or_else(|| {
            Error::setup(format!(
                "cannot freeze the container: {}",
                self.why_missing("freezer")
            ))
        })
    }
}

/// Makes `dir` and the levels above it that are missing, up to `base`
/// (which exists); cpuset levels without cpus or mems get their parent's.
pub fn make_dirs(base: &Path, dir: &Path, cpuset: bool) -> Result<(), Error> {
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    let mut cur = base.to_path_buf();
    for part in rel.components() {
        cur.push(part);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && cur != dir => {}
            Err(e) => return Err(e).step(|| format!("creating cgroup {}", cur.display())),
        }
        // Also an existing level: one left empty would refuse every task.
        if cpuset {
            cpuset::inherit(&cur)?;
        }
    }
    Ok(())
}
