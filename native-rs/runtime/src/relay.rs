//! The caller's terminal and files never reach a container process as
//! they are (`run` or `exec` without `-t`), as with docker and podman,
//! whose processes write to pipes. Handed a terminal as fd 0, 1 or 2, the
//! process could read the user's keystrokes from it (a terminal is opened
//! read-write) and write to it, and a process it leaves behind in a running
//! container would keep doing so after `tsbox exec` returned. Handed a file
//! (`> out.log`, `< in.sh`), it could open it again through
//! /proc/self/fd/N with another mode: read what the file held before, or
//! truncate and rewrite a file it was only to read; handed a directory, it
//! could walk from it to the whole host tree. A socket gives nothing beyond
//! its stream, but /dev/stdout cannot be opened on one (ENXIO): programs
//! that log to /dev/stdout or /dev/stderr (nginx, many images' configs)
//! failed under anything that hands tsbox socketpairs — Node's `stdio:
//! "pipe"` (the library, execa), systemd's journal. So each of our fds 0–2
//! that is anything but a pipe or /dev/null is swapped for a pipe while the
//! process is spawned, and we relay between the two until it ends (docker's
//! processes always have pipes).
//!
//! In our own thread, by poll(2): `exec` has joined the container's PID
//! namespace by then, where no thread can be made (clone(2): EINVAL).
//!
//! With a log (a foreground `tsbox run` without `--rm`: docker keeps its
//! output for `logs`), fds 1 and 2 are relayed whatever they are, and what
//! passes is written to the container's log as a monitor writes it.

use container::sys::consts::{O_CLOEXEC, O_WRONLY, POLLIN, POLLOUT};
use container::sys::errno::EAGAIN;
use container::sys::types::PollFd;
use crate::monitor::logfile::{self, LogFile};
use container::sys::{fd, process, Errno};
use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::FromRawFd;
use std::time::SystemTime;

const CHUNK: usize = 64 * 1024;
/// What is still relayed once the process has ended: a process it left
/// behind may hold the pipe and write on for ever.
const DRAIN_LIMIT: usize = 1 << 20;
/// /dev/null's device number (1, 3).
const DEV_NULL: u64 = 0x103;

/// One of fds 0–2 swapped for a pipe.
struct Stream {
    target: c_int,
    /// Our copy of what the fd was (close-on-exec: no process of the container's gets it).
    outer: c_int,
    /// Our end of the pipe (its write end for stdin, else its read end); -1 once it ended.
    ours: c_int,
}

/// Fds 0–2 as the process is to get them, until `restore`.
pub struct Prepared {
    streams: Vec<Stream>,
}

/// Swaps each of fds 0–2 that is not to be handed on as it is (with
/// `log`, also 1 and 2 whatever they are) for a pipe; None when none is.
/// `owner`: the host uid the process runs as, where known (`handed_as_is`).
pub fn prepare(log: bool, owner: Option<u32>) -> Result<Option<Prepared>, Errno> {
    let mut prepared = Prepared { streams: Vec::new() };
    for target in 0..3 {
        if !fd::is_open(target) || (handed_as_is(target, owner) && !(log && target > 0)) {
            continue;
        }
        let outer = fd::dup(target)?;
        let (read, write) = match fd::pipe() {
            Ok(p) => p,
            Err(e) => {
                fd::close(outer);
                prepared.put_back();
                return Err(e);
            }
        };
        let (theirs, ours) = if target == 0 { (read, write) } else { (write, read) };
        let swapped = fd::dup_onto(theirs, target);
        fd::close(theirs);
        prepared.streams.push(Stream { target, outer, ours });
        if let Err(e) = swapped {
            prepared.put_back();
            return Err(e);
        }
    }
    Ok(if prepared.streams.is_empty() { None } else { Some(prepared) })
}

