//! A process's stdio in the guest, built from the channels the host picked
//! (a container's at `create`, an exec'd process's at `exec`): one pipe per
//! channel, or one pty whose slave is all three. The supervisor gets the
//! child's ends; the agent keeps the others as streams in its poll loop.

use crate::agent::STREAM_WINDOW;
use crate::supervisor::Stdio;
use crate::sys;
use container::spec::ConsoleSize;
use container::sys::{fd, ffi, tty, Errno};
use std::collections::VecDeque;
use std::os::raw::c_int;

/// Process output the agent forwards (guest → host) within the host's credit.
pub struct OutStream {
    pub fd: c_int,
    pub chan: u32,
    pub credit: u64,
    /// EOF seen and sent to the host.
    pub done: bool,
    /// A UDP socket: one DATA frame per datagram, read only with room for the largest.
    pub datagram: bool,
    /// Output nobody reads (a terminal without a host channel: `exec -dt`): read and dropped, or the process
    /// blocks once the terminal's buffer is full. No channel, no credit.
    pub discard: bool,
}

/// Host input the agent writes into the process as its pipe accepts it.
pub struct InStream {
    pub fd: c_int,
    pub chan: u32,
    pub pending: VecDeque<u8>,
    pub eof: bool,
    pub closed: bool,
    /// Bytes the host may still send without more credit.
    pub allowance: u64,
    /// A socket (a published port's connection): EOF shuts our sending side
    /// down instead of closing the fd, which the output side still reads.
    pub socket: bool,
    /// A UDP socket: each DATA frame is sent as one datagram at once (one
    /// the socket cannot take is dropped, as UDP does), never queued.
    pub datagram: bool,
    /// A pty master: an interrupt character drops the input queued before it (`on_stdin_data`).
    pub terminal: bool,
}

impl OutStream {
    pub fn new(fd: c_int, chan: u32) -> OutStream {
        OutStream {
            fd,
            chan,
            credit: STREAM_WINDOW,
            done: false,
            datagram: false,
            discard: false,
        }
    }

    pub fn discarding(fd: c_int) -> OutStream {
        OutStream {
            fd,
            chan: u32::MAX,
            credit: u64::MAX,
            done: false,
            datagram: false,
            discard: true,
        }
    }

    /// Our end closes before the process's output ended (its reader is gone):
    /// nothing more is read or sent, and the fd is not closed a second time.
    pub fn close(&mut self) {
        if self.fd >= 0 {
            fd::close(self.fd);
            self.fd = -1;
        }
        self.done = true;
    }
}

impl InStream {
    pub fn new(fd: c_int, chan: u32) -> InStream {
        InStream {
            fd,
            chan,
            pending: VecDeque::new(),
            eof: false,
            closed: false,
            allowance: STREAM_WINDOW,
            socket: false,
            datagram: false,
            terminal: false,
        }
    }

    /// No more input: the pipe is closed, a socket's sending side shut down.
    pub fn close(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        if self.socket {
            let _ = container::sys::socket::shutdown_write(self.fd);
        } else {
            fd::close(self.fd);
        }
    }
}

/// Channel numbers the host picked; None: that stream is /dev/null.
#[derive(Clone, Copy)]
pub struct Channels {
    pub stdin: Option<u32>,
    pub stdout: Option<u32>,
    pub stderr: Option<u32>,
}

/// The agent's side of a process's stdio.
pub struct Streams {
    pub stdin: Option<InStream>,
    pub stdout: Option<OutStream>,
    pub stderr: Option<OutStream>,
    /// With a terminal: for resizing. It is also stdout's fd when there is one.
    pub pty_master: Option<c_int>,
}

