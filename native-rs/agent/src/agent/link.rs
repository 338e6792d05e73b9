//! The host link (`/dev/hvc1`): encoded frames out as the console takes them,
//! frames in through the decoder. Flow control at both levels:
//! * the link: v86 drops console input the guest has no buffer for, so the
//!   host keeps at most `LINK_WINDOW` events in flight and learns from CREDIT
//!   frames on channel 0 how many bytes we consumed;
//! * streams: stdin DATA only within the allowance we granted, CREDIT frames
//!   from the host widen what we may send of a container's output.

use super::{log, Agent};
use crate::frame::{self, Item};
use crate::sys;
use container::json;
use container::sys::fd;

impl Agent {
    pub(crate) fn send(&mut self, kind: u8, chan: u32, payload: &[u8]) {
        self.out.extend(frame::encode(kind, chan, payload));
    }

    pub(crate) fn flush_link(&mut self) {
        while !self.out.is_empty() {
            let (a, b) = self.out.as_slices();
            let chunk = if a.is_empty() { b } else { a };
            let n = chunk.len().min(frame::MAX_OUT_PAYLOAD + frame::HEADER);
            match fd::write(self.link, &chunk[..n]) {
                Ok(w) => {
                    self.out.drain(..w);
                }
                Err(e) if e == sys::EAGAIN => return,
                Err(e) => {
                    log(&format!("writing to the host link: {}", e.description()));
                    return;
                }
            }
        }
    }

    pub(crate) fn read_link(&mut self) {
        let mut buf = [0u8; 16384];
        loop {
            match fd::read(self.link, &mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    let items = self.decoder.push(&buf[..n]);
                    for item in items {
                        match item {
                            Item::Frame(f) => self.on_frame(f),
                            Item::Rejected { channel, reason } => self.reject(channel, &reason),
                        }
                    }
                }
                Err(e) if e == sys::EAGAIN => break,
                Err(e) => {
                    log(&format!("reading the host link: {}", e.description()));
                    return;
                }
            }
        }
        let consumed = self.decoder.consumed - self.reported;
        if consumed > 0 {
            self.reported = self.decoder.consumed;
            self.send(frame::CREDIT, 0, &(consumed as u32).to_le_bytes());
        }
    }

    fn on_frame(&mut self, f: frame::Frame) {
        match f.kind {
            frame::CTRL => {
                let text = String::from_utf8_lossy(&f.payload).into_owned();
                match json::parse(&text) {
                    Ok(req) => self.on_request(&req),
                    Err(e) => self.reject(0, &format!("malformed request: {}", e)),
                }
            }
            frame::DATA => self.on_stdin_data(f.channel, &f.payload),
            frame::EOF => {
                if let Some(id) = self.in_chans.get(&f.channel).cloned() {
                    let mut ended: Option<u32> = None;
                    if let Some(io) = self.streams_mut(&id) {
                        if let Some(s) = io.stdin.as_mut() {
                            s.eof = true;
                            // A datagram peer has no half-close: the host's EOF (idle expiry) ends both directions.
                            if s.datagram {
                                s.closed = true;
                                if let Some(o) = io.stdout.as_mut().filter(|o| !o.done) {
                                    o.done = true;
                                    ended = Some(o.chan);
                                }
                            }
                        }
                    }
                    if let Some(chan) = ended {
                        self.send(frame::EOF, chan, &[]);
                    }
                } else if self.out_chans.contains_key(&f.channel) {
                    self.output_reader_gone(f.channel);
                }
            }
            frame::CREDIT => self.on_credit(f.channel, &f.payload),
            frame::ERROR => log(&format!(
                "host rejected a frame: {}",
                String::from_utf8_lossy(&f.payload)
            )),
            _ => {}
        }
    }

    /// Host input for a stdin channel, within the allowance we granted.
    fn on_stdin_data(&mut self, chan: u32, payload: &[u8]) {
        let id = match self.in_chans.get(&chan) {
            Some(id) => id.clone(),
            None => {
                return self.reject(chan, "data for a channel that is not a container's stdin")
            }
        };
        let mut over = false;
        let mut sent: Option<u32> = None;
        let mut granted: Option<(u32, u32)> = None;
        if let Some(s) = self.streams_mut(&id).and_then(|io| io.stdin.as_mut()) {
            if s.eof || (payload.len() as u64) > s.allowance {
                over = true;
            } else if s.datagram {
                // Sent (or dropped) now, so the credit goes straight back.
                if !s.closed {
                    let _ = container::sys::socket::send(s.fd, payload);
                }
                sent = Some(s.chan);
            } else {
                s.allowance -= payload.len() as u64;
                let mut input = payload;
                let flush = if s.terminal && !s.closed {
                    container::sys::tty::input_flush_point(s.fd, payload)
                } else {
                    None
                };
                if let Some(at) = flush {
                    // A terminal's ^C (or ^\, ^Z) flushes the input before it (termios(3)), as the kernel
                    // would have done had it been fed all at once: what waits here and in the kernel's
                    // buffer is dropped, so the character acts now instead of after a paste, and the
                    // dropped bytes' credit goes back as if written.
                    let dropped = s.pending.len() + at;
                    s.pending.clear();
                    let _ = container::sys::tty::drop_unread_input(s.fd);
                    input = &payload[at..];
                    s.allowance += dropped as u64;
                    if dropped > 0 {
                        granted = Some((s.chan, dropped as u32));
                    }
                }
                if !s.closed {
                    s.pending.extend(input.iter());
                }
            }
        }
        if let Some(chan) = sent {
            self.send(frame::CREDIT, chan, &(payload.len() as u32).to_le_bytes());
        }
        if let Some((chan, n)) = granted {
            self.send(frame::CREDIT, chan, &n.to_le_bytes());
        }
        if over {
            self.reject(
                chan,
                "stdin data beyond the granted credit or after EOF: dropped",
            );
        }
    }

    /// The host consumed output of a stdout/stderr channel: we may send more.
    fn on_credit(&mut self, chan: u32, payload: &[u8]) {
        if payload.len() != 4 {
            return self.reject(chan, "credit frame needs a 4-byte payload");
        }
        let n = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]) as u64;
        if let Some(id) = self.out_chans.get(&chan).cloned() {
            if let Some(io) = self.streams_mut(&id) {
                for s in [io.stdout.as_mut(), io.stderr.as_mut()]
                    .into_iter()
                    .flatten()
                {
                    if s.chan == chan {
                        s.credit += n;
                    }
                }
            }
        }
    }
}
