//! One supervisor process per container and per exec'd process, forked from
//! the agent: it owns the process's stdio as fds 0-2 and does exactly what
//! tsbox-runtime does on the host (`run`: `container::launch::spawn` once
//! the start gate opens, so create and start are separate steps; `exec`:
//! `container::join::spawn`), then a `started` or `error` line on its status
//! fd, wait, an `exited` line. Forking is safe: the agent is
//! single-threaded, and the child resets signals and closes every fd it
//! does not own.

use crate::sys;
use container::copy::op::{self as copy_op, Op};
use container::copy::pending as copy_pending;
use container::join::{self, Known};
use container::launch;
use container::seccomp::Filter;
use container::spec::Process;
use container::status::StatusEvents;
use container::sys::consts::{SIGKILL, SYS_CLOSE_RANGE};
use container::sys::process::{self, Forked};
use container::sys::{cred, fd, ffi, signal, Errno};
use container::cgroups::{Manager, Placement};
use container::{view, Error, Spec};
use std::os::raw::{c_int, c_long, c_uint};
use std::path::{Path, PathBuf};

/// Where the supervisor's fds come from, in the agent. -1: /dev/null.
pub struct Stdio {
    pub stdin: c_int,
    pub stdout: c_int,
    pub stderr: c_int,
}

pub enum Job<'a> {
    /// A new container, started when a byte arrives on `gate_r`, in its
    /// cgroup (made by `create`). A spare (container::spare) is set up at
    /// once and reads its process from `gate_r` instead.
    Container {
        spec: &'a Spec,
        gate_r: c_int,
        spare: bool,
        cgroup: Option<&'a dyn Manager>,
        /// Its `linux.seccomp`, compiled by the agent.
        filter: Option<&'a Filter>,
    },
    /// A process joining the running container whose init is `pid`, with
    /// what the agent knows of it (its system-call filter, cgroup, namespaces).
    Exec {
        pid: i32,
        process: &'a Process,
        known: Known<'a>,
    },
    /// `tsbox cp` in a container (ops/copy.rs).
    Copy {
        target: CopyIn<'a>,
        op: Op,
        path: PathBuf,
    },
}

/// Where a copy works.
pub enum CopyIn<'a> {
    /// The running container whose init is this pid: its namespaces.
    Running(i32),
    /// A stopped container whose root the agent has mounted: a view of it.
    Stopped(&'a Spec, view::View),
    /// A path of the guest's own (a running container's upper dir).
    Guest,
}

const STATUS_FD: c_int = 3;
const GATE_FD: c_int = 4;

/// Forks the supervisor; returns its pid. The caller closes its copies of
/// the fds handed over.
pub fn fork(job: Job, stdio: &Stdio, status_w: c_int) -> Result<i32, Error> {
    match process::clone_fork(0) {
        Ok(Forked::Parent(pid)) => Ok(pid),
        Ok(Forked::Child) => {
            let code = child(job, stdio, status_w);
            process::exit_now(code)
        }
        Err(e) => Err(Error::errno("forking the supervisor", e)),
    }
}

fn child(job: Job, stdio: &Stdio, status_w: c_int) -> i32 {
    container::trace::mark("supervisor: forked");
    signal::reset_for_our_code();
    // The agent is the guest's init; if it died nothing here would make sense.
    let _ = cred::set_pdeathsig(SIGKILL);
    // The agent's -1000 (guest_init.rs) is not its containers': theirs is 0, or their spec's (oom_score.rs).
    let _ = std::fs::write("/proc/self/oom_score_adj", "0");
    let mut fds = vec![stdio.stdin, stdio.stdout, stdio.stderr, status_w];
    if let Job::Container { gate_r, .. } = job {
        fds.push(gate_r);
    }
    if arrange_fds(&fds).is_err() {
        return 125;
    }
    // The agent's pipes (stdio.rs), for the process's user; -1 was /dev/null. A pty's slave: `terminal` gives it.
    let pipes = [stdio.stdin, stdio.stdout, stdio.stderr].iter().enumerate().filter(|(_, fd)| **fd >= 0).fold(0, |bits, (i, _)| bits | 1 << i);
    container::process_setup::mark_own_pipes(pipes);
    let root = match &job {
        Job::Container { spec, .. } => Some((root_id(&spec.linux.uid_mappings), root_id(&spec.linux.gid_mappings))),
        Job::Exec { pid, .. } => container::copy::owners::Owners::of_process(*pid).map(|o| o.outside(0, 0)),
        Job::Copy { .. } => None,
    };
    if let Some((uid, gid)) = root {
        pipes_to(pipes, uid, gid);
    }
    reopen_trace();
    // The agent reads this supervisor's events from STATUS_FD.
    let events = StatusEvents::new(Some(STATUS_FD), "tsbox-agent");
    match job {
        Job::Container {
            spec, cgroup, filter, spare, ..
        } => run_container(spec, cgroup, filter, spare, &events),
        Job::Exec {
            pid,
            process,
            known,
        } => run_exec(pid, process, known, &events),
        Job::Copy { target, op, path } => run_copy(target, op, &path, &events),
    }
}

