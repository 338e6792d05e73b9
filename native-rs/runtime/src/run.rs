//! `tsbox-runtime run`: load the bundle, make the container's cgroup, start
//! the container, forward signals, wait, report. Exits with the container's
//! code, 128+signal, or 125/126/127 when it could not be started.
//!
//! `--record` (a foreground `tsbox run`): we also keep the container's
//! state.json, as a monitor does — `running` with the pid before `started`
//! is reported, its exit once it ended — and with `--remove` delete the
//! container instead (`--rm`). The front end then needs no lock, no
//! state write and no removal of its own on the `run` path.

use crate::helper::{self, LogConfig, Start};
use container::cgroups::{self, record, Manager, Placement};
use container::error::Error;
use container::launch;
use container::leftovers::{self, Namespaces};
use container::nest::Nest;
use container::namespaces::NamespaceKind;
use crate::monitor::remove;
use crate::state_file::{self, Lock, StateFile};
use container::json::Json;
use container::status::{Ended, StatusEvents};
use container::sys::{fd, process};
use container::Spec;
use std::cell::Cell;
use std::path::{Path, PathBuf};

pub struct Options {
    pub bundle: PathBuf,
    pub status_fd: Option<i32>,
    /// Keep state.json (a foreground run: nobody else supervises it).
    pub record: bool,
    /// With `record`: delete the container once it has ended.
    pub remove: bool,
    /// With `record`: we replaced the `tsbox` CLI's process (helper::Start).
    pub front_end: bool,
    /// With `remove`: the tree may be deleted after our exit, by a remover we fork (the CLI's, and the warm
    /// helper's, which reaps the orphan as a subreaper; not a helper Node spawned, whose orphan nobody might reap:
    /// Node as PID 1 of a container reaps only its own children).
    pub remove_after_exit: bool,
    /// A user namespace holding the rootless id maps (the warm helper's).
    pub nest: Option<Nest>,
    /// Without `nest`: join the data dir's nest holder (nest_holder.rs), starting one that stays this many seconds
    /// unused, when the maps would need newuidmap/newgidmap.
    pub nest_idle: Option<u32>,
    /// With `record`: keep the output in the bundle's log (max size, files), as docker does for `logs`.
    pub log: Option<(u64, u32)>,
}

struct Run {
    spec: Spec,
    cgroup: Option<Cgroup>,
    nest: Option<Nest>,
    /// Its init's mount and PID namespaces, when nothing else would end what
    /// the container leaves running (`sweeps`): killed once the run ends.
    leftovers: Cell<Option<Namespaces>>,
}

impl Run {
    /// Joined another container's PID namespace (its init's end kills
    /// nothing else) and has no cgroup to kill through, but a mount
    /// namespace of its own to find its processes by (leftovers.rs).
    fn sweeps(&self) -> bool {
        self.cgroup.is_none() && leftovers::outlive_init(&self.spec)
    }
}

