//! One run of the container: the monitor forks a supervisor that is exactly
//! `tsbox-runtime run` (the same `helper::serve`: spawn, status events,
//! wait), on stdio the monitor made for it — pipes, or a pty whose slave is
//! the container's terminal. Namespaces a spec names by path are joined by
//! the supervisor, so the monitor itself stays where it is and can start
//! the container again. The supervisor dies with the monitor (PDEATHSIG),
//! the container with the supervisor.

use super::logfile::Stream;
use crate::run;
use container::error::{Context, Error};
use container::sys::consts::{O_CLOEXEC, O_RDONLY};
use container::sys::process::{self, Forked};
use container::sys::{cred, fd, signal, tty};
use std::os::raw::c_int;
use std::path::{Path, PathBuf};

pub struct Supervisor {
    pub pid: i32,
    /// Its status events (`started`, `error`, `exited`), one JSON line each.
    pub status: c_int,
    /// What the container writes: stdout and stderr pipes, or the pty master.
    pub outputs: Vec<(c_int, Stream)>,
    /// Where attached input goes (stdin pipe or pty master); None: /dev/null.
    pub input: Option<c_int>,
    /// With a terminal: the master, for resizes.
    pub pty: Option<c_int>,
}

pub struct StdioPlan {
    /// `process.terminal`, with the console size (cols, rows).
    pub terminal: Option<(u16, u16)>,
    /// Keep stdin open for attached clients (`-i`).
    pub open_stdin: bool,
}

/// Both ends of each pipe or the pty: ours (monitor side) and the child's (its fds 0, 1, 2).
struct Ends {
    ours: Vec<c_int>,
    child: [c_int; 3],
    outputs: Vec<(c_int, Stream)>,
    input: Option<c_int>,
    pty: Option<c_int>,
    /// Which of the child's fds 0–2 are our pipes (bit N: fd N), for the process's user.
    pipes: u8,
}

/// `nest_idle`: run::Options::nest_idle.
pub fn start(bundle: &Path, plan: &StdioPlan, nest_idle: Option<u32>) -> Result<Supervisor, Error> {
    let ends = open_stdio(plan)?;
    let (status_r, status_w) = match fd::pipe().step(|| "creating the status pipe") {
        Ok(p) => p,
        Err(e) => {
            close_all(&ends.ours, &ends.child);
            return Err(e);
        }
    };
    let forked = process::clone_fork(0);
    match forked {
        Ok(Forked::Child) => {
            container::process_setup::mark_own_pipes(ends.pipes);
            child(bundle.to_path_buf(), &ends.child, status_w, nest_idle)
        }
        Ok(Forked::Parent(pid)) => {
            // The child's ends are its own now; ours must not keep its pipes open.
            close_all(&[status_w], &ends.child);
            for fd in ends.ours.iter().chain([status_r].iter()) {
                let _ = fd::set_nonblocking(*fd);
            }
            Ok(Supervisor {
                pid,
                status: status_r,
                outputs: ends.outputs,
                input: ends.input,
                pty: ends.pty,
            })
        }
        Err(e) => {
            close_all(&ends.ours, &ends.child);
            fd::close(status_r);
            fd::close(status_w);
            Err(Error::errno("forking the container's supervisor", e))
        }
    }
}

fn child(bundle: PathBuf, stdio: &[c_int; 3], status_w: c_int, nest_idle: Option<u32>) -> ! {
    signal::reset_for_our_code();
    // Its command line is the monitor's: tell the two apart in ps.
    let _ = cred::set_name("tsbox-supervise");
    for (target, source) in stdio.iter().enumerate() {
        if fd::dup_onto(*source, target as c_int).is_err() {
            process::exit_now(125);
        }
    }
    if fd::dup_onto(status_w, 3).is_err() {
        process::exit_now(125);
    }
    // The monitor's listener, clients, log and the other ends stay with it.
    fd::close_from(4);
    // The monitor records the state itself (it knows about restarts).
    process::exit_now(run::run(run::Options {
        bundle,
        status_fd: Some(3),
        record: false,
        remove: false,
        front_end: false,
        remove_after_exit: false,
        nest: None,
        nest_idle,
        log: None,
    }))
}

fn open_stdio(plan: &StdioPlan) -> Result<Ends, Error> {
    if let Some((cols, rows)) = plan.terminal {
        let (master, slave) = tty::open_pty(cols, rows).step(|| "opening a pty")?;
        return Ok(Ends {
            ours: vec![master],
            child: [slave, slave, slave],
            outputs: vec![(master, Stream::Stdout)],
            input: if plan.open_stdin { Some(master) } else { None },
            pty: Some(master),
            pipes: 0,
        });
    }
    let mut opened: Vec<c_int> = Vec::new();
    let result = (|| {
        let (stdin_r, stdin_w) = if plan.open_stdin {
            let (r, w) = fd::pipe().step(|| "creating the stdin pipe")?;
            opened.extend([r, w]);
            (r, Some(w))
        } else {
            let null = fd::open_path(Path::new("/dev/null"), O_RDONLY | O_CLOEXEC, 0).step(|| "opening /dev/null")?;
            opened.push(null);
            (null, None)
        };
        let (out_r, out_w) = fd::pipe().step(|| "creating the stdout pipe")?;
        opened.extend([out_r, out_w]);
        let (err_r, err_w) = fd::pipe().step(|| "creating the stderr pipe")?;
        opened.extend([err_r, err_w]);
        let mut ours = vec![out_r, err_r];
        ours.extend(stdin_w);
        Ok(Ends {
            ours,
            child: [stdin_r, out_w, err_w],
            outputs: vec![(out_r, Stream::Stdout), (err_r, Stream::Stderr)],
            input: stdin_w,
            pty: None,
            // stdin is /dev/null without -i: never given away (it is the host's).
            pipes: 0b110 | if plan.open_stdin { 1 } else { 0 },
        })
    })();
    if result.is_err() {
        for fd in opened {
            fd::close(fd);
        }
    }
    result
}

/// Closes `ours` and the child's ends (the pty slave appears three times).
fn close_all(ours: &[c_int], child: &[c_int; 3]) {
    let mut done: Vec<c_int> = Vec::new();
    for fd in ours.iter().chain(child.iter()) {
        if !done.contains(fd) {
            fd::close(*fd);
            done.push(*fd);
        }
    }
}