/// /dev/null, or a pipe (reopened through /proc/self/fd it gives only its
/// own stream) of the process's own host uid. Not a terminal (a character
/// device), not a socket (see above). A pipe of another owner is 0600 to
/// the process (the kernel makes pipes so): `echo > /dev/stdout` as a
/// container user, under a caller whose output is a pipe (a CI runner's
/// step, `| tee`), failed with EACCES. runc gives such pipes to the
/// process's user (`fixStdioPermissions`), but they are the caller's: its
/// own later `echo > /dev/stderr` would then be refused. So they are
/// relayed through pipes of the process's own (those go to its user:
/// `process_setup::mark_own_pipes`).
fn handed_as_is(target: c_int, owner: Option<u32>) -> bool {
    // Borrowed: fstat(2) through std, the descriptor stays ours.
    let file = ManuallyDrop::new(unsafe { File::from_raw_fd(target) });
    match file.metadata() {
        Ok(m) => {
            let kind = m.file_type();
            (kind.is_fifo() && owner == Some(m.uid())) || (kind.is_char_device() && m.rdev() == DEV_NULL)
        }
        Err(_) => false,
    }
}

impl Prepared {
    /// The fds swapped for our pipes (bit N: fd N): the process's user gets
    /// them (`process_setup::mark_own_pipes`), never what was handed on as it is.
    pub fn pipes(&self) -> u8 {
        self.streams.iter().fold(0, |bits, s| bits | 1 << s.target)
    }

    /// Once the process is spawned (or failed to be): our fds 0–2 are what
    /// they were again (our own messages go there); output goes to `log` too.
    pub fn restore(self, log: Option<LogFile>) -> Relay {
        self.put_back();
        Relay { streams: self.streams, input: Vec::new(), log }
    }

    fn put_back(&self) {
        for s in &self.streams {
            let _ = fd::dup_onto(s.outer, s.target);
        }
    }
}

/// Relaying between the caller's fds and a running process's pipes.
pub struct Relay {
    streams: Vec<Stream>,
    /// Typed input the process has not taken yet (its pipe is full).
    input: Vec<u8>,
    log: Option<LogFile>,
}

impl Relay {
    /// The output of a terminal nobody is attached to (`exec -dt`: docker's
    /// daemon holds its master), read from `master` for nobody while the
    /// process runs, so it never blocks on a full terminal. Takes `master`.
    pub fn discarding(master: c_int) -> Result<Relay, Errno> {
        let null = fd::open_path(std::path::Path::new("/dev/null"), O_WRONLY | O_CLOEXEC, 0);
        let null = null.map_err(|e| {
            fd::close(master);
            e
        })?;
        Ok(Relay { streams: vec![Stream { target: 1, outer: null, ours: master }], input: Vec::new(), log: None })
    }

