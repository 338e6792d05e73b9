//! The nest (container::nest) of one-shot runs: the CLI's `run`, `run -d`
//! and `start`, each a process of its own. A rootless user's subordinate ids
//! can only be mapped by the setuid newuidmap and newgidmap (≈ 1.7 ms of
//! each such run, both at once); the warm helper makes its nest once, but a
//! CLI process lives for one container. So the first such run of a data dir
//! starts `tsbox-runtime nest-holder` (detached, as the rootless network's
//! holder is): a process that keeps a user namespace with the user's maps
//! for runs to join (`<data dir>/nest/holder` names it), until nobody
//! has for `--idle-seconds` (podman's rootless pause process plays the same
//! part, but stays until reboot). Each run's container still has a user
//! namespace of its own, the nest's child (nest.rs says why that is as safe).
//!
//! Runs read that file; its opens are the holder's sign of use (inotify),
//! so joining costs a run no write. A holder whose file is gone or
//! another's (a data dir removed, a second holder started) leaves at once.
//! Nothing here may fail a run: without a holder the run maps its ids
//! itself, as before.

use container::error::{Context, Error};
use container::idmap;
use container::namespace_process::NamespaceProcess;
use container::nest::Nest;
use container::nest_record::{self, Record, FILE};
use container::net::daemon;
use container::net::lock::Lock;
use container::spec::Spec;
use container::sys::consts::*;
use container::sys::types::PollFd;
use container::sys::{fd, process, signal};
use container::trace;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Its namespace, if the holder `r` still runs and it can hold `spec`'s maps.
fn joinable(r: &Record, spec: &Spec) -> Option<Nest> {
    let serves = idmap::translate(&spec.linux.uid_mappings, &r.uid_mappings).is_ok()
        && idmap::translate(&spec.linux.gid_mappings, &r.gid_mappings).is_ok();
    if !serves || !process::alive(r.pid, r.start) {
        return None;
    }
    let path = PathBuf::from(format!("/proc/{}/ns/user", r.ns_pid));
    let ns = fd::open_path(&path, O_RDONLY | O_CLOEXEC, 0).ok()?;
    // The pid may have been reused between the look and the open: the start time after the open settles it.
    if !process::alive(r.ns_pid, r.ns_start) {
        fd::close(ns);
        return None;
    }
    Some(Nest::held(ns, r.uid_mappings.clone(), r.gid_mappings.clone()))
}

/// The data dir's nest for `spec`'s container (bundle `<data dir>/containers/<id>`), started if none runs;
/// None when its maps need no setuid helper, or no nest can be had (the run then maps its ids itself).
pub fn nest_for(spec: &Spec, bundle: &Path, idle_seconds: u32) -> Option<Nest> {
    if idle_seconds == 0 || !Nest::worth_it(spec) {
        return None;
    }
    let dir = nest_record::dir_of_bundle(bundle)?;
    if let Some(nest) = Record::read(&dir).and_then(|r| joinable(&r, spec)) {
        trace::mark("nest: joined the holder's");
        return Some(nest);
    }
    match start(&dir, spec, idle_seconds) {
        Ok(nest) => nest,
        Err(e) => {
            trace::mark(&format!("nest: none ({})", e.message));
            None
        }
    }
}

/// Under the dir's lock (two runs at once start one holder): the holder another run started meanwhile, or a new one.
fn start(dir: &Path, spec: &Spec, idle_seconds: u32) -> Result<Option<Nest>, Error> {
    let _lock = Lock::acquire(dir)?;
    if let Some(nest) = Record::read(dir).and_then(|r| joinable(&r, spec)) {
        return Ok(Some(nest));
    }
    let args: Vec<String> = vec![
        "nest-holder".into(),
        "--dir".into(),
        dir.display().to_string(),
        "--uid-map".into(),
        idmap::maps_arg(&spec.linux.uid_mappings),
        "--gid-map".into(),
        idmap::maps_arg(&spec.linux.gid_mappings),
        "--idle-seconds".into(),
        idle_seconds.to_string(),
    ];
    let said = daemon::spawn(&args)?;
    if said != "ok" {
        return Err(Error::setup(format!("the nest holder did not start: {}", said)));
    }
    trace::mark("nest: started a holder");
    Ok(Record::read(dir).and_then(|r| joinable(&r, spec)))
}

