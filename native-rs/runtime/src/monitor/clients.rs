//! Connections to the monitor's socket (`<bundle>/attach.sock`), the wire
//! side only; what a request does is the monitor's business (mod.rs). The
//! client side is src/containers/monitor-client.ts.
//!
//! A connection starts with one JSON request line. Every op but `attach`
//! gets one JSON reply line and is closed. `attach` gets a reply line, then
//! frames in both directions with docker's stdcopy header: stream byte, three
//! zero bytes, payload length (u32, big-endian). Streams: 0 stdin (client to
//! monitor), 1 stdout, 2 stderr (monitor to client), 3 control: JSON both
//! ways (`{"resize":{"cols":C,"rows":R}}`, `{"closeStdin":true}` from the
//! client; `{"exited":{…}}` to it, after which the monitor closes).

use container::json::{self, Json};
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::raw::c_int;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

pub const STDIN: u8 = 0;
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
pub const CONTROL: u8 = 3;

/// A request line or a frame larger than this ends the connection.
const MAX_MESSAGE: usize = 1 << 20;
/// Over this much unsent output, the monitor stops reading the container
/// (its writes block, as with a slow `docker attach`) until the client catches up.
pub const HIGH_WATER: usize = 256 * 1024;
/// How long an answered client may keep its end open before the monitor closes it.
pub const LINGER: Duration = Duration::from_secs(2);

pub enum Mode {
    /// Waiting for the request line.
    Request,
    /// Attached: frames both ways.
    Attached(Attach),
    /// Answer pending (`wait`, `stop`): the reply comes at the run's end.
    Waiting,
    /// Answered: shut for writing once the output is flushed.
    Closing,
    /// Answered, flushed and shut for writing: what the client still sends is
    /// read and dropped until it closes (or `LINGER` passes). Closing at once
    /// would fail the client's late writes (stdin typed as the container
    /// ended) with EPIPE, and a client that drops its socket on a write error
    /// (Node does) would lose the output and the end it had not yet read.
    Lingering(Instant),
}

#[derive(Clone, Copy)]
pub struct Attach {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// The client's end of input closes the container's stdin (`docker run -i`).
    pub stdin_once: bool,
}

pub enum Event {
    Request(Json),
    Stdin(Vec<u8>),
    CloseStdin,
    Resize(u16, u16),
}

pub struct Client {
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    pub mode: Mode,
    pub closed: bool,
    /// The client sent EOF: it may still wait for its answer (a half-close).
    pub input_ended: bool,
}

impl Client {
    pub fn new(stream: UnixStream) -> io::Result<Client> {
        stream.set_nonblocking(true)?;
        Ok(Client {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            mode: Mode::Request,
            closed: false,
            input_ended: false,
        })
    }

    pub fn fd(&self) -> c_int {
        self.stream.as_raw_fd()
    }

    pub fn wants_write(&self) -> bool {
        !self.output.is_empty()
    }

    pub fn backlog(&self) -> usize {
        self.output.len()
    }

