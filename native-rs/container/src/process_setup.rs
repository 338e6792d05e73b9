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
