//! One supervisor process per container, forked from the agent: it owns the
//! container's stdio as fds 0-2, waits at a start gate (so create and start
//! are separate steps), then does exactly what tsbox-runtime does on the
//! host: `container::launch::spawn`, a `started` or `error` line on its
//! status fd, wait, an `exited` line. Forking is safe: the agent is
//! single-threaded, and the child resets signals and closes every fd it
//! does not own.

use crate::sys;
use container::launch;
use container::sys::consts::{SIGKILL, SYS_CLOSE_RANGE};
use container::status::{self, StatusEvents};
use container::sys::process::{self, Forked};
use container::sys::{cred, fd, ffi, signal};
use container::{Error, Spec};
use std::os::raw::{c_int, c_long, c_uint};
use std::path::{Path, PathBuf};

/// Where the supervisor's fds come from, in the agent. -1: /dev/null.
pub struct Stdio {
    pub stdin: c_int,
    pub stdout: c_int,
    pub stderr: c_int,
}

const STATUS_FD: c_int = 3;
const GATE_FD: c_int = 4;

/// Forks the supervisor; returns its pid. The caller closes its copies of
/// the fds handed over.
pub fn fork(
    spec: &Spec,
    stdio: &Stdio,
    status_w: c_int,
    gate_r: c_int,
    cgroup: Option<&Path>,
) -> Result<i32, Error> {
    match process::clone_fork(0) {
        Ok(Forked::Parent(pid)) => Ok(pid),
        Ok(Forked::Child) => {
            let code = child(spec, stdio, status_w, gate_r, cgroup);
            process::exit_now(code)
        }
        Err(e) => Err(Error::errno("forking the container supervisor", e)),
    }
}

fn child(spec: &Spec, stdio: &Stdio, status_w: c_int, gate_r: c_int, cgroup: Option<&Path>) -> i32 {
    signal::reset_all();
    // The agent is the guest's init; if it died nothing here would make sense.
    let _ = cred::set_pdeathsig(SIGKILL);
    if arrange_fds(stdio, status_w, gate_r).is_err() {
        return 125;
    }
    // The agent reads this supervisor's events from STATUS_FD.
    let events = StatusEvents::new(Some(STATUS_FD), "tsbox-agent");
    // Wait for `start`. EOF: the container was deleted before it started.
    let mut byte = [0u8; 1];
    if fd::read(GATE_FD, &mut byte) != Ok(1) {
        return 125;
    }
    fd::close(GATE_FD);
    // Into the container's cgroup, so the clone below is created in it (and
    // its cgroup namespace is rooted there); back out right after the clone,
    // so this process never counts against the container's limits.
    if let Some(dir) = cgroup {
        if let Err(e) = std::fs::write(dir.join("cgroup.procs"), "0") {
            return events.error(&Error::setup(format!(
                "joining the container's cgroup {}: {}",
                dir.display(),
                e
            )));
        }
    }
    // Until the container switches to its user, its files are made with the
    // creator's file-system ids; ours (guest root) are not mapped in its user
    // namespace (EOVERFLOW), the host user's are: use those, like the native
    // helper that runs as that user. The effective ids stay root, so the id
    // maps are still written directly (there is no newuidmap in the guest).
    let root_id = |maps: &[container::spec::IdMapping]| {
        maps.iter()
            .find(|m| m.container_id == 0)
            .map_or(0, |m| m.host_id)
    };
    let (fsuid, fsgid) = (
        root_id(&spec.linux.uid_mappings),
        root_id(&spec.linux.gid_mappings),
    );
    sys::set_fs_ids(fsuid, fsgid);
    let mut on_clone = |_pid: i32| {
        sys::set_fs_ids(0, 0);
        if cgroup.is_some() {
            let _ = std::fs::write("/sys/fs/cgroup/cgroup.procs", "0");
        }
    };
    let pid = match launch::spawn(spec, &mut on_clone) {
        Ok(pid) => pid,
        Err(e) => return events.error(&e),
    };
    events.started(pid);
    let (code, sig) = match status::wait_exit(pid) {
        Ok(exit) => exit,
        Err(e) => return events.error(&Error::errno("waiting for the container", e)),
    };
    events.exited(code, sig);
    code
}


/// stdio onto 0-2, status onto 3, the gate onto 4, everything else closed.
fn arrange_fds(stdio: &Stdio, status_w: c_int, gate_r: c_int) -> Result<(), container::sys::Errno> {
    // Park the sources above anything we overwrite, so no dup2 clobbers one.
    let sources = [stdio.stdin, stdio.stdout, stdio.stderr, status_w, gate_r];
    let mut parked = [0 as c_int; 5];
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
        parked[i] = target;
    }
    for (i, &p) in parked.iter().enumerate() {
        sys::dup_onto(p, i as c_int)?;
    }
    // close_range(5, ~0, 0): the hvc link, other containers' pipes, parked copies.
    unsafe {
        ffi::syscall(
            SYS_CLOSE_RANGE,
            5 as c_long,
            c_uint::MAX as c_long,
            0 as c_long,
        )
    };
    Ok(())
}

/// The container's private directory in the guest (a tmpfs per container).
pub fn container_dir(cid: &str) -> PathBuf {
    PathBuf::from("/run/tsbox").join(cid)
}