    /// Reads what is there and turns it into events.
    pub fn read(&mut self) -> Vec<Event> {
        let mut buf = [0u8; 16384];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.input_ended = true;
                    break;
                }
                Ok(n) => self.input.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closed = true;
                    break;
                }
            }
            if self.input.len() > MAX_MESSAGE + 8 {
                break;
            }
        }
        if let Mode::Lingering(_) = self.mode {
            self.input.clear();
            if self.input_ended {
                self.closed = true;
            }
            return Vec::new();
        }
        let events = self.parse();
        if self.input.len() > MAX_MESSAGE + 8 {
            self.closed = true;
        }
        // An ended input ends an attachment (the client detached) or a
        // connection that never asked anything; a question keeps its answer.
        if self.input_ended && !matches!(self.mode, Mode::Waiting | Mode::Closing) {
            self.closed = true;
        }
        events
    }

    fn parse(&mut self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            match self.mode {
                Mode::Request => {
                    let nl = match self.input.iter().position(|b| *b == b'\n') {
                        Some(nl) => nl,
                        None => break,
                    };
                    let line: Vec<u8> = self.input.drain(..=nl).collect();
                    let request = std::str::from_utf8(&line).ok().and_then(|t| json::parse(t.trim()).ok());
                    match request {
                        Some(r) if r.is_object() => {
                            // Until the monitor says otherwise, nothing more is read as a request.
                            self.mode = Mode::Waiting;
                            events.push(Event::Request(r));
                        }
                        _ => {
                            self.reply(Json::object(vec![
                                ("ok", Json::from(false)),
                                ("error", Json::from("malformed request")),
                            ]));
                        }
                    }
                }
                Mode::Attached(_) => {
                    if self.input.len() < 8 {
                        break;
                    }
                    let len = u32::from_be_bytes([self.input[4], self.input[5], self.input[6], self.input[7]]) as usize;
                    if len > MAX_MESSAGE {
                        self.closed = true;
                        break;
                    }
                    if self.input.len() < 8 + len {
                        break;
                    }
                    let stream = self.input[0];
                    let payload: Vec<u8> = self.input.drain(..8 + len).skip(8).collect();
                    match stream {
                        STDIN => events.push(Event::Stdin(payload)),
                        CONTROL => events.extend(control(&payload)),
                        _ => {}
                    }
                }
                Mode::Waiting | Mode::Closing | Mode::Lingering(_) => break,
            }
        }
        events
    }

    /// One JSON line; the connection closes once it is sent.
    pub fn reply(&mut self, body: Json) {
        self.output.extend_from_slice(format!("{}\n", body).as_bytes());
        self.mode = Mode::Closing;
    }

    /// The reply line that opens an attach stream.
    pub fn start_attach(&mut self, attach: Attach, body: Json) {
        self.output.extend_from_slice(format!("{}\n", body).as_bytes());
        self.mode = Mode::Attached(attach);
        // Frames may have arrived right behind the request line.
    }

    pub fn frame(&mut self, stream: u8, payload: &[u8]) {
        let len = payload.len() as u32;
        self.output.extend_from_slice(&[stream, 0, 0, 0]);
        self.output.extend_from_slice(&len.to_be_bytes());
        self.output.extend_from_slice(payload);
    }

    /// Frames already received behind the attach request.
    pub fn pending_events(&mut self) -> Vec<Event> {
        self.parse()
    }

    /// Sends what the socket takes now. Returns false once the connection is done.
    pub fn flush(&mut self) -> bool {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(0) => {
                    self.closed = true;
                    break;
                }
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.closed = true;
                    break;
                }
            }
        }
        if self.output.is_empty() && matches!(self.mode, Mode::Closing) {
            self.linger();
        }
        !self.closed
    }

    /// Everything is said: the client reads our end of stream and closes its side.
    fn linger(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
        self.mode = Mode::Lingering(Instant::now() + LINGER);
        // A client that already ended its input has nothing more to send.
        self.closed = self.closed || self.input_ended;
    }

    /// When a lingering client is closed regardless.
    pub fn linger_deadline(&self) -> Option<Instant> {
        match self.mode {
            Mode::Lingering(until) => Some(until),
            _ => None,
        }
    }

    /// Last chance before the monitor exits: whatever is queued, blocking
    /// until `deadline`, then the client's close awaited (see `Lingering`).
    pub fn finish_blocking(&mut self, deadline: Instant) {
        let left = || Some(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)));
        let _ = self.stream.set_nonblocking(false);
        let _ = self.stream.set_write_timeout(left());
        let _ = self.stream.write_all(&self.output);
        self.output.clear();
        let _ = self.stream.shutdown(Shutdown::Write);
        let mut buf = [0u8; 16384];
        while !self.input_ended && Instant::now() < deadline {
            let _ = self.stream.set_read_timeout(left());
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

fn control(payload: &[u8]) -> Option<Event> {
    let v = json::parse(std::str::from_utf8(payload).ok()?).ok()?;
    if v.get("closeStdin").and_then(Json::as_bool) == Some(true) {
        return Some(Event::CloseStdin);
    }
    let size = v.get("resize")?;
    let dim = |k: &str| size.get(k).and_then(Json::as_number).and_then(|n| n.as_u64()).and_then(|n| u16::try_from(n).ok());
    Some(Event::Resize(dim("cols")?, dim("rows")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered() -> (Client, UnixStream) {
        let (ours, theirs) = UnixStream::pair().unwrap();
        let mut c = Client::new(ours).unwrap();
        c.mode = Mode::Attached(Attach { stdin: true, stdout: true, stderr: true, stdin_once: false });
        c.frame(STDOUT, b"got quit\n");
        c.frame(CONTROL, b"{\"exited\":{}}");
        c.mode = Mode::Closing;
        (c, theirs)
    }

    fn read_to_end(s: &mut UnixStream) -> Vec<u8> {
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all
    }

    #[test]
    fn an_answered_client_can_still_write_and_reads_everything_then_eof() {
        let (mut c, mut theirs) = answered();
        assert!(c.flush());
        assert!(c.linger_deadline().is_some(), "flushed and shut for writing, not closed");
        // Stdin typed as the container ended: accepted (no EPIPE), dropped.
        theirs.write_all(&[0, 0, 0, 0, 0, 0, 0, 4, b'l', b'a', b't', b'e']).unwrap();
        assert!(c.read().is_empty());
        assert!(!c.closed);
        let got = read_to_end(&mut theirs);
        assert_eq!(&got[8..17], b"got quit\n");
        assert!(got.ends_with(b"{\"exited\":{}}"));
        drop(theirs);
        // Another test's fork may hold a copy of `theirs` until its exec closes it: the EOF can come a moment late.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !c.closed && std::time::Instant::now() < deadline {
            c.read();
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(c.closed, "the client's close ends the lingering");
    }

    #[test]
    fn a_client_that_already_ended_its_input_is_closed_once_flushed() {
        let (mut c, theirs) = answered();
        theirs.shutdown(Shutdown::Write).unwrap();
        c.read();
        c.flush();
        assert!(c.closed);
    }

    #[test]
    fn finish_blocking_waits_for_the_clients_close_and_no_longer() {
        let (mut c, mut theirs) = answered();
        let peer = std::thread::spawn(move || {
            theirs.write_all(b"late").unwrap();
            read_to_end(&mut theirs)
        });
        let start = Instant::now();
        c.finish_blocking(Instant::now() + Duration::from_secs(5));
        let got = peer.join().unwrap();
        assert!(got.ends_with(b"{\"exited\":{}}"));
        assert!(start.elapsed() < Duration::from_secs(5), "returned at the client's close, not the deadline");

        // A client that never closes is given up at the deadline.
        let (mut c, _theirs) = answered();
        let start = Instant::now();
        c.finish_blocking(Instant::now() + Duration::from_millis(100));
        assert!(start.elapsed() >= Duration::from_millis(100));
    }
}
