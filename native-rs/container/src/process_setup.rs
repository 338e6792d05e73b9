//! The last steps before execve, the same for a new container's init
//! (`launch`) and for a process joining a running container (`join`): the
//! working directory, the terminal, limits, identity, capabilities,
//! no_new_privs and the parent-death signal.

use crate::error::{Context, Error};
use crate::host::Host;
use crate::spec::Process;
use crate::sys::consts::SIGKILL;
use crate::syscall::Syscall;
use crate::{caps, rlimits, terminal, user};
use std::path::Path;

pub fn apply(sys: &dyn Syscall, process: &Process, host: &Host) -> Result<(), Error> {
    sys.chdir(Path::new(&process.cwd))
        .step(|| format!("entering the working directory {}", process.cwd))?;
    if process.terminal {
        terminal::attach(sys, process.console_size)?;
    }
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
    caps::apply(sys, &caps, host.last_cap)?;
    if process.no_new_privileges {
        sys.set_no_new_privs().step(|| "setting no_new_privs")?;
    }
    // The uid switch cleared the parent-death signal.
    sys.set_pdeathsig(SIGKILL)
        .step(|| "setting the parent-death signal")
}
