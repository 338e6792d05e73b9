//! cgroups for containers: limits (memory, CPU, cpuset, pids, block I/O),
//! freezing, statistics and OOM kills, on cgroup v1, v2 and hybrid hosts.
//!
//! * `layout`: what the host mounts and where we are in it.
//! * `delegation`: where we may create cgroups (root: anywhere; a user: in
//!   a cgroup delegated to it).
//! * [`create`]: the one factory: a v1 or v2 [`Manager`] for a new cgroup;
//!   [`record`] finds one again from a bundle; [`of_process`] is the cgroup
//!   of a running container's init (for `exec`).
//! * `v1/`, `v2/`: the managers, one file per controller.
//! * [`prepare`]: the policy a container start applies (`linux.cgroupsMode`:
//!   enabled, required, disabled), and the warning naming dropped limits.
//! * `placement`: getting a new process into it (clone3 or cgroup.procs).

pub mod common;
pub mod delegation;
pub mod fs;
pub mod layout;
pub mod placement;
pub mod record;
mod remove;
pub mod report;
pub mod resources;
pub mod stats;
#[cfg(test)]
pub mod test_manager;
pub mod v1;
pub mod v2;

pub use common::{Dropped, Manager, Version};
pub use delegation::Creator;
pub use layout::{Kind, Layout};
pub use placement::Placement;
pub use resources::{Limit, Resources};
pub use stats::Stats;

use crate::error::Error;
use std::path::{Path, PathBuf};
use v1::V1Manager;
use v2::V2Manager;

/// Kills every process in `m`'s cgroup, which stays (thawed first: frozen
/// tasks cannot die). For what a container whose init has ended left running
/// in a PID namespace not its own (leftovers.rs), as runc kills its cgroup.
pub fn kill_processes(m: &dyn Manager) {
    let _ = m.thaw();
    let dirs = m.dirs();
    let dirs: Vec<&Path> = dirs.iter().map(|(_, d)| d.as_path()).collect();
    remove::kill_processes(&dirs, matches!(m.version(), Version::V2));
}

/// The spec's `linux.cgroupsMode` (a tsbox extension): `enabled` (default)
/// uses a cgroup when it can and warns about the limits it cannot apply,
/// `required` makes that an error, `disabled` uses none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Enabled,
    Required,
    Disabled,
}

impl Mode {
    pub fn from_spec(name: &str) -> Option<Mode> {
        match name {
            "enabled" => Some(Mode::Enabled),
            "required" => Some(Mode::Required),
            "disabled" => Some(Mode::Disabled),
            _ => None,
        }
    }
}

pub enum Outcome {
    Planned(Plan),
    /// No cgroup can be made here, and why.
    Unavailable(String),
}

/// A cgroup not made yet: its manager (over directories that do not exist
/// yet) and the levels to make. Planning first lets a start record where
/// the cgroup will be before any directory exists: a runtime killed while
/// making them leaves a record naming them all (`record`), never a
/// directory nobody knows of.
pub struct Plan {
    pub manager: Box<dyn Manager>,
    levels: Vec<Level>,
}

/// `leaf` and the missing levels from `base` (which exists) down to it.
struct Level {
    base: PathBuf,
    leaf: PathBuf,
    /// v1 (with whether the hierarchy carries cpuset), or v2.
    v1_cpuset: Option<bool>,
}

impl Plan {
    /// A manager whose cgroup already exists (tests' doubles).
    pub fn made(manager: Box<dyn Manager>) -> Plan {
        Plan { manager, levels: Vec::new() }
    }

    /// Makes the directories; on an error the leaves made so far go again.
    pub fn make(self) -> Result<Box<dyn Manager>, Error> {
        for (i, l) in self.levels.iter().enumerate() {
            let made = match l.v1_cpuset {
                Some(cpuset) => v1::make_dirs(&l.base, &l.leaf, cpuset),
                None => v2::make_dirs(&l.base, &l.leaf),
            };
            if let Err(e) = made {
                let leaves: Vec<&Path> = self.levels[..i].iter().map(|l| l.leaf.as_path()).collect();
                let _ = remove::kill_and_remove(&leaves, false);
                return Err(e);
            }
        }
        Ok(self.manager)
    }
}

