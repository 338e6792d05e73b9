//! cgroup v2: one directory holds every controller; a controller is usable
//! in it when the parent enabled it (cgroup.subtree_control), which is what
//! its cgroup.controllers lists.

mod cpu;
mod cpuset;
pub mod freezer;
mod io;
pub mod memory;
mod pids;

use super::common::{drop_all, Controller, Dropped, Manager, Version};
use super::resources::Resources;
use super::stats::Stats;
use super::{fs, remove};
use crate::error::{Context, Error};
use std::path::{Path, PathBuf};

pub const CONTROLLERS: [&dyn Controller; 5] = [
    &memory::Memory,
    &cpu::Cpu,
    &cpuset::Cpuset,
    &pids::Pids,
    &io::Io,
];

/// Every controller name tsbox enables on the way down to a container.
pub const ENABLE: [&str; 5] = ["cpu", "cpuset", "io", "memory", "pids"];

pub struct V2Manager {
    dir: PathBuf,
}

impl V2Manager {
    pub fn new(dir: PathBuf) -> V2Manager {
        V2Manager { dir }
    }

    fn available(&self) -> Vec<String> {
        fs::read(&self.dir, "cgroup.controllers")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }
}

impl Manager for V2Manager {
    fn version(&self) -> Version {
        Version::V2
    }

    fn dirs(&self) -> Vec<(String, PathBuf)> {
        vec![("unified".into(), self.dir.clone())]
    }

    fn apply(&self, r: &Resources) -> Result<Vec<Dropped>, Error> {
        let available = self.available();
        let mut dropped = Vec::new();
        for c in CONTROLLERS.iter() {
            if available.iter().any(|a| a == c.name()) {
                dropped.extend(c.apply(&self.dir, r)?);
            } else {
                let parent = self.dir.parent().unwrap_or(&self.dir);
                let why = format!(
                    "no {} controller in {} (not in this kernel, or not delegated)",
                    c.name(),
                    parent.display()
                );
                dropped.extend(drop_all(*c, r, &why));
            }
        }
        Ok(dropped)
    }

    fn clone_into(&self) -> Option<&Path> {
        Some(&self.dir)
    }

    fn freeze(&self) -> Result<(), Error> {
        freezer::set(&self.dir, true)
    }

    fn thaw(&self) -> Result<(), Error> {
        freezer::set(&self.dir, false)
    }

    fn thaw_file(&self) -> Option<(PathBuf, &'static str)> {
        Some((self.dir.join("cgroup.freeze"), "0"))
    }

    fn stats(&self) -> Stats {
        let mut s = Stats::default();
        for c in CONTROLLERS.iter() {
            c.stats(&self.dir, &mut s);
        }
        s
    }

    fn oom_kills(&self) -> u64 {
        memory::oom_kills(&self.dir)
    }

    fn destroy(&self) -> Result<(), Error> {
        let _ = freezer::set(&self.dir, false);
        remove::kill_and_remove(&[self.dir.as_path()], true)
    }
}

/// Makes `dir` and its missing parents below `base` (which exists), enabling
/// on every level above `dir` the controllers that level has, so `dir` gets
/// them. A controller that cannot be enabled (a level with processes of its
/// own, a controller not delegated) is left out; `apply` then says so.
pub fn make_dirs(base: &Path, dir: &Path) -> Result<(), Error> {
    let rel = dir.strip_prefix(base).unwrap_or(dir);
    let mut cur = base.to_path_buf();
    for part in rel.components() {
        enable_controllers(&cur);
        cur.push(part);
        match std::fs::create_dir(&cur) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && cur != dir => {}
            Err(e) => return Err(e).step(|| format!("creating cgroup {}", cur.display())),
        }
    }
    Ok(())
}

fn enable_controllers(dir: &Path) {
    let have = fs::read(dir, "cgroup.controllers").unwrap_or_default();
    let enabled = fs::read(dir, "cgroup.subtree_control").unwrap_or_default();
    for c in ENABLE.iter() {
        let has = |text: &str| text.split_whitespace().any(|w| w == *c);
        if has(&have) && !has(&enabled) {
            let _ = fs::write_if_present(dir, "cgroup.subtree_control", &format!("+{}", c));
        }
    }
}
