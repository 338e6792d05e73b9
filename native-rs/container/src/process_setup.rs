//! The last steps before execve, the same for a new container's init
//! (`launch`) and for a process joining a running container (`join`): what
//! it may still reach of its caller (descriptors, session, terminal,
//! keyring), the working directory, limits, identity, capabilities,
//! no_new_privs and the parent-death signal.

use crate::error::{Context, Error};
use crate::host::Host;
use crate::spec::Process;
use crate::sys::consts::SIGKILL;
use crate::sys::errno::{ELOOP, EXDEV};
use crate::sys::Errno;
use crate::syscall::Syscall;
use crate::seccomp::{self, Filter};
use crate::{caps, rlimits, terminal, user};
use std::os::raw::c_int;
use std::sync::atomic::{AtomicU8, Ordering};

/// Which of fds 0–2 (bit N: fd N) are pipes tsbox made for the process about
/// to be spawned (the relay's, the monitor's, the vm agent's), marked by
/// whoever made them before the spawn; the child inherits the marks. Only
/// those go to the process's user: a pipe the caller handed over stays the
/// caller's (rootless its new owner would be an id the caller cannot open it
/// as; one of another owner is relayed instead, runtime/src/relay.rs), and
/// files and terminals never reach the process (docs/security.md).
static OWN_PIPES: AtomicU8 = AtomicU8::new(0);

/// Marks `fds` (bit N: fd N) as pipes of ours for the next spawn (see `OWN_PIPES`).
pub fn mark_own_pipes(fds: u8) {
    OWN_PIPES.fetch_or(fds, Ordering::Relaxed);
}

/// `filter`: the container's seccomp filter, loaded as late as it can be:
/// right before execve with no_new_privs; without it, loading needs
/// CAP_SYS_ADMIN, so before the uid switch and capset (the calls after it
/// must then pass the filter, as with runc).
pub fn apply(
    sys: &dyn Syscall,
    process: &Process,
    host: &Host,
    filter: Option<&Filter>,
) -> Result<(), Error> {
    // Nothing the helper holds reaches the program (CVE-2024-21626 was a
    // host directory's descriptor plus a cwd of /proc/self/fd/N).
    sys.cloexec_from(3)
        .step(|| "closing inherited file descriptors")?;
    // A session of its own, so the caller's terminal is no controlling
    // terminal here: /dev/tty does not open it, TIOCSTI cannot type into it,
    // and its job-control signals do not arrive.
    if process.terminal {
        terminal::attach(sys, process.console_size, process.user.uid)?;
    } else {
        sys.setsid().step(|| "starting a session")?;
        give_pipes(sys, OWN_PIPES.load(Ordering::Relaxed), process.user.uid);
    }
    sys.enter_dir(&process.cwd)
        .map_err(|e| working_dir_error(&process.cwd, e))?;
    // Docker's 022, not whatever umask the user who started tsbox has (077
    // made files only root could read in a container running as a user).
    sys.set_umask(process.user.umask);
    // Limits while we still hold CAP_SYS_RESOURCE to raise hard limits.
    rlimits::apply(sys, &process.rlimits)?;
    // Capabilities: bounding set while we hold CAP_SETPCAP; KEEPCAPS so the
    // permitted set survives a switch away from uid 0; then the final sets.
    // No `capabilities` in the spec means none at all.
    let caps = process.capabilities.unwrap_or_default();
    caps::limit_bounding(sys, caps.bounding, host.last_cap)?;
    sys.set_keepcaps(true)
        .step(|| "keeping capabilities across the uid switch")?;
    // Before any seccomp filter (which forbids keyctl). The process possesses
    // its session keyring, whatever uid it switches to below.
    sys.join_session_keyring()
        .step(|| "joining a new session keyring")?;
    let late = process.no_new_privileges;
    if !late {
        load_filter(sys, filter)?;
    }
    user::switch(sys, &process.user, host.setgroups_denied)?;
    caps::apply(sys, &caps, host.last_cap)?;
    if process.no_new_privileges {
        sys.set_no_new_privs().step(|| "setting no_new_privs")?;
    }
    // The uid switch cleared the parent-death signal.
    sys.set_pdeathsig(SIGKILL)
        .step(|| "setting the parent-death signal")?;
    if late {
        load_filter(sys, filter)?;
    }
    Ok(())
}

/// Our pipes among fds 0–2 go to the process's user, their group kept, as
/// runc's `fixStdioPermissions` does for docker: made 0600 by the runtime, as
/// its root, they could not be opened again as /dev/stdout or /dev/stderr
/// (nginx's `error_log /dev/stderr`, `echo > /dev/stdout`) by any other
/// user. Best effort, as runc: in a user namespace that does not map their
/// owner the kernel refuses, and the process goes on without.
fn give_pipes(sys: &dyn Syscall, own: u8, uid: u32) {
    if uid == 0 {
        return;
    }
    for fd in (0..3).filter(|fd| own & (1 << fd) != 0) {
        let _ = sys.set_owner(fd as c_int, uid);
    }
}

fn load_filter(sys: &dyn Syscall, filter: Option<&Filter>) -> Result<(), Error> {
    let f = match filter {
        Some(f) => f,
        None => return Ok(()),
    };
    sys.load_seccomp(&f.program, f.flags).map_err(|e| {
        let hint = if seccomp::unsupported(e) {
            " (this kernel cannot filter system calls: run with --security-opt seccomp=unconfined)"
        } else {
            ""
        };
        Error::errno(format!("loading the seccomp filter{}", hint), e)
    })
}

fn working_dir_error(cwd: &str, e: Errno) -> Error {
    let why = match e {
        ELOOP => "it leads through a symlink loop or a link under /proc to an open file".to_string(),
        EXDEV => "it is not inside the container's root".to_string(),
        e => e.to_string(),
    };
    Error {
        errno: Some(e.0),
        ..Error::setup(format!("entering the working directory {}: {}", cwd, why))
    }
}

#[cfg(test)]
mod tests {
    use super::give_pipes;
    use crate::syscall::RecordingSyscall;
    use std::path::Path;

    #[test]
    fn only_our_pipes_go_to_the_processs_user() {
        let sys = RecordingSyscall::new(Path::new("/nonexistent"));
        // stdout and stderr ours, stdin handed over (or /dev/null): that one stays.
        give_pipes(&sys, 0b110, 1000);
        assert_eq!(sys.calls(), ["fchown 1 1000", "fchown 2 1000"]);
        let root = RecordingSyscall::new(Path::new("/nonexistent"));
        give_pipes(&root, 0b111, 0);
        assert!(root.calls().is_empty(), "root's are its own already");
    }
}