/// Plans the cgroup `path` (OCI `cgroupsPath`: absolute from each
/// hierarchy's root, relative from the base `who` may create in): v2 where
/// the cgroup2 hierarchy has the controllers, v1 (also on hybrid hosts)
/// where v1 hierarchies hold them. Nothing is made yet ([`Plan::make`]).
pub fn create(layout: &Layout, who: &Creator, path: &str) -> Result<Outcome, Error> {
    match layout.kind {
        Kind::V2 => match layout.v2.as_ref() {
            Some(h) => create_v2(h, who, path),
            None => Ok(Outcome::Unavailable("no cgroup2 hierarchy".into())),
        },
        Kind::V1 | Kind::Hybrid => create_v1(layout, who, path),
        Kind::None => Ok(Outcome::Unavailable(
            "this host has no cgroup file system mounted".into(),
        )),
    }
}

/// `path` under `base` (relative) or the mount (absolute); None when an
/// absolute one lies outside what `who` may use.
fn target(h: &layout::Hierarchy, base: &Path, who: &Creator, path: &str) -> Option<PathBuf> {
    let dir = if path.starts_with('/') {
        layout::join(&h.mount, path)
    } else {
        base.join(path)
    };
    (who.privileged || dir.starts_with(base)).then(|| dir)
}

fn outside(path: &str, base: &Path) -> String {
    format!(
        "cgroupsPath {} is outside the cgroup delegated to this user ({})",
        path,
        base.display()
    )
}

/// Another's cgroup is never shared, and never named in our record (whose
/// collector would kill what runs in it).
fn must_be_new(dir: &Path) -> Result<(), Error> {
    if dir.exists() {
        return Err(Error::setup(format!("creating cgroup {}: it already exists", dir.display())));
    }
    Ok(())
}

fn create_v2(h: &layout::Hierarchy, who: &Creator, path: &str) -> Result<Outcome, Error> {
    let base = match delegation::base(h, who) {
        Ok(b) => b,
        Err(why) => return Ok(Outcome::Unavailable(why)),
    };
    let dir = match target(h, &base, who, path) {
        Some(d) => d,
        None => return Ok(Outcome::Unavailable(outside(path, &base))),
    };
    must_be_new(&dir)?;
    Ok(Outcome::Planned(Plan {
        manager: Box::new(V2Manager::new(dir.clone())),
        levels: vec![Level { base, leaf: dir, v1_cpuset: None }],
    }))
}

fn create_v1(layout: &Layout, who: &Creator, path: &str) -> Result<Outcome, Error> {
    let mut missing: Vec<(String, String)> = Vec::new();
    let mut plans = Vec::new();
    for h in &layout.v1 {
        let planned = delegation::base(h, who)
            .and_then(|base| target(h, &base, who, path).map(|d| (base.clone(), d)).ok_or_else(|| outside(path, &base)));
        match planned {
            Ok(p) => plans.push((h, p)),
            Err(why) => missing.extend(h.controllers.iter().map(|c| (c.clone(), why.clone()))),
        }
    }
    for name in layout::V1_CONTROLLERS.iter() {
        if layout.v1_hierarchy(name).is_none() {
            missing.push((name.to_string(), format!("this host has no {} controller mounted", name)));
        }
    }
    if plans.is_empty() {
        let why = missing.first().map(|(_, w)| w.clone()).unwrap_or_default();
        return Ok(Outcome::Unavailable(why));
    }
    let mut dirs = Vec::new();
    let mut levels = Vec::new();
    for (h, (base, dir)) in plans {
        must_be_new(&dir)?;
        dirs.push((h.controllers.clone(), dir.clone()));
        levels.push(Level { base, leaf: dir, v1_cpuset: Some(h.has("cpuset")) });
    }
    Ok(Outcome::Planned(Plan { manager: Box::new(V1Manager::new(dirs, missing)), levels }))
}

