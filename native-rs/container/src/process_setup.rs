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
use crate::{caps, rlimits, terminal, user};

pub fn apply(sys: &dyn Syscall, process: &Process, host: &Host) -> Result<(), Error> {
    // Nothing the helper holds reaches the program (CVE-2024-21626 was a
    // host directory's descriptor plus a cwd of /proc/self/fd/N).
    sys.cloexec_from(3)
        .step(|| "closing inherited file descriptors")?;
    // A session of its own, so the caller's terminal is no controlling
    // terminal here: /dev/tty does not open it, TIOCSTI cannot type into it,
    // and its job-control signals do not arrive.
    if process.terminal {
        terminal::attach(sys, process.console_size)?;
    } else {
        sys.setsid().step(|| "starting a session")?;
    }
    sys.enter_dir(&process.cwd)
        .map_err(|e| working_dir_error(&process.cwd, e))?;
    // Limits while we still hold CAP_SYS_RESOURCE to raise hard limits.
    rlimits::apply(sys, &process.rlimits)?;
    // Capabilities: bounding set while we hold CAP_SETPCAP; KEEPCAPS so the
    // permitted set survives a switch away from uid 0; then the final sets.
    // No `capabilities` in the spec means none at all.
    let caps = process.capabilities.unwrap_or_default();
    caps::limit_bounding(sys, caps.bounding, host.last_cap)?;
    sys.set_keepcaps(true)
        .step(|| "keeping capabilities across the uid switch")?;
    user::switch(sys, &process.user, host.setgroups_denied)?;
    // After the switch, so the new keyring belongs to the container's user.
    sys.join_session_keyring()
        .step(|| "joining a new session keyring")?;
    caps::apply(sys, &caps, host.last_cap)?;
    if process.no_new_privileges {
        sys.set_no_new_privs().step(|| "setting no_new_privs")?;
    }
    // The uid switch cleared the parent-death signal.
    sys.set_pdeathsig(SIGKILL)
        .step(|| "setting the parent-death signal")
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
