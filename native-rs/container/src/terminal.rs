//! `process.terminal`: stdin is a pty slave that must become the
//! controlling terminal of a new session, so job control and ^C work in it.

use crate::error::{Context, Error};
use crate::spec::ConsoleSize;
use crate::syscall::Syscall;

/// `uid`: the process's user, who gets the terminal (as docker's runc does with stdio): a shell run with `-u 1000`
/// could not reopen its own terminal by name (`exec 3<>$(tty)`, gpg's pinentry, screen). Best effort: a user
/// namespace in which the terminal's owner or group is not mapped makes the kernel refuse, and the run goes on.
pub fn attach(sys: &dyn Syscall, size: Option<ConsoleSize>, uid: u32) -> Result<(), Error> {
    sys.setsid()
        .step(|| "starting a session for the terminal")?;
    sys.set_controlling_tty(0)
        .step(|| "making stdin the controlling terminal")?;
    if uid != 0 {
        let _ = sys.set_owner(0, uid);
    }
    if let Some(s) = size {
        sys.set_winsize(0, s.height, s.width)
            .step(|| "setting the console size")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::attach;
    use crate::syscall::RecordingSyscall;
    use std::path::Path;

    #[test]
    fn the_terminal_goes_to_the_processs_user() {
        let sys = RecordingSyscall::new(Path::new("/nonexistent"));
        attach(&sys, None, 1000).unwrap();
        assert_eq!(sys.calls(), ["setsid", "tiocsctty 0", "fchown 0 1000"]);
        let root = RecordingSyscall::new(Path::new("/nonexistent"));
        attach(&root, None, 0).unwrap();
        assert_eq!(root.calls(), ["setsid", "tiocsctty 0"]);
    }
}