fn run_container(
    spec: &Spec,
    cgroup: Option<&dyn Manager>,
    filter: Option<&Filter>,
    spare: bool,
    events: &StatusEvents,
) -> i32 {
    // Wait for `start`. EOF: the container was deleted before it started.
    // A spare's container waits for it, once set up.
    if !spare {
        let mut byte = [0u8; 1];
        if fd::read(GATE_FD, &mut byte) != Ok(1) {
            return 125;
        }
        fd::close(GATE_FD);
        container::trace::mark("supervisor: gate open");
    }
    // Opened while we are still root with our own fs ids (see below).
    let placement = match cgroup.map(Placement::open).transpose() {
        Ok(p) => p,
        Err(e) => return events.error(&e),
    };
    // Until the container switches to its user, its files are made with the
    // creator's file-system ids; ours (guest root) are not mapped in its user
    // namespace (EOVERFLOW), the host user's are: use those, like the native
    // helper that runs as that user. The effective ids stay root, so the id
    // maps are still written directly (there is no newuidmap in the guest).
    container::sys::cred::set_fs_ids(
        root_id(&spec.linux.uid_mappings),
        root_id(&spec.linux.gid_mappings),
    );
    let mut on_clone = |_pid: i32| container::sys::cred::set_fs_ids(0, 0);
    // Into its cgroup as on the host (moved through the files opened above:
    // clone3 checks our current, switched, fs ids against the root cgroup's).
    let spawned = if spare {
        let spawned = launch::spawn_spare(spec, placement.as_ref(), &mut on_clone, filter, GATE_FD);
        fd::close(GATE_FD);
        spawned
    } else {
        launch::spawn_compiled(spec, placement.as_ref(), &mut on_clone, filter)
    };
    events.supervise(spawned, &mut || cgroup.map_or(false, |m| m.oom_kills() > 0))
}

/// The guest id that is root in the container (0 without a user namespace).
fn root_id(maps: &[container::spec::IdMapping]) -> u32 {
    maps.iter().find(|m| m.container_id == 0).map_or(0, |m| m.host_id)
}

/// Our pipes among fds 0–2 (bit N: fd N) to the container's root: made by the
/// agent, they are guest root's, which a container of a rootless identity
/// does not map, and its root could not give them to the process's user
/// (`process_setup::give_pipes`: the kernel wants both owner and group
/// mapped). On the host they are the user's who is the container's root.
fn pipes_to(pipes: u8, uid: u32, gid: u32) {
    for fd in (0..3).filter(|fd| pipes & (1 << fd) != 0) {
        unsafe { ffi::fchown(fd, uid, gid) };
    }
}

/// join::spawn puts the process into the container's cgroup itself.
fn run_exec(pid: i32, process: &Process, known: Known, events: &StatusEvents) -> i32 {
    events.supervise(join::spawn_known(pid, process, known, &mut |_| {}), &mut || false)
}

/// The copy runs in a child that joins the container (setns into a mount
/// namespace wants a single-threaded process that has nothing else to do),
/// reported like an exec'd process; its own error goes to its stderr
/// channel, as `tsbox-runtime copy`'s to its status fd.
fn run_copy(target: CopyIn, mut op: Op, path: &Path, events: &StatusEvents) -> i32 {
    let forked = match process::clone_fork(0) {
        Ok(Forked::Child) => {
            let errors = StatusEvents::new(Some(2), "tsbox-agent");
            // An aborted copy's SIGTERM: the file being written goes with it (a stopped container's view
            // writes in a child of ours, to which view.rs passes the signal on).
            if let Op::Write(_) = op {
                if let Err(e) = copy_pending::discard_on_interrupt() {
                    process::exit_now(errors.error(&Error::setup(format!("handling signals: {}", e))));
                }
            }
            let done = match target {
                CopyIn::Running(pid) => view::enter_running(pid).and_then(|()| copy_op::perform(&mut op, path, true)).map(|()| 0),
                // The view's child reports its own error and exits with its code.
                CopyIn::Stopped(spec, v) => view::run(spec, v, &mut || copy_op::perform(&mut op, path, false), &|e| errors.error(e)),
                CopyIn::Guest => copy_op::perform(&mut op, path, false).map(|()| 0),
            };
            process::exit_now(done.unwrap_or_else(|e| errors.error(&e)))
        }
        Ok(Forked::Parent(child)) => Ok(child),
        Err(e) => Err(Error::errno("forking the copy", e)),
    };
    events.supervise(forked, &mut || false)
}

/// The trace descriptor (if tracing) was closed with the rest: the
/// console again, close-on-exec.
fn reopen_trace() {
    if container::trace::fd() >= 0 {
        let to = sys::open_path(Path::new("/dev/console"), sys::O_RDWR | sys::O_NOCTTY | sys::O_CLOEXEC).unwrap_or(-1);
        container::trace::set_fd(to);
    }
}

/// `sources` onto 0, 1, 2, …, everything else closed; a negative one of the
/// first three is /dev/null.
fn arrange_fds(sources: &[c_int]) -> Result<(), Errno> {
    // Park the sources above anything we overwrite, so no dup2 clobbers one.
    let mut parked = Vec::with_capacity(sources.len());
    for (i, &src) in sources.iter().enumerate() {
        let target = 1000 + i as c_int;
        if src < 0 {
            let null = sys::open_path(
                Path::new("/dev/null"),
                if i == 0 { sys::O_RDONLY } else { sys::O_RDWR },
            )?;
            sys::dup_onto(null, target)?;
            fd::close(null);
        } else {
            sys::dup_onto(src, target)?;
        }
        parked.push(target);
    }
    for (i, &p) in parked.iter().enumerate() {
        sys::dup_onto(p, i as c_int)?;
    }
    // close_range(n, ~0, 0): the hvc link, other processes' pipes, parked copies.
    unsafe {
        ffi::syscall(
            SYS_CLOSE_RANGE,
            sources.len() as c_long,
            c_uint::MAX as c_long,
            0 as c_long,
        )
    };
    Ok(())
}

/// The container's private directory in the guest (on the containers' shared tmpfs: guest_dir.rs).
pub fn container_dir(cid: &str) -> PathBuf {
    PathBuf::from(crate::guest_dir::CONTAINERS_DIR).join(cid)
}
