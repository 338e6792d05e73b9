//! `tsbox-runtime run`: load the bundle, make the container's cgroup, start
//! the container, forward signals, wait, report. Exits with the container's
//! code, 128+signal, or 125/126/127 when it could not be started.

use crate::helper::{self, Start};
use container::cgroups::{self, record, Manager, Placement};
use container::error::Error;
use container::launch;
use container::status::StatusEvents;
use container::Spec;
use std::path::{Path, PathBuf};

pub struct Options {
    pub bundle: PathBuf,
    pub status_fd: Option<i32>,
}

struct Run {
    spec: Spec,
    cgroup: Option<Cgroup>,
}

/// The container's cgroup, recorded in the bundle (cgroup.json) for as long
/// as it exists; removed (with anything still in it) when the run ends.
struct Cgroup {
    manager: Box<dyn Manager>,
    bundle: PathBuf,
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        if let Err(e) = self.manager.destroy() {
            eprintln!("tsbox-runtime: {}", e.message);
        }
        record::remove(&self.bundle);
    }
}

pub fn run(opts: Options) -> i32 {
    let bundle = opts.bundle;
    helper::serve(Start {
        status_fd: opts.status_fd,
        detach: false,
        load: Box::new(move |events| load(&bundle, events)),
        spawn: |r: &Run, on_clone: &mut dyn FnMut(i32)| {
            let placement = r.cgroup.as_ref().map(|c| Placement::open(&*c.manager)).transpose()?;
            launch::spawn(&r.spec, placement.as_ref(), on_clone)
        },
        oom_killed: |r: &Run| r.cgroup.as_ref().map_or(false, |c| c.manager.oom_kills() > 0),
    })
}

fn load(bundle: &Path, events: &StatusEvents) -> Result<Run, Error> {
    let spec = Spec::load(bundle)?;
    // Default: tsbox/<container id> under the cgroup tsbox may use.
    let path = spec
        .linux
        .cgroups_path
        .clone()
        .unwrap_or_else(|| format!("tsbox/{}", name_of(bundle)));
    let prepared = cgroups::prepare_here(&path, &spec.linux.resources, spec.linux.cgroups_mode)?;
    if let Some(w) = &prepared.warning {
        events.warning(w);
    }
    let cgroup = match prepared.manager {
        Some(manager) => {
            let c = Cgroup {
                manager,
                bundle: bundle.to_path_buf(),
            };
            record::write(bundle, &*c.manager)?;
            Some(c)
        }
        None => None,
    };
    Ok(Run { spec, cgroup })
}

pub fn name_of(bundle: &Path) -> String {
    std::fs::canonicalize(bundle)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "container".into())
}
