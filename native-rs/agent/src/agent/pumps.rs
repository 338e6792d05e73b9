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
