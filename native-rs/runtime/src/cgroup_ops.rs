//! `tsbox-runtime stats|pause|resume|update|delete --bundle DIR`: the
//! container's cgroup, found from its bundle alone (the `cgroup.json` that
//! `run` writes), so any process can ask about a container another one
//! started. Exit 0, or 125 with one stderr line (no such cgroup, a freezer
//! that fails, a limit the kernel refuses).

use container::cgroups::{describe, dropped_of, record, Manager, Resources};
use container::error::Error;
use container::Spec;
use std::path::Path;

pub enum Op {
    Stats,
    Pause,
    Resume,
    /// Writes the limits of the bundle's config.json (`tsbox update` rewrote
    /// them) into the live cgroup; prints the ones this host cannot apply (of
    /// the change's own, `--asked RESOURCES-JSON`, when given).
    Update(Option<Resources>),
    /// Removes what a container whose runtime died left behind: its cgroup
    /// (killing anything still in it) and the record, and what its network
    /// keeper left (`keeper::remove_leftovers`). Nothing to do is fine.
    Delete,
}

pub fn run(op: Op, bundle: &Path) -> i32 {
    let done = match op {
        Op::Delete => remove_leftovers(bundle),
        live => match record::load(bundle) {
            Ok(Some(manager)) => match live {
                Op::Stats => {
                    println!("{}", manager.stats().to_json());
                    Ok(())
                }
                Op::Pause => manager.freeze(),
                Op::Resume => manager.thaw(),
                Op::Update(asked) => update(&*manager, bundle, asked.as_ref()),
                Op::Delete => Ok(()),
            },
            Ok(None) => Err(Error::setup(format!(
                "container {} has no cgroup (it is not running, or runs without cgroups)",
                container_name(bundle)
            ))),
            Err(e) => Err(e),
        },
    };
    match done {
        Ok(()) => 0,
        Err(e) => fail(&e.message),
    }
}

/// Thaws the container's cgroup if it has one (a frozen container takes a
/// SIGKILL only once thawed, as the orphan path in signals.rs knows).
pub fn thaw(bundle: &Path) {
    if let Ok(Some(manager)) = record::load(bundle) {
        let _ = manager.thaw();
    }
}

fn update(manager: &dyn Manager, bundle: &Path, asked: Option<&Resources>) -> Result<(), Error> {
    let spec = Spec::load(bundle).map_err(Error::from)?;
    let dropped = dropped_of(manager.apply(&spec.linux.resources)?, asked);
    if !dropped.is_empty() {
        println!("{}", describe(&dropped));
    }
    Ok(())
}

/// `Op::Delete`: what a run whose `tsbox-runtime run` died unseen left (its cgroup, killing anything still in it,
/// and the record; its network keeper's records). Run by whoever deletes the bundle, and by the monitor when its
/// per-run supervisor died without reporting the end (SIGKILLed: it never removed them).
pub fn remove_leftovers(bundle: &Path) -> Result<(), Error> {
    if let Some(net) = Spec::load(bundle).ok().and_then(|s| s.network) {
        container::net::keeper::remove_leftovers(&net);
    }
    if let Some(manager) = record::load(bundle)? {
        manager.destroy()?;
        record::remove(bundle);
    }
    Ok(())
}

fn container_name(bundle: &Path) -> String {
    let name = bundle
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| bundle.display().to_string());
    name.chars().take(12).collect()
}

fn fail(message: &str) -> i32 {
    eprintln!("tsbox-runtime: {}", message);
    125
}