/// Before the cgroup goes and the bundle is removed (helper::serve drops us first).
impl Drop for Run {
    fn drop(&mut self) {
        if let Some(ns) = self.leftovers.take() {
            leftovers::kill_all_in(ns);
        }
        // Every child is reaped by now: a keeper SIGKILLed while the container ran left its records, lease and rules.
        if let Some(net) = &self.spec.network {
            container::net::keeper::remove_leftovers(net);
        }
    }
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
    let (started_at, ended_at, failed_at, log_dir) = (bundle.clone(), bundle.clone(), bundle.clone(), bundle.clone());
    // Our exit is the caller's answer (the CLI's, or the library's wait()): the tree's deletion need not hold it
    // up (2-20 ms of unlinks on a busy disk, a third of a library run), where the remover will be reaped.
    let remove = match (opts.remove, opts.remove_after_exit) {
        (false, _) => Removal::Keep,
        (true, true) => Removal::AfterExit,
        (true, false) => Removal::Now,
    };
    let (nest, nest_idle) = (opts.nest, opts.nest_idle);
    helper::serve(Start {
        status_fd: opts.status_fd,
        front_end: opts.front_end,
        detach: false,
        load: Box::new(move |events| {
            load(&bundle, events, nest_idle.filter(|_| nest.is_none())).map(|(spec, cgroup, held)| Run { spec, cgroup, nest: nest.or(held), leftovers: Cell::new(None) })
        }),
        spawn: |r: &Run, on_clone: &mut dyn FnMut(i32)| {
            let placement = r.cgroup.as_ref().map(|c| Placement::open(&*c.manager)).transpose()?;
            let sweeps = r.sweeps();
            let mut cloned = |pid| {
                // Read before it is released: it is alive and in its own mount namespace still.
                if sweeps {
                    r.leftovers.set(Namespaces::of(pid));
                }
                on_clone(pid)
            };
            launch::spawn_nested(&r.spec, placement.as_ref(), &mut cloned, r.nest.as_ref())
        },
        terminal: |r: &Run| r.spec.process.terminal,
        owner: |r: &Run| r.spec.host_uid(r.spec.process.user.uid),
        relay: |_| None,
        log: opts.log.map(|(max_size, max_files)| LogConfig { dir: log_dir, max_size, max_files }),
        oom_killed: |r: &Run| r.cgroup.as_ref().map_or(false, |c| c.manager.oom_kills() > 0),
        on_started: if opts.record {
            Some(Box::new(move |pid| record_started(&started_at, pid)))
        } else {
            None
        },
        on_ended: if opts.record {
            Some(Box::new(move |end: &Ended| record_ended(&ended_at, end, remove)))
        } else {
            None
        },
        // A front end that spawned us records a failed start itself (src/runtime.ts failedStart).
        on_failed: if opts.front_end {
            Some(Box::new(move |e: &Error| record_failed(&failed_at, e, remove)))
        } else {
            None
        },
    })
}

/// What becomes of the container once it has ended (`--remove`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Removal {
    Keep,
    /// Deleted before we exit.
    Now,
    /// Gone for everyone before we exit, its tree deleted after (remove::remove_locked_after_exit).
    AfterExit,
}

/// The fields src/containers/state.ts documents for a foreground run; the
/// monitor pid is ours (signals and `exec` checks go through us).
fn record_started(bundle: &Path, pid: i32) {
    let own = process::own_pid();
    let _ = StateFile::new(bundle).update(
        Lock::Take,
        vec![
            ("status", Json::from("running")),
            ("supervisor", Json::from("foreground")),
            ("pid", Json::from(pid)),
            ("monitorPid", Json::from(own)),
            ("monitorStartTime", Json::from(state_file::start_time(own))),
            ("started", state_file::now()),
        ],
    );
}

/// The exit, or with `remove` the container deleted: only while the record
/// is still about this run (another process may have removed or restarted
/// it meanwhile). Removal renames the bundle aside under the lock, as
/// src/containers/remove.ts does, then deletes it and frees the name.
fn record_ended(bundle: &Path, end: &Ended, remove: Removal) {
    record_end(
        bundle,
        remove,
        vec![
            ("status", Json::from("exited")),
            ("pid", Json::Null),
            ("exitCode", Json::from(end.code)),
            ("signal", Json::from(end.signal.clone())),
            ("oomKilled", Json::from(end.oom_killed)),
            ("finished", state_file::now()),
        ],
    );
}

/// A start that failed, as src/runtime.ts `failedStart` records it (docker's
/// exit code and the message; the status, start and finish times stay those
/// of before, "created" for a new one, as docker's), or with `remove` the
/// container deleted.
fn record_failed(bundle: &Path, e: &Error, remove: Removal) {
    let mut fields = crate::monitor::failed_start_fields(e.exit_code(), &e.message);
    fields.push(("creatorPid", Json::Null));
    record_end(bundle, remove, fields);
}