/// The cgroups of a running process, where they differ from ours: what a
/// process exec'd into its container joins. None when there are none.
pub fn of_process(pid: i32) -> Option<Box<dyn Manager>> {
    let layout = Layout::detect();
    let theirs = std::fs::read_to_string(format!("/proc/{}/cgroup", pid)).ok()?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let read = |p: &Path| std::fs::read_to_string(p.join("cgroup.controllers")).ok();
    let other = Layout::parse(&mountinfo, &theirs, read);
    match layout.kind {
        Kind::V2 => {
            let (ours, theirs) = (layout.v2?, other.v2?);
            (ours.own != theirs.own).then(|| Box::new(V2Manager::new(theirs.own_dir())) as Box<dyn Manager>)
        }
        Kind::V1 | Kind::Hybrid => {
            let dirs: Vec<(Vec<String>, PathBuf)> = other
                .v1
                .iter()
                .filter(|t| !layout.v1.iter().any(|o| o.mount == t.mount && o.own == t.own))
                .map(|t| (t.controllers.clone(), t.own_dir()))
                .collect();
            (!dirs.is_empty()).then(|| Box::new(V1Manager::new(dirs, Vec::new())) as Box<dyn Manager>)
        }
        Kind::None => None,
    }
}

/// What a container start gets: its cgroup (None: it runs without one), and
/// the one warning to show about limits that are not applied.
pub struct Prepared {
    pub manager: Option<Box<dyn Manager>>,
    pub warning: Option<String>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dirs = self.manager.as_ref().map(|m| m.dirs());
        f.debug_struct("Prepared").field("dirs", &dirs).field("warning", &self.warning).finish()
    }
}

/// Where a start records its cgroup before making it (`record::write`).
pub type Recorder<'a> = &'a mut dyn FnMut(&dyn Manager) -> Result<(), Error>;

/// The policy of `mode` around `create` (the factory, [`create`] in real
/// use) and `apply`: a cgroup with `resources` applied, or none (with a
/// warning when limits were asked for), or an error under `Mode::Required`.
/// `record` learns the cgroup before its directories are made.
pub fn prepare(
    create: &mut dyn FnMut() -> Result<Outcome, Error>,
    record: Recorder,
    resources: &Resources,
    mode: Mode,
) -> Result<Prepared, Error> {
    let none = |warning| Ok(Prepared { manager: None, warning });
    if mode == Mode::Disabled {
        return none(None);
    }
    let wanted = resources.requested();
    let plan = match create()? {
        Outcome::Planned(p) => p,
        Outcome::Unavailable(why) if mode == Mode::Required => {
            return Err(Error::setup(format!("cgroups are required, but {}", why)))
        }
        Outcome::Unavailable(_) if wanted.is_empty() => return none(None),
        Outcome::Unavailable(why) => {
            return none(Some(format!("{}: running without {}", why, resources::names(&wanted))))
        }
    };
    record(&*plan.manager)?;
    let manager = plan.make()?;
    let dropped = match manager.apply(resources) {
        Ok(d) => d,
        Err(e) => {
            let _ = manager.destroy();
            return Err(e);
        }
    };
    if dropped.is_empty() {
        return Ok(Prepared { manager: Some(manager), warning: None });
    }
    let text = describe(&dropped);
    if mode == Mode::Required {
        let _ = manager.destroy();
        return Err(Error::setup(format!("cgroups are required, but cannot apply {}", text)));
    }
    Ok(Prepared {
        manager: Some(manager),
        warning: Some(format!("running without {}", text)),
    })
}

/// [`prepare`] on this host, as this process: what a container start calls.
pub fn prepare_here(path: &str, record: Recorder, resources: &Resources, mode: Mode) -> Result<Prepared, Error> {
    let (layout, who) = (Layout::detect(), Creator::current());
    prepare(&mut || create(&layout, &who, path), record, resources, mode)
}

