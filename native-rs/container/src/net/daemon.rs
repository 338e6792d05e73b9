//! Long-lived helpers of a network (its DNS server, the rootless namespace
//! holder): our own executable re-run with a subcommand, detached (its own
//! session, nobody's child but init's, so it outlives the container that
//! started it), reporting "ok" or why not on a ready pipe.

use crate::error::{Context, Error};
use crate::sys::consts::F_SETFD;
use crate::sys::process::{self, Forked};
use crate::sys::{fd, ffi, signal};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Runs `<our executable> ARGS… --ready-fd N` detached; returns its ready line.
pub fn spawn(args: &[String]) -> Result<String, Error> {
    // Not its path: run from a sealed memfd copy (sealed_exe.rs), we have
    // none, but /proc/self/exe still executes what we are.
    let exe = "/proc/self/exe";
    let (ready_r, ready_w) = fd::pipe().step(|| "creating a pipe")?;
    match process::clone_fork(0) {
        Ok(Forked::Child) => {
            // The go-between: the daemon inherits the write end (pipes are
            // made close-on-exec), gets a session of its own, and we leave.
            unsafe { ffi::fcntl(ready_w, F_SETFD, 0) };
            unsafe { ffi::setsid() };
            // Dispositions and the mask survive execve: the starter may block SIGTERM.
            signal::reset_all();
            // Named as the program in ps, not as the path it was run by ("/proc/self/exe nest-holder …").
            let child = Command::new(exe)
                .arg0("tsbox-runtime")
                .args(args)
                .arg("--ready-fd")
                .arg(ready_w.to_string())
                // A daemon outlives the traced command: its marks would go to a descriptor nobody reads any more.
                .env_remove("TSBOX_TRACE_FD")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            process::exit_now(if child.is_ok() { 0 } else { 1 })
        }
        Ok(Forked::Parent(pid)) => {
            fd::close(ready_w);
            let _ = process::wait(pid);
        }
        Err(e) => {
            fd::close(ready_r);
            fd::close(ready_w);
            return Err(Error::errno("forking", e));
        }
    }
    let line = fd::read_line(ready_r);
    fd::close(ready_r);
    Ok(String::from_utf8_lossy(&line).trim().to_string())
}

/// The daemon's side: reports on the ready fd (made close-on-exec first, so
/// nothing it starts holds the pipe open).
pub struct Ready(i32);

impl Ready {
    pub fn new(fd_: i32) -> Ready {
        let _ = fd::set_cloexec(fd_);
        Ready(fd_)
    }

    pub fn report(&self, text: &str) {
        let _ = fd::write_all(self.0, format!("{}\n", text).as_bytes());
    }

    pub fn ok(self) {
        self.report("ok");
        fd::close(self.0);
    }
}