pub struct HolderOptions {
    pub dir: PathBuf,
    pub uid_mappings: String,
    pub gid_mappings: String,
    pub idle_seconds: u32,
    pub ready_fd: i32,
}

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_sig: std::os::raw::c_int, _info: *mut container::sys::types::SigInfoHead, _ctx: *mut std::os::raw::c_void) {
    TERM.store(true, Ordering::SeqCst);
}

/// `tsbox-runtime nest-holder`: makes the namespace, writes its record,
/// reports "ok" (or why not) on the ready fd, and stays until no run has
/// read that file for `idle_seconds`, until it is no longer its own, until SIGTERM, or until the namespace's process dies.
pub fn holder_main(o: HolderOptions) -> i32 {
    let ready = daemon::Ready::new(o.ready_fd);
    let maps = idmap::parse_maps_arg(&o.uid_mappings).and_then(|u| idmap::parse_maps_arg(&o.gid_mappings).map(|g| (u, g)));
    let (uid_mappings, gid_mappings) = match maps {
        Ok(m) => m,
        Err(m) => {
            ready.report(&m);
            return 1;
        }
    };
    signal::reset_for_our_code();
    for sig in [SIGINT, SIGQUIT, SIGHUP] {
        let _ = signal::ignore(sig);
    }
    let _ = signal::install(SIGTERM, on_term);
    // Not the runs' cwd: a holder must not keep a removed data dir's mount busy.
    let _ = std::env::set_current_dir("/");
    let ns = match NamespaceProcess::start(CLONE_NEWUSER, &uid_mappings, &gid_mappings, || true, "") {
        Ok(n) => n,
        Err(m) => {
            ready.report(&m);
            return 1;
        }
    };
    let me = std::process::id() as i32;
    let record = Record { pid: me, start: process::start_time(me).unwrap_or(0), ns_pid: ns.pid, ns_start: ns.start, uid_mappings, gid_mappings };
    let written = fs::create_dir_all(&o.dir)
        .step(|| format!("creating {}", o.dir.display()))
        .and_then(|()| container::net::files::write(&o.dir, FILE, &record.text()));
    let path = o.dir.join(FILE);
    // Its inode: the file replaced or removed is the sign to leave.
    let own = written.and_then(|()| fs::metadata(&path).map(|m| (m.dev(), m.ino())).step(|| format!("reading {}", path.display())));
    let watch = own.and_then(|own| {
        fd::inotify_watch(&path, IN_OPEN | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF).map(|w| (own, w)).step(|| format!("watching {}", path.display()))
    });
    let (own, watch) = match watch {
        Ok(w) => w,
        Err(e) => {
            forget(&o.dir, me);
            ns.stop();
            ready.report(&e.message);
            return 1;
        }
    };
    ready.ok();
    let idle = Duration::from_secs(o.idle_seconds as u64);
    let mut used = Instant::now();
    loop {
        let left = idle.checked_sub(used.elapsed()).unwrap_or_default();
        // At most a second: the namespace's process is looked at too.
        let wait = left.min(Duration::from_secs(1)).as_millis() as i32;
        let mut pfd = [PollFd { fd: watch, events: POLLIN, revents: 0 }];
        if fd::poll(&mut pfd, wait).unwrap_or(0) > 0 {
            let mut events = [0u8; 4096];
            while fd::read(watch, &mut events).map_or(false, |n| n > 0) {}
            used = Instant::now();
        }
        let still_own = fs::metadata(&path).map_or(false, |m| (m.dev(), m.ino()) == own);
        if !still_own || TERM.load(Ordering::SeqCst) || !ns.alive() || used.elapsed() >= idle {
            break;
        }
    }
    // A record still ours goes, under the lock a run holds while the holder it starts writes its own. Not when it is
    // gone: taking the lock would make the dir again under an `rm -rf` of the data dir (its rmdir then failed).
    if Record::read(&o.dir).map_or(false, |r| r.pid == me) {
        let lock = Lock::acquire_file(&o.dir, "lock");
        forget(&o.dir, me);
        drop(lock);
    }
    ns.stop();
    0
}

/// Removes the file if it still names this holder.
fn forget(dir: &Path, me: i32) {
    if Record::read(dir).map_or(false, |r| r.pid == me) {
        let _ = fs::remove_file(dir.join(FILE));
    }
}