/// An `update`'s warning: of what a whole set's apply dropped, the limits the
/// update asked for (`asked`: the change's own resources). The whole set is
/// applied each time, so a limit dropped once (this host has no blkio weight)
/// would otherwise be said again by every later update of something else.
pub fn dropped_of(dropped: Vec<Dropped>, asked: Option<&Resources>) -> Vec<Dropped> {
    match asked {
        None => dropped,
        Some(a) => {
            let wanted = a.requested();
            dropped.into_iter().filter(|(l, _)| wanted.contains(l)).collect()
        }
    }
}

/// "CPU shares and CPU quota (why); pids limit (why)", grouped by reason.
pub fn describe(dropped: &[Dropped]) -> String {
    let mut groups: Vec<(String, Vec<Limit>)> = Vec::new();
    for (limit, why) in dropped {
        match groups.iter_mut().find(|(w, _)| w == why) {
            Some((_, ls)) => ls.push(*limit),
            None => groups.push((why.clone(), vec![*limit])),
        }
    }
    groups
        .iter()
        .map(|(why, ls)| format!("{} ({})", resources::names(ls), why))
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::test_manager::TestManager;
    use super::*;
    use crate::paths::tests::TempDir;

    fn no_record(_: &dyn Manager) -> Result<(), Error> {
        Ok(())
    }

    fn limits() -> Resources {
        let mut r = Resources::default();
        r.memory.limit = Some(32 << 20);
        r.pids.limit = Some(10);
        r
    }

    #[test]
    fn policy_of_each_mode() {
        let r = limits();
        let created = |dropped: Vec<Dropped>| {
            move || Ok(Outcome::Planned(Plan::made(Box::new(TestManager::new(dropped.clone())))))
        };
        let mut unavailable = || Ok(Outcome::Unavailable("this user (uid 7) has no delegated cgroup".into()));

        // Everything applies: a cgroup, no warning.
        let p = prepare(&mut created(vec![]), &mut no_record, &r, Mode::Enabled).unwrap();
        assert!(p.manager.is_some() && p.warning.is_none());
        // No cgroup at all: one warning naming each limit; none without limits.
        let p = prepare(&mut unavailable, &mut no_record, &r, Mode::Enabled).unwrap();
        assert!(p.manager.is_none());
        assert_eq!(
            p.warning.as_deref(),
            Some("this user (uid 7) has no delegated cgroup: running without memory limit and pids limit")
        );
        assert!(prepare(&mut unavailable, &mut no_record, &Resources::default(), Mode::Enabled).unwrap().warning.is_none());
        // Required: an error instead, also without limits.
        let e = prepare(&mut unavailable, &mut no_record, &Resources::default(), Mode::Required).unwrap_err();
        assert_eq!(e.message, "cgroups are required, but this user (uid 7) has no delegated cgroup");
        assert_eq!(e.exit_code(), 125);
        // Disabled: never asks.
        let mut asked = false;
        let p = prepare(&mut || { asked = true; unavailable() }, &mut no_record, &r, Mode::Disabled).unwrap();
        assert!(!asked && p.manager.is_none() && p.warning.is_none());
    }

    #[test]
    fn an_update_names_only_the_dropped_limits_it_asked_for() {
        let dropped = vec![(Limit::BlkioWeight, "no blkio.weight".to_string()), (Limit::Memory, "no memory controller".to_string())];
        let mut asked = Resources::default();
        assert_eq!(dropped_of(dropped.clone(), None).len(), 2, "no change given: all of them");
        assert!(dropped_of(dropped.clone(), Some(&asked)).is_empty());
        asked.memory.limit = Some(1 << 26);
        assert_eq!(dropped_of(dropped, Some(&asked)), vec![(Limit::Memory, "no memory controller".to_string())]);
    }

    #[test]
    fn dropped_limits_are_named_with_their_reasons() {
        let r = limits();
        let dropped = vec![
            (Limit::CpuShares, "the cpu controller is not delegated".to_string()),
            (Limit::CpuQuota, "the cpu controller is not delegated".to_string()),
            (Limit::BlkioWeight, "this kernel has no blkio.weight".to_string()),
        ];
        let made = TestManager::new(dropped.clone());
        let calls = made.calls.clone();
        let mut create = Some(made);
        let mut once = || Ok(Outcome::Planned(Plan::made(Box::new(create.take().unwrap()))));
        let p = prepare(&mut once, &mut no_record, &r, Mode::Enabled).unwrap();
        assert_eq!(
            p.warning.as_deref(),
            Some("running without CPU shares and CPU quota (the cpu controller is not delegated); block-I/O weight (this kernel has no blkio.weight)")
        );
        assert_eq!(calls.borrow().as_slice(), ["apply"]);

        let made = TestManager::new(dropped);
        let calls = made.calls.clone();
        let mut create = Some(made);
        let mut once = || Ok(Outcome::Planned(Plan::made(Box::new(create.take().unwrap()))));
        let e = prepare(&mut once, &mut no_record, &r, Mode::Required).unwrap_err();
        assert!(e.message.starts_with("cgroups are required, but cannot apply CPU shares"), "{}", e.message);
        // The cgroup made for nothing is removed.
        assert_eq!(calls.borrow().as_slice(), ["apply", "destroy"]);
    }

    /// The factory on a v2 tree in a temp dir: levels made, controllers
    /// enabled on the way down, limits written, a missing controller dropped.
    #[test]
    fn v2_factory_on_a_fake_tree() {
        let t = TempDir::new("cg2");
        let mount = t.0.clone();
        std::fs::write(mount.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(mount.join("cgroup.subtree_control"), "").unwrap();
        let layout = Layout::parse(
            &format!("26 25 0:24 / {} rw - cgroup2 cgroup2 rw\n", mount.display()),
            "0::/\n",
            |p| std::fs::read_to_string(p.join("cgroup.controllers")).ok(),
        );
        assert_eq!(layout.kind, Kind::V2);
        let root = Creator { euid: 0, privileged: true };
        let m = match create(&layout, &root, "tsbox/c1").unwrap() {
            Outcome::Planned(p) => p.make().unwrap(),
            Outcome::Unavailable(w) => panic!("{}", w),
        };
        let leaf = mount.join("tsbox/c1");
        assert_eq!(m.dirs(), [("unified".to_string(), leaf.clone())]);
        // The root's subtree_control got the controllers it has (the fake
        // file keeps only the last write); a fake leaf has what we say.
        assert_eq!(std::fs::read_to_string(mount.join("cgroup.subtree_control")).unwrap(), "+pids");
        assert!(!mount.join("tsbox/cgroup.subtree_control").exists(), "nothing written where there is no file");
        std::fs::write(leaf.join("cgroup.controllers"), "memory pids\n").unwrap();
        for f in ["memory.max", "memory.swap.max", "pids.max"] {
            std::fs::write(leaf.join(f), "").unwrap();
        }
        let mut r = limits();
        r.memory.swap = Some(64 << 20);
        r.cpu.quota = Some(20_000);
        let dropped = m.apply(&r).unwrap();
        let read = |f: &str| std::fs::read_to_string(leaf.join(f)).unwrap();
        assert_eq!((read("memory.max"), read("memory.swap.max"), read("pids.max")), ("33554432".into(), "33554432".into(), "10".into()));
        assert_eq!(dropped, [(Limit::CpuQuota, format!("no cpu controller in {} (not in this kernel, or not delegated)", mount.join("tsbox").display()))]);
        // An existing cgroup of that name is an error, not shared.
        assert!(create(&layout, &root, "tsbox/c1").is_err());
        // Absolute paths outside a user's delegation are refused.
        let user = Creator { euid: crate::sys::cred::geteuid(), privileged: false };
        match create(&layout, &user, "/elsewhere/c2") {
            Ok(Outcome::Unavailable(why)) | Err(Error { message: why, .. }) => assert!(why.contains("cgroupsPath /elsewhere/c2 is outside") || why.contains("no delegated cgroup"), "{}", why),
            Ok(Outcome::Planned(_)) => panic!("created outside the delegation"),
        }
    }

    /// v1: one directory per hierarchy, cpuset levels inherit cpus/mems,
    /// controllers not mounted drop their limits.
    #[test]
    fn v1_factory_on_a_fake_tree() {
        let t = TempDir::new("cg1");
        let mut mounts = String::new();
        for (i, c) in ["memory", "cpuset", "pids"].iter().enumerate() {
            let m = t.0.join(c);
            std::fs::create_dir(&m).unwrap();
            mounts.push_str(&format!("{} 25 0:{} / {} rw - cgroup cgroup rw,{}\n", 30 + i, 40 + i, m.display(), c));
        }
        std::fs::write(t.0.join("cpuset/cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(t.0.join("cpuset/cpuset.mems"), "0\n").unwrap();
        // An intermediate level that exists with empty cpus/mems (as the kernel makes it).
        std::fs::create_dir(t.0.join("cpuset/tsbox")).unwrap();
        std::fs::write(t.0.join("cpuset/tsbox/cpuset.cpus"), "").unwrap();
        std::fs::write(t.0.join("cpuset/tsbox/cpuset.mems"), "\n").unwrap();
        let layout = Layout::parse(&mounts, "3:memory:/\n2:cpuset:/\n1:pids:/\n", |_| None);
        assert_eq!((layout.kind, layout.v1.len()), (Kind::V1, 3));
        let root = Creator { euid: 0, privileged: true };
        // The record comes first: a runtime killed while the levels are made
        // leaves no directory its record does not name.
        let mut recorded = Vec::new();
        let mut record = |m: &dyn Manager| {
            recorded = m.dirs().into_iter().map(|(_, d)| (d.exists(), d)).collect();
            Ok(())
        };
        let prepared = prepare(&mut || create(&layout, &root, "/tsbox/c1"), &mut record, &Resources::default(), Mode::Enabled).unwrap();
        let m = prepared.manager.unwrap();
        assert_eq!(recorded.iter().map(|(e, _)| *e).collect::<Vec<_>>(), [false; 3]);
        assert_eq!(recorded.into_iter().map(|(_, d)| d).collect::<Vec<_>>(), m.dirs().into_iter().map(|(_, d)| d).collect::<Vec<_>>());
        assert_eq!(m.dirs().len(), 3);
        assert!(t.0.join("cpuset/tsbox/c1").is_dir());
        assert_eq!(std::fs::read_to_string(t.0.join("cpuset/tsbox/cpuset.cpus")).unwrap(), "0-1");
        assert_eq!(std::fs::read_to_string(t.0.join("cpuset/tsbox/cpuset.mems")).unwrap(), "0");
        std::fs::write(t.0.join("memory/tsbox/c1/memory.limit_in_bytes"), "").unwrap();
        std::fs::write(t.0.join("pids/tsbox/c1/pids.max"), "").unwrap();
        let mut r = limits();
        r.cpu.shares = Some(512);
        r.block_io.weight = Some(300);
        let dropped = m.apply(&r).unwrap();
        assert_eq!(std::fs::read_to_string(t.0.join("memory/tsbox/c1/memory.limit_in_bytes")).unwrap(), "33554432");
        assert_eq!(std::fs::read_to_string(t.0.join("pids/tsbox/c1/pids.max")).unwrap(), "10");
        assert_eq!(describe(&dropped), "CPU shares (this host has no cpu controller mounted); block-I/O weight (this host has no blkio controller mounted)");
        let e = m.freeze().unwrap_err();
        assert_eq!(e.message, "cannot freeze the container: this host has no freezer controller mounted");
    }
}
