//! The hand-off between a parent and the child it forks to become a
//! container process (a new container's init in `launch`, a process joining
//! one in `join`): two pipes, the child's side up to execve, and the verdict
//! the parent waits for.
//!
//! * sync, parent → child: the parent holds the write end for as long as it
//!   lives. The child checks it right before execve, which closes the window
//!   in which the parent died before the child's PDEATHSIG was armed.
//!   (`launch` also sends one byte on it: "the id maps are written".)
//! * error, child → parent, CLOEXEC: a successful execve closes it and the
//!   parent reads EOF; a failure arrives as the error's JSON.

use crate::error::{Context, Error};
use crate::exec;
use crate::spec::Process;
use crate::sys::consts::SIGKILL;
use crate::sys::{cred, fd, process, signal};
use std::os::raw::c_int;

/// Copies are plain fd numbers, for the other side of a fork.
#[derive(Clone)]
pub struct Pipes {
    sync_r: c_int,
    sync_w: c_int,
    err_r: c_int,
    err_w: c_int,
}

impl Pipes {
    pub fn open() -> Result<Pipes, Error> {
        let (sync_r, sync_w) = fd::pipe().step(|| "creating a pipe")?;
        match fd::pipe().step(|| "creating a pipe") {
            Ok((err_r, err_w)) => Ok(Pipes {
                sync_r,
                sync_w,
                err_r,
                err_w,
            }),
            Err(e) => {
                fd::close(sync_r);
                fd::close(sync_w);
                Err(e)
            }
        }
    }

    /// When the fork failed.
    pub fn close(self) {
        for fd in [self.sync_r, self.sync_w, self.err_r, self.err_w] {
            fd::close(fd);
        }
    }

    /// Closes this process's copies of all four ends (a process forked
    /// after `open` that is neither the parent nor the child: the network
    /// keeper, which clones the child for its parent).
    pub fn close_copies(&self) {
        for fd in [self.sync_r, self.sync_w, self.err_r, self.err_w] {
            fd::close(fd);
        }
    }

    pub fn into_child(self) -> ChildEnds {
        fd::close(self.sync_w);
        fd::close(self.err_r);
        ChildEnds {
            sync_r: self.sync_r,
            err_w: self.err_w,
        }
    }

    pub fn into_parent(self) -> ParentEnds {
        fd::close(self.sync_r);
        fd::close(self.err_w);
        ParentEnds {
            sync_w: self.sync_w,
            err_r: self.err_r,
        }
    }
}

pub struct ChildEnds {
    sync_r: c_int,
    err_w: c_int,
}

impl ChildEnds {
    /// The child: `prepare` (given the sync pipe's read end), then execve of
    /// `process`. Never returns: a failure is sent to the parent and ends the
    /// child with the error's exit code.
    pub fn exec_after<F>(self, process: &Process, prepare: F) -> !
    where
        F: FnOnce(c_int) -> Result<(), Error>,
    {
        self.exec_prepared(|sync_r| prepare(sync_r).map(|()| process.clone()))
    }

    /// [`exec_after`](Self::exec_after) of the process `prepare` returns (a
    /// spare container's, known only once it is set up).
    pub fn exec_prepared<F>(self, prepare: F) -> !
    where
        F: FnOnce(c_int) -> Result<Process, Error>,
    {
        // Dispositions and the mask survive execve (Rust ignores SIGPIPE; the
        // runtime blocks forwarded signals around the fork): start clean.
        signal::reset_all();
        let err = self.until_exec(prepare);
        let _ = fd::write_all(self.err_w, err.to_json().to_string().as_bytes());
        process::exit_now(err.exit_code())
    }

    /// Returns only with the error that stopped it.
    fn until_exec<F>(&self, prepare: F) -> Error
    where
        F: FnOnce(c_int) -> Result<Process, Error>,
    {
        // Die with the parent from the very start; `prepare` re-arms it last,
        // since the uid switch clears it.
        if let Err(e) = cred::set_pdeathsig(SIGKILL).step(|| "setting the parent-death signal") {
            return e;
        }
        let process = match prepare(self.sync_r) {
            Ok(p) => p,
            Err(e) => return e,
        };
        // If the parent died before PDEATHSIG was re-armed, nothing would
        // kill us: it holds the sync pipe open for as long as it lives.
        if fd::peer_closed(self.sync_r) {
            process::exit_now(1);
        }
        crate::trace::mark("child: execve");
        exec::exec(&process)
    }
}

/// The child waits for the parent's byte on the sync pipe (`release`). EOF
/// instead: the parent is gone (it may have died before our PDEATHSIG was
/// set) and nobody waits for us.
pub fn wait_for_release(sync_r: c_int) {
    let mut byte = [0u8; 1];
    if fd::read(sync_r, &mut byte) != Ok(1) {
        process::exit_now(1);
    }
}

pub struct ParentEnds {
    sync_w: c_int,
    err_r: c_int,
}

impl ParentEnds {
    /// Sends the child the byte it waits for in `prepare`.
    pub fn release(&self) -> Result<(), Error> {
        fd::write_all(self.sync_w, b"1").step(|| "releasing the container process")
    }

    /// Ok once the child's execve succeeded, else its error (the child is
    /// reaped). `ready` is the parent's own part of the set-up: when it
    /// failed, the child is killed and that error returned.
    pub fn verdict(self, pid: i32, ready: Result<(), Error>) -> Result<(), Error> {
        let result = ready.and_then(|()| {
            fd::read_to_end(self.err_r).step(|| "waiting for the container process")
        });
        fd::close(self.sync_w);
        fd::close(self.err_r);
        let report = match result {
            Ok(r) => r,
            Err(e) => {
                let _ = process::kill(pid, SIGKILL);
                let _ = process::wait(pid);
                return Err(e);
            }
        };
        if report.is_empty() {
            return Ok(()); // EOF: execve succeeded and closed the pipe
        }
        let _ = process::wait(pid);
        let text = String::from_utf8_lossy(&report);
        Err(Error::from_json(&text)
            .unwrap_or_else(|| Error::setup(format!("container setup failed: {}", text))))
    }
}