impl Streams {
    pub fn channels(&self) -> impl Iterator<Item = u32> + '_ {
        let input = self.stdin.as_ref().map(|s| s.chan);
        let output = [&self.stdout, &self.stderr]
            .into_iter()
            .flatten()
            .filter(|s| !s.discard)
            .map(|s| s.chan);
        input.into_iter().chain(output)
    }

    pub fn close(self) {
        let master_is_stdout = self.stdout.is_some();
        for mut s in [self.stdout, self.stderr].into_iter().flatten() {
            s.close();
        }
        if let Some(s) = self.stdin {
            if !s.closed {
                fd::close(s.fd);
            }
        }
        if let (Some(m), false) = (self.pty_master, master_is_stdout) {
            fd::close(m);
        }
    }
}

/// Both sides, between `open` and the supervisor's fork.
pub struct ProcessStdio {
    /// The supervisor's fds 0-2 (-1: /dev/null).
    pub child: Stdio,
    pub streams: Streams,
    child_fds: Vec<c_int>,
}

impl ProcessStdio {
    pub fn open(
        chans: Channels,
        terminal: bool,
        size: Option<ConsoleSize>,
        pty_root: Option<&std::path::Path>,
    ) -> Result<ProcessStdio, Errno> {
        let mut io = ProcessStdio {
            child: Stdio {
                stdin: -1,
                stdout: -1,
                stderr: -1,
            },
            streams: Streams {
                stdin: None,
                stdout: None,
                stderr: None,
                pty_master: None,
            },
            child_fds: Vec::new(),
        };
        let built = if terminal {
            io.open_pty(chans, size, pty_root)
        } else {
            io.open_pipes(chans)
        };
        match built {
            Ok(()) => Ok(io),
            Err(e) => {
                io.close_all();
                Err(e)
            }
        }
    }

    /// The slave is all three of the process's stdio and becomes its
    /// controlling terminal; the master carries both directions here.
    fn open_pty(&mut self, chans: Channels, size: Option<ConsoleSize>, root: Option<&std::path::Path>) -> Result<(), Errno> {
        let (master, slave) = sys::open_pty(root)?;
        self.streams.pty_master = Some(master);
        self.child_fds.push(slave);
        self.child = Stdio {
            stdin: slave,
            stdout: slave,
            stderr: slave,
        };
        if let Some(size) = size {
            let _ = tty::set_winsize(master, size.height, size.width);
        }
        sys::set_nonblocking(master)?;
        if let Some(ch) = chans.stdin {
            let mut input = InStream::new(dup_cloexec(master)?, ch);
            input.terminal = true;
            self.streams.stdin = Some(input);
        }
        // Without a host reader the master is read here all the same: the slave neither hangs up nor blocks.
        self.streams.stdout = Some(match chans.stdout {
            Some(ch) => OutStream::new(master, ch),
            None => OutStream::discarding(master),
        });
        Ok(())
    }

    fn open_pipes(&mut self, chans: Channels) -> Result<(), Errno> {
        if let Some(ch) = chans.stdin {
            let (r, w) = fd::pipe()?;
            self.child_fds.push(r);
            self.streams.stdin = Some(InStream::new(w, ch));
            sys::set_nonblocking(w)?;
            self.child.stdin = r;
        }
        for (k, ch) in [chans.stdout, chans.stderr].iter().enumerate() {
            if let Some(ch) = ch {
                let (r, w) = fd::pipe()?;
                self.child_fds.push(w);
                let out = Some(OutStream::new(r, *ch));
                if k == 0 {
                    self.child.stdout = w;
                    self.streams.stdout = out;
                } else {
                    self.child.stderr = w;
                    self.streams.stderr = out;
                }
                sys::set_nonblocking(r)?;
            }
        }
        Ok(())
    }

    /// Once the supervisor has its copies: ours would keep its pipes from
    /// ever reaching EOF.
    pub fn into_streams(self) -> Streams {
        self.child_fds.iter().for_each(|&f| fd::close(f));
        self.streams
    }

    /// The process could not be started.
    pub fn close_all(self) {
        self.into_streams().close();
    }
}

fn dup_cloexec(fd_in: c_int) -> Result<c_int, Errno> {
    const F_DUPFD_CLOEXEC: c_int = 1030;
    Errno::check(unsafe { ffi::fcntl(fd_in, F_DUPFD_CLOEXEC, 3 as c_int) })
}
