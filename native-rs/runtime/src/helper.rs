//! What `run` and `exec` have in common: status events on the status fd,
//! dying with our parent, the input (spec or process) loaded, signals
//! forwarded to the process once it exists, then `started`/`exited` (or
//! `error`) and its exit code as ours.

use crate::monitor::logfile::LogFile;
use crate::relay::{self, Relay};
use crate::signals;
use container::error::Error;
use container::status::{Ended, StatusEvents};
use container::sys::{cred, process};

pub struct Start<T> {
    pub status_fd: Option<i32>,
    /// We replaced the `tsbox` CLI's process (`run --front-end`): errors and
    /// warnings are its lines (`tsbox: …`), and we answer to no parent: like
    /// the CLI, we run until the container ends, whoever started us.
    pub front_end: bool,
    /// Detach from the caller first (`exec -d`): then nobody's death is ours.
    pub detach: bool,
    /// Reads the input and prepares what the start needs (a container's
    /// cgroup); may report warnings. T's Drop cleans up after the end.
    pub load: Box<dyn FnOnce(&StatusEvents) -> Result<T, Error>>,
    /// Starts it; the callback gets its pid right after the clone or fork.
    pub spawn: fn(&T, &mut dyn FnMut(i32)) -> Result<i32, Error>,
    /// Whether the process has a terminal of its own (`-t`): else our
    /// terminals are relayed, never handed to it (relay.rs).
    pub terminal: fn(&T) -> bool,
    /// The host uid the process runs as, where known: a pipe we were
    /// handed is passed on as it is only when it is that uid's (relay.rs).
    pub owner: fn(&T) -> Option<u32>,
    /// A relay T brings for the process, taken once it runs (`exec -dt`:
    /// its terminal's output, read for nobody).
    pub relay: fn(&mut T) -> Option<Relay>,
    /// Keep the output in the container's log too, as a monitor does (a
    /// foreground `run` without `--rm`): then fds 1 and 2 are relayed.
    pub log: Option<LogConfig>,
    /// Asked once it has ended: did the OOM killer strike its cgroup?
    pub oom_killed: fn(&T) -> bool,
    /// Told its pid once it runs, before `started` is reported.
    pub on_started: Option<Box<dyn FnOnce(i32)>>,
    /// Told how it ended once T is dropped (its cgroup gone), before we exit.
    pub on_ended: Option<Box<dyn FnOnce(&Ended)>>,
    /// Told why it could not be started, once T is dropped.
    pub on_failed: Option<Box<dyn FnOnce(&Error)>>,
}

/// Where and how big the container's log is (monitor/logfile.rs).
pub struct LogConfig {
    pub dir: std::path::PathBuf,
    pub max_size: u64,
    pub max_files: u32,
}

impl LogConfig {
    fn open(self) -> Result<LogFile, Error> {
        LogFile::open(&self.dir, self.max_size, self.max_files)
            .map_err(|e| Error::setup(format!("opening the container's log in {}: {}", self.dir.display(), e)))
    }
}

/// Whose lines our errors and warnings are on stderr (without a status fd).
pub fn stderr_prefix(front_end: bool) -> &'static str {
    if front_end {
        "tsbox"
    } else {
        "tsbox-runtime"
    }
}

pub fn serve<T>(start: Start<T>) -> i32 {
    let events = StatusEvents::new(start.status_fd, stderr_prefix(start.front_end));
    let attached = if start.detach {
        crate::detach::detach()
    } else if start.front_end {
        signals::count_interrupts();
        Ok(())
    } else {
        die_with_parent()
    };
    let ready = attached
        .and_then(|()| (start.load)(&events))
        .and_then(|input| {
            signals::install()
                .map_err(|e| Error::errno("installing signal handlers", e))?;
            Ok(input)
        });
    let failed = |e: Error, on_failed: Option<Box<dyn FnOnce(&Error)>>| {
        let code = events.error(&e);
        if let Some(f) = on_failed {
            f(&e);
        }
        code
    };
    match ready {
        Ok(mut input) => {
            let terminal = (start.terminal)(&input);
            let log = match start.log.filter(|_| !terminal).map(LogConfig::open).transpose() {
                Ok(l) => l,
                Err(e) => {
                    drop(input);
                    return failed(e, start.on_failed);
                }
            };
            let prepared = if terminal {
                None
            } else {
                match relay::prepare(log.is_some(), (start.owner)(&input)) {
                    Ok(p) => p,
                    Err(e) => {
                        drop(input);
                        return failed(Error::errno("relaying the terminal", e), start.on_failed);
                    }
                }
            };
            if let Some(p) = &prepared {
                container::process_setup::mark_own_pipes(p.pipes());
            }
            let spawned = (start.spawn)(&input, &mut signals::forward_to);
            let mut relayed = prepared.map(|p| p.restore(log));
            let spawned = match spawned {
                Ok(pid) => pid,
                Err(e) => {
                    if let Some(r) = relayed.as_mut() {
                        r.flush();
                    }
                    drop(relayed);
                    drop(input);
                    return failed(e, start.on_failed);
                }
            };
            if relayed.is_none() {
                relayed = (start.relay)(&mut input);
            }
            if let Some(f) = start.on_started {
                f(spawned);
            }
            let mut end = None;
            let code = events.supervise_then(
                Ok(spawned),
                &mut || (start.oom_killed)(&input),
                &mut |pid| {
                    if let Some(r) = relayed.as_mut() {
                        r.run(pid);
                    }
                },
                &mut |e| end = Some(e.clone()),
            );
            drop(relayed);
            drop(input);
            if let (Some(e), Some(f)) = (end, start.on_ended) {
                f(&e);
                events.recorded();
            }
            code
        }
        Err(e) => failed(e, start.on_failed),
    }
}

/// End with whoever started us: a container process must not outlive a
/// front end that was SIGKILLed. Our parent-death signal is
/// `signals::ORPHANED`, which kills the container (thawed if paused) and
/// lets us reap, record and clean up; the container's process dies with us
/// too. If the parent is already gone, the check after arming tells.
pub fn die_with_parent() -> Result<(), Error> {
    let parent = process::parent_pid();
    if signals::install_orphaned().is_err() || cred::set_pdeathsig(signals::ORPHANED).is_err() || process::parent_pid() != parent {
        return Err(Error::setup(
            "the process that started tsbox-runtime has exited",
        ));
    }
    Ok(())
}