/// `fields` written into state.json, or with `remove` the container deleted.
fn record_end(bundle: &Path, remove: Removal, fields: Vec<(&str, Json)>) {
    container::trace::mark("run: record_end");
    let lock = match state_file::take_lock(bundle) {
        Ok(fd) => fd,
        Err(_) => return,
    };
    let state = StateFile::new(bundle);
    let own = i64::from(process::own_pid());
    // Ours: we started it (monitorPid), or, before that, we are the front end that created it (creatorPid).
    let ours = state.read().map_or(false, |s| {
        let pid_of = |key: &str| s.get(key).and_then(Json::as_number).and_then(|n| n.as_i64());
        pid_of("monitorPid") == Some(own) || (pid_of("monitorPid").is_none() && pid_of("creatorPid") == Some(own))
    });
    if !ours {
        fd::close(lock);
        return;
    }
    if remove != Removal::Keep {
        // Not written, as the bundle goes: its events (die, oom) are recorded as a write would have.
        if let Some(before) = state.read() {
            let mut after = before.clone();
            for (key, value) in &fields {
                after.set(key, value.clone());
            }
            crate::events::record_transition(bundle, &crate::events::Status::of(&before), &after);
        }
        if remove == Removal::AfterExit {
            remove::remove_locked_after_exit(bundle, lock);
        } else {
            remove::remove_locked(bundle, lock);
        }
        return;
    }
    let _ = state.update(Lock::Held, fields);
    fd::close(lock);
}

fn load(bundle: &Path, events: &StatusEvents, nest_idle: Option<u32>) -> Result<(Spec, Option<Cgroup>, Option<Nest>), Error> {
    container::trace::mark("run: load");
    let mut spec = Spec::load(bundle)?;
    // Only a run joins a peer container (--network/--pid/--ipc container:X),
    // as it is now; exec, cp, update and removal read the spec without it.
    container::peer::resolve(&mut spec, bundle)?;
    container::trace::mark("run: spec loaded");
    if spec.creates_namespace(NamespaceKind::User) && container::userns_refusal::unmapped_caller() {
        return Err(container::launch::clone_error(&spec, container::sys::errno::EPERM));
    }
    // Before the cgroup: the holder it may start must not be born in there.
    let nest = nest_idle.and_then(|idle| crate::nest_holder::nest_for(&spec, bundle, idle));
    // Default: tsbox/<container id> under the cgroup tsbox may use.
    let path = spec
        .linux
        .cgroups_path
        .clone()
        .unwrap_or_else(|| format!("tsbox/{}", name_of(bundle)));
    // A runtime SIGKILLed before (a foreground run's CLI, a monitor) left its cgroup recorded, maybe with
    // processes in it, frozen ones too: they go first, as `delete` does, or the cgroup could not be made again.
    if let Some(stale) = record::load(bundle)? {
        stale.destroy()?;
        record::remove(bundle);
    }
    // Recorded before its directories exist: a runtime killed meanwhile leaves them all named.
    let mut write_record = |m: &dyn Manager| record::write(bundle, m);
    let prepared = cgroups::prepare_here(&path, &mut write_record, &spec.linux.resources, spec.linux.cgroups_mode)
        .map_err(|mut e| {
            record::remove(bundle);
            // The front end requires the cgroup for a container in the host's PID namespace: say why.
            if !spec.has_namespace(NamespaceKind::Pid) {
                if let Some(why) = e.message.strip_prefix("cgroups are required, but ") {
                    e.message = format!("--pid host needs the container's cgroup (it ends the processes the container leaves behind), but {}", why);
                }
            }
            e
        })?;
    if let Some(w) = &prepared.warning {
        events.warning(w);
    }
    let cgroup = prepared.manager.map(|manager| {
        if let Some((file, value)) = manager.thaw_file() {
            crate::signals::thaw_on_orphan(&file, value);
        }
        Cgroup {
            manager,
            bundle: bundle.to_path_buf(),
        }
    });
    container::trace::mark("run: cgroup made");
    Ok((spec, cgroup, nest))
}

