//! The uid/gid switch (after rlimits and the bounding set, before capset).

use crate::error::Error;
use crate::spec::User;
use crate::sys::errno::EINVAL;
use crate::sys::Errno;
use crate::syscall::Syscall;

fn hint(e: Errno) -> &'static str {
    if e == EINVAL {
        " (is it mapped in the user namespace?)"
    } else {
        ""
    }
}

/// Root of the user namespace the process is in: files it creates then
/// belong to the container's root. A process that entered the namespace as an
/// id it does not map (the vm agent, guest root, in a rootless container's;
/// root in a `--userns=auto` one's) would otherwise create them as nobody.
pub fn become_root() -> Result<(), Error> {
    crate::sys::cred::setresgid(0).map_err(|e| Error::errno(format!("becoming the container's root (gid 0){}", hint(e)), e))?;
    crate::sys::cred::setresuid(0).map_err(|e| Error::errno(format!("becoming the container's root (uid 0){}", hint(e)), e))
}

/// Supplementary groups first (needs CAP_SETGID), then gid, then uid (after
/// which we could no longer change the others).
pub fn switch(sys: &dyn Syscall, user: &User, setgroups_denied: bool) -> Result<(), Error> {
    if setgroups_denied {
        // The kernel refuses setgroups(2) for good once "deny" was written
        // (required to map a single gid without privilege). The process
        // keeps whatever supplementary groups it had, shown as the overflow
        // gid; the extra groups could not be mapped anyway.
        if !user.additional_gids.is_empty() {
            eprintln!("tsbox: additionalGids ignored: setgroups is denied in this user namespace (single id mapping)");
        }
    } else {
        sys.setgroups(&user.additional_gids).map_err(|e| {
            Error::errno(
                format!(
                    "setting supplementary groups {:?}{}",
                    user.additional_gids,
                    hint(e)
                ),
                e,
            )
        })?;
    }
    sys.setresgid(user.gid)
        .map_err(|e| Error::errno(format!("setting gid {}{}", user.gid, hint(e)), e))?;
    sys.setresuid(user.uid)
        .map_err(|e| Error::errno(format!("setting uid {}{}", user.uid, hint(e)), e))?;
    Ok(())
}
