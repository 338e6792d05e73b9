//! `process.terminal`: stdin is a pty slave that must become the
//! controlling terminal of a new session, so job control and ^C work in it.

use crate::error::{Context, Error};
use crate::spec::ConsoleSize;
use crate::syscall::Syscall;

pub fn attach(sys: &dyn Syscall, size: Option<ConsoleSize>) -> Result<(), Error> {
    sys.setsid()
        .step(|| "starting a session for the terminal")?;
    sys.set_controlling_tty(0)
        .step(|| "making stdin the controlling terminal")?;
    if let Some(s) = size {
        sys.set_winsize(0, s.height, s.width)
            .step(|| "setting the console size")?;
    }
    Ok(())
}