    /// Relays until the process `pid` has ended (not reaped: the caller
    /// waits for it), then what it left in the pipes, at most DRAIN_LIMIT.
    pub fn run(&mut self, pid: i32) {
        // Readable once the process has ended; before Linux 5.3, a look every 50 ms.
        let pidfd = process::pidfd_open(pid).unwrap_or(-1);
        let start = if pidfd < 0 { process::start_time(pid) } else { None };
        let ended = || start.map_or(true, |s| !process::alive(pid, s));
        self.nonblocking();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let mut fds = vec![PollFd { fd: pidfd, events: POLLIN, revents: 0 }];
            for s in &self.streams {
                let (fd_, events) = match (s.target, s.ours >= 0) {
                    (_, false) => (-1, 0),
                    (0, true) if self.input.is_empty() => (s.outer, POLLIN),
                    (0, true) => (s.ours, POLLOUT),
                    _ => (s.ours, POLLIN),
                };
                fds.push(PollFd { fd: fd_, events, revents: 0 });
            }
            if fd::poll(&mut fds, if pidfd >= 0 { -1 } else { 50 }).is_err() {
                break;
            }
            if fds[0].revents != 0 || (pidfd < 0 && ended()) {
                break;
            }
            for (i, ready) in fds[1..].iter().enumerate() {
                if ready.revents != 0 {
                    self.step(i, &mut buf);
                }
            }
        }
        if pidfd >= 0 {
            fd::close(pidfd);
        }
        self.drain(&mut buf);
    }

    /// What is in the pipes now (a spawn that failed: our own warnings).
    pub fn flush(&mut self) {
        self.nonblocking();
        self.drain(&mut vec![0u8; CHUNK]);
    }

    /// Our ends only (a pipe's two ends are two open files): a full or
    /// empty pipe never stops the loop.
    fn nonblocking(&self) {
        for s in self.streams.iter().filter(|s| s.ours >= 0) {
            let _ = fd::set_nonblocking(s.ours);
        }
    }

    /// One read (and its write) on stream `i`, which poll found ready.
    fn step(&mut self, i: usize, buf: &mut [u8]) {
        let s = &mut self.streams[i];
        if s.target != 0 {
            match fd::read(s.ours, buf) {
                Err(e) if e == EAGAIN => {}
                Ok(n) if n > 0 => {
                    log(&mut self.log, s.target, Some(&buf[..n]));
                    if write_waiting(s.outer, &buf[..n]).is_err() {
                        end(s);
                    }
                }
                _ => {
                    log(&mut self.log, s.target, None);
                    end(s);
                }
            }
            return;
        }
        if self.input.is_empty() {
            match fd::read(s.outer, buf) {
                Err(e) if e == EAGAIN => return,
                // ^D: the process reads the end of its input.
                Ok(0) | Err(_) => return end(s),
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
            }
        }
        match fd::write(s.ours, &self.input) {
            Ok(n) => {
                self.input.drain(..n);
            }
            Err(e) if e == EAGAIN => {}
            // It closed its stdin: what is typed next stays the terminal's.
            Err(_) => {
                self.input.clear();
                end(s);
            }
        }
    }

    fn drain(&mut self, buf: &mut [u8]) {
        let mut left = DRAIN_LIMIT;
        for s in self.streams.iter_mut().filter(|s| s.target != 0 && s.ours >= 0) {
            while left > 0 {
                match fd::read(s.ours, &mut buf[..CHUNK.min(left)]) {
                    Ok(n) if n > 0 => {
                        left -= n;
                        log(&mut self.log, s.target, Some(&buf[..n]));
                        if write_waiting(s.outer, &buf[..n]).is_err() {
                            break;
                        }
                    }
                    _ => break,
                }
            }
            log(&mut self.log, s.target, None);
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        for s in self.streams.iter_mut() {
            end(s);
            fd::close(s.outer);
        }
    }
}

/// Output of fd `target` (1 or 2) to the log, if there is one; None: its end
/// (a character cut by the last read goes out as it is). A log that cannot
/// be written loses entries, never the output itself.
fn log(log: &mut Option<LogFile>, target: c_int, data: Option<&[u8]>) {
    if let Some(l) = log.as_mut() {
        let stream = if target == 2 { logfile::Stream::Stderr } else { logfile::Stream::Stdout };
        let _ = match data {
            Some(d) => l.write(stream, d, SystemTime::now()),
            None => l.flush_stream(stream, SystemTime::now()),
        };
    }
}

fn end(s: &mut Stream) {
    if s.ours >= 0 {
        fd::close(s.ours);
        s.ours = -1;
    }
}

/// A write that waits when the terminal is non-blocking (Node leaves its
/// terminals so; the mode belongs to the open file, which we share).
fn write_waiting(fd_: c_int, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match fd::write(fd_, data) {
            Ok(n) => data = &data[n..],
            Err(e) if e == EAGAIN => {
                let mut fds = [PollFd { fd: fd_, events: POLLOUT, revents: 0 }];
                fd::poll(&mut fds, -1)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
