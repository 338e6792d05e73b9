//! The stdio pumps: a container's output to the link (at most the credit the
//! host granted, one frame per read), and host input into its stdin as the
//! pipe takes it, granting the host that many bytes more.

use super::Agent;
use crate::frame;
use crate::sys;
use container::sys::fd;

impl Agent {
    pub(crate) fn read_output(&mut self, cid: &str, which: u8) {
        let mut frames: Vec<(u8, u32, Vec<u8>)> = Vec::new();
        if let Some(io) = self.streams_mut(cid) {
            let mut s = if which == 1 {
                io.stdout.as_mut()
            } else {
                io.stderr.as_mut()
            };
            let datagram = s.as_ref().map_or(false, |s| s.datagram);
            if let (true, Some(s)) = (datagram, s.as_mut()) {
                // One datagram, one frame; a longer one than a frame carries is dropped
                // (its length is seen by reading one byte more), an error (ICMP's refusal) ignored.
                let mut buf = vec![0u8; frame::MAX_OUT_PAYLOAD + 1];
                if let Ok(n) = container::sys::socket::recv(s.fd, &mut buf) {
                    if n <= frame::MAX_OUT_PAYLOAD {
                        s.credit -= n as u64;
                        buf.truncate(n);
                        frames.push((frame::DATA, s.chan, buf));
                    }
                }
            } else if let (true, Some(s)) = (s.as_ref().map_or(false, |s| s.discard), s.as_mut()) {
                let mut buf = [0u8; 16384];
                match fd::read(s.fd, &mut buf) {
                    Ok(n) if n > 0 => {}
                    Err(e) if e == sys::EAGAIN => {}
                    // EOF, or EIO: the terminal's slaves are all closed.
                    _ => s.done = true,
                }
            } else if let Some(s) = s {
                let max = (s.credit as usize).min(frame::MAX_OUT_PAYLOAD);
                let mut buf = vec![0u8; max];
                match fd::read(s.fd, &mut buf) {
                    Ok(0) => {
                        s.done = true;
                        frames.push((frame::EOF, s.chan, Vec::new()));
                    }
                    Ok(n) => {
                        s.credit -= n as u64;
                        buf.truncate(n);
                        frames.push((frame::DATA, s.chan, buf));
                    }
                    Err(e) if e == sys::EAGAIN => {}
                    // EIO: a pty master whose slaves are all closed.
                    Err(_) => {
                        s.done = true;
                        frames.push((frame::EOF, s.chan, Vec::new()));
                    }
                }
            }
        }
        for (k, ch, data) in frames {
            self.send(k, ch, &data);
        }
    }

    /// The host's reader of an output channel is gone (`run … | head`, a destroyed
    /// stream): our end of the process's pipe closes, so its next write meets EPIPE
    /// (and SIGPIPE) as it would on the host's own pipe — the way a PID 1 that ignores
    /// signals still ends — and the host's channel ends with our EOF. A connection's
    /// socket (one fd both ways) ends by its own EOFs instead.
    pub(crate) fn output_reader_gone(&mut self, chan: u32) {
        let io = match self.out_chans.get(&chan).and_then(|id| self.ctrs.get_mut(id)) {
            Some(c) => &mut c.io,
            None => return,
        };
        let mut closed = None;
        for s in [io.stdout.as_mut(), io.stderr.as_mut()].into_iter().flatten() {
            if s.chan == chan && !s.done {
                closed = Some(s.fd);
                s.close();
            }
        }
        if let Some(fd) = closed {
            // A terminal's master is its stdout: no resize after it closed.
            if io.pty_master == Some(fd) {
                io.pty_master = None;
            }
            self.send(frame::EOF, chan, &[]);
        }
    }

    pub(crate) fn write_input(&mut self, cid: &str) {
        let mut grant: Option<(u32, u32)> = None;
        if let Some(s) = self.streams_mut(cid).and_then(|io| io.stdin.as_mut()) {
            let mut written = 0usize;
            while !s.pending.is_empty() {
                let (a, _) = s.pending.as_slices();
                match fd::write(s.fd, a) {
                    Ok(n) => {
                        s.pending.drain(..n);
                        written += n;
                    }
                    Err(e) if e == sys::EAGAIN => break,
                    Err(_) => {
                        // The process closed its stdin: drop what it will never read.
                        s.pending.clear();
                        s.close();
                        break;
                    }
                }
            }
            if s.pending.is_empty() && s.eof && !s.closed {
                s.close();
            }
            if written > 0 {
                s.allowance += written as u64;
                grant = Some((s.chan, written as u32));
            }
        }
        if let Some((ch, n)) = grant {
            self.send(frame::CREDIT, ch, &n.to_le_bytes());
        }
    }
}
