//! A new network namespace starts with `lo` down; programs expect
//! 127.0.0.1 to work.

use crate::error::{Context, Error};
use crate::syscall::Syscall;

pub fn loopback_up(sys: &dyn Syscall) -> Result<(), Error> {
    sys.set_link_up("lo").step(|| "bringing up lo")
}
