//! `tsbox-runtime exec`: start a process in a running container (joining
//! the namespaces of its init), forward signals, wait, report: the same
//! status events and exit codes as `run`.

use crate::exec_oom::Watcher;
use crate::helper::{self, Start};
use crate::relay::Relay;
use container::error::{Context, Error, ErrorKind};
use container::copy::owners::{map_id, Owners};
use container::join;
use container::seccomp::Seccomp;
use container::spec::Process;
use container::sys::{fd, tty};
use container::Spec;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

pub struct Options {
    /// Host pid of the container's init.
    pub pid: i32,
    /// An OCI `process` object (JSON).
    pub process: PathBuf,
    /// The container's bundle: its config.json's `linux.seccomp` applies to
    /// the exec'd process too.
    pub bundle: Option<PathBuf>,
    pub status_fd: Option<i32>,
    /// `exec -d`: leave the caller behind (detach.rs) and run on our own.
    pub detach: bool,
    /// We replaced the `tsbox exec` CLI's process (helper::Start); the
    /// process file, written for us alone, goes once read.
    pub front_end: bool,
}

struct Input {
    pid: i32,
    process: Process,
    seccomp: Option<Seccomp>,
    /// `exec -dt`: the output of the terminal we gave the process.
    relay: Option<Relay>,
    /// Records an OOM kill in the container's cgroup while the process runs (exec_oom.rs).
    oom: Option<Watcher>,
}

pub fn exec(opts: Options) -> i32 {
    let (pid, file, bundle, front_end, detach) = (opts.pid, opts.process, opts.bundle, opts.front_end, opts.detach);
    // As the `tsbox exec` CLI, a process that could not be set up (its working directory, joining the container)
    // exits 126, as docker's: its daemon records 126 for an exec that failed to start (moby's ContainerExecStart),
    // 127/126 for a command not found or not executable. (A setup error is 125 for `run`, as docker-cli's.)
    let setup_failed = Rc::new(Cell::new(false));
    let flag = Rc::clone(&setup_failed);
    let on_failed: Option<Box<dyn FnOnce(&Error)>> = if front_end { Some(Box::new(move |e: &Error| flag.set(e.kind == ErrorKind::Setup))) } else { None };
    let code = helper::serve(Start {
        status_fd: opts.status_fd,
        front_end,
        detach: opts.detach,
        load: Box::new(move |_| {
            let process = Process::load(&file);
            if front_end {
                let _ = std::fs::remove_file(&file);
            }
            let process = process?;
            let seccomp = match &bundle {
                Some(b) => Spec::load(b)?.linux.seccomp,
                None => None,
            };
            // Forked before anything else (the terminal's relay), and before the join.
            let oom = bundle.as_deref().and_then(Watcher::start);
            // Detached, our stdio is /dev/null (detach.rs), which cannot be a controlling terminal.
            let relay = if detach && process.terminal { Some(detached_terminal(pid)?) } else { None };
            Ok(Input { pid, process, seccomp, relay, oom })
        }),
        spawn: |input: &Input, on_fork: &mut dyn FnMut(i32)| {
            join::spawn_with(input.pid, &input.process, input.seccomp.as_ref(), &mut |child| {
                if let Some(w) = &input.oom {
                    w.started(child);
                }
                on_fork(child)
            })
        },
        terminal: |input: &Input| input.process.terminal,
        // The container's maps as the host sees them (the init's, read from here).
        owner: |input: &Input| Owners::of_process(input.pid).and_then(|o| map_id(&o.uids, input.process.user.uid, true)),
        relay: |input: &mut Input| input.relay.take(),
        log: None,
        on_started: None,
        on_ended: None,
        on_failed,
        // The exec's own end says nothing of OOM (docker's exec inspect has no such field); the container's
        // state does: exec_oom.rs, and the init's end.
        oom_killed: |_| false,
    });
    if setup_failed.get() {
        126
    } else {
        code
    }
}

/// `exec -dt` (docker's: a terminal with nothing attached): a pty of the
/// container's devpts, as an attached `exec -t` gets (else the host's), its
/// slave our fds 0-2, which the process takes as its controlling terminal;
/// its size the spec's (`terminal::attach`), else 80x24. We hold the master
/// while we live, its output read for nobody (`Relay::discarding`): the
/// process never meets a hung-up terminal, nor blocks on a full one.
fn detached_terminal(pid: i32) -> Result<Relay, Error> {
    let (cols, rows) = (80, 24);
    let root = format!("/proc/{}/root", pid);
    let (master, slave) = tty::open_pty_in(Path::new(&root), cols, rows)
        .or_else(|_| tty::open_pty(cols, rows))
        .step(|| "opening a terminal for the detached process")?;
    let onto = (0..3).try_for_each(|target| fd::dup_onto(slave, target));
    fd::close(slave);
    let held = onto.and_then(|()| fd::set_cloexec(master));
    if let Err(e) = held {
        fd::close(master);
        return Err(e).step(|| "giving the detached process its terminal");
    }
    Relay::discarding(master).step(|| "opening /dev/null")
}