pub fn name_of(bundle: &Path) -> String {
    std::fs::canonicalize(bundle)
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "container".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use container::json;
    use std::fs;

    fn state_of(bundle: &Path) -> Json {
        json::parse(&fs::read_to_string(bundle.join("state.json")).unwrap()).unwrap()
    }

    #[test]
    fn records_a_foreground_run_then_its_exit_or_removes_it() {
        let data = std::env::temp_dir().join(format!("tsbox-record-{}", std::process::id()));
        let _ = fs::remove_dir_all(&data);
        let bundle = data.join("containers").join("c0ffee");
        fs::create_dir_all(&bundle).unwrap();
        fs::create_dir_all(data.join("names")).unwrap();
        fs::write(bundle.join("state.json"), r#"{"id":"c0ffee","name":"web","status":"created","pid":null,"monitorPid":null}"#).unwrap();
        std::os::unix::fs::symlink("c0ffee", data.join("names").join("web")).unwrap();

        record_started(&bundle, 4242);
        let s = state_of(&bundle);
        assert_eq!(s.get("status").and_then(Json::as_str), Some("running"));
        assert_eq!(s.get("supervisor").and_then(Json::as_str), Some("foreground"));
        assert_eq!(s.get("pid").and_then(Json::as_number).and_then(|n| n.as_i64()), Some(4242));
        let own = i64::from(process::own_pid());
        assert_eq!(s.get("monitorPid").and_then(Json::as_number).and_then(|n| n.as_i64()), Some(own));
        assert!(s.get("monitorStartTime").and_then(Json::as_str).is_some());

        let end = Ended { code: 137, signal: Some("SIGKILL".into()), oom_killed: true };
        record_ended(&bundle, &end, Removal::Keep);
        let s = state_of(&bundle);
        assert_eq!(s.get("status").and_then(Json::as_str), Some("exited"));
        assert_eq!(s.get("exitCode").and_then(Json::as_number).and_then(|n| n.as_i64()), Some(137));
        assert_eq!(s.get("signal").and_then(Json::as_str), Some("SIGKILL"));
        assert_eq!(s.get("pid"), Some(&Json::Null));

        // A record about another run (restarted by someone else) is left alone, and so is the bundle.
        fs::write(bundle.join("state.json"), r#"{"id":"c0ffee","name":"web","status":"running","monitorPid":1}"#).unwrap();
        record_ended(&bundle, &end, Removal::Now);
        assert_eq!(state_of(&bundle).get("status").and_then(Json::as_str), Some("running"));

        // --remove: the bundle and the name go.
        record_started(&bundle, 4243);
        record_ended(&bundle, &end, Removal::Now);
        assert!(!bundle.exists());
        assert!(fs::symlink_metadata(data.join("names").join("web")).is_err());
        assert_eq!(fs::read_dir(data.join("containers")).unwrap().count(), 0, "nothing left aside");
        fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn a_front_end_records_its_failed_start_or_removes_it() {
        use container::error::ErrorKind;
        let data = std::env::temp_dir().join(format!("tsbox-record-failed-{}", std::process::id()));
        let _ = fs::remove_dir_all(&data);
        let bundle = data.join("containers").join("f00d");
        fs::create_dir_all(&bundle).unwrap();
        fs::create_dir_all(data.join("names")).unwrap();
        std::os::unix::fs::symlink("f00d", data.join("names").join("job")).unwrap();
        let own = process::own_pid();
        let created = format!(r#"{{"id":"f00d","name":"job","status":"created","pid":null,"monitorPid":null,"creatorPid":{}}}"#, own);
        let missing = Error::new(ErrorKind::NotFound, "executable file not found in $PATH: nope");

        // Created by another process: not ours to record.
        fs::write(bundle.join("state.json"), r#"{"id":"f00d","status":"created","monitorPid":null,"creatorPid":1}"#).unwrap();
        record_failed(&bundle, &missing, Removal::Keep);
        assert_eq!(state_of(&bundle).get("error"), None);

        // Ours (the CLI became us): the failure as src/runtime.ts failedStart writes it; still created (docker's).
        fs::write(bundle.join("state.json"), &created).unwrap();
        record_failed(&bundle, &missing, Removal::Keep);
        let s = state_of(&bundle);
        assert_eq!(s.get("status").and_then(Json::as_str), Some("created"));
        assert_eq!(s.get("finished"), None);
        assert_eq!(s.get("exitCode").and_then(Json::as_number).and_then(|n| n.as_i64()), Some(127));
        assert_eq!(s.get("error").and_then(Json::as_str), Some("executable file not found in $PATH: nope"));
        assert_eq!(s.get("creatorPid"), Some(&Json::Null));

        // --rm: the container and its name go.
        fs::write(bundle.join("state.json"), &created).unwrap();
        record_failed(&bundle, &missing, Removal::Now);
        assert!(!bundle.exists());
        assert!(fs::symlink_metadata(data.join("names").join("job")).is_err());
        fs::remove_dir_all(&data).unwrap();
    }
}
