//! The agent's event loop: one poll(2) over the host link, every
//! container's stdio and status pipes, and a SIGCHLD self-pipe.
//!
//! Requests (CTRL frames, JSON) are answered with `{"id":N,"ok":true,…}` or
//! `{"id":N,"ok":false,"error":{"kind","message","exitCode"}}`. Streams are
//! DATA/EOF frames on channels the host picked at `create`; both directions
//! are credit-based: the agent sends container output on a channel only
//! within the bytes the host granted (CREDIT frames, initial window
//! `STREAM_WINDOW`), and grants the host stdin bytes as the container's pipe
//! takes them. The link itself: the host keeps at most `LINK_WINDOW` console
//! events in flight and learns what was consumed from CREDIT frames on
//! channel 0 (v86 drops input the guest has no buffer for).

use crate::cgroup;
use crate::frame::{self, Decoder, Item};
use crate::stdio::{Channels, ProcessStdio, Streams};
use crate::supervisor::{self, Job};
use crate::sys;
use container::json::{self, Json};
use container::spec::Process;
use container::sys::consts::{POLLHUP, SIGCHLD, SIGKILL};
use container::sys::types::{PollFd, SigInfoHead};
use container::sys::{fd, ffi, mount, process, signal, tty, Errno};
use container::Spec;
use std::collections::{HashMap, VecDeque};
use std::os::raw::{c_int, c_void};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

pub const VERSION: &str = "tsbox-agent 0.1.0";
/// Console events the host may have in flight (the rx virtqueue has 16 buffers).
pub const LINK_WINDOW: u32 = 8;
/// Initial credit of every stream, in bytes, both directions.
pub const STREAM_WINDOW: u64 = 64 * 1024;
/// Stop reading container output while this much is queued for the link.
const LINK_OUT_HIGH: usize = 128 * 1024;

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;
const POLLERR: i16 = 0x8;

static SIGCHLD_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigchld(_sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let w = SIGCHLD_W.load(Ordering::SeqCst);
        if w >= 0 {
            let b = [1u8];
            unsafe { ffi::write(w, b.as_ptr() as *const c_void, 1) };
        }
    });
}

/// A supervised process: a container's init, or a process exec'd into one.
struct Ctr {
    supervisor: i32,
    pid: Option<i32>,
    gate_w: Option<c_int>,
    status_r: Option<c_int>,
    status_buf: Vec<u8>,
    io: Streams,
    start_req: Option<u64>,
    wait_reqs: Vec<u64>,
    error: Option<Json>,
    exited: Option<(i32, Option<String>)>,
    supervisor_status: Option<c_int>,
    /// The container's own (exec'd processes only join it).
    cgroup: Option<PathBuf>,
    /// The container's tmpfs; None for an exec'd process.
    dir: Option<PathBuf>,
    /// For an exec'd process: the container it runs in.
    parent: Option<String>,
    deleted: bool,
}

impl Ctr {
    fn new(supervisor: i32, status_r: c_int, io: Streams) -> Ctr {
        Ctr {
            supervisor,
            pid: None,
            gate_w: None,
            status_r: Some(status_r),
            status_buf: Vec::new(),
            io,
            start_req: None,
            wait_reqs: Vec::new(),
            error: None,
            exited: None,
            supervisor_status: None,
            cgroup: None,
            dir: None,
            parent: None,
            deleted: false,
        }
    }

    fn finished(&self) -> bool {
        self.supervisor_status.is_some()
            && self.status_r.is_none()
            && self.io.stdout.as_ref().map_or(true, |s| s.done)
            && self.io.stderr.as_ref().map_or(true, |s| s.done)
    }

    fn running(&self) -> bool {
        self.pid.is_some() && self.exited.is_none() && self.supervisor_status.is_none()
    }
}

#[derive(Clone, Copy)]
enum Target {
    Link,
    Sigchld,
    Status(usize),
    Out(usize, u8),
    In(usize),
}

pub struct Agent {
    link: c_int,
    decoder: Decoder,
    out: VecDeque<u8>,
    reported: u64,
    sigchld_r: c_int,
    ctrs: HashMap<String, Ctr>,
    /// stdin channel -> container id
    in_chans: HashMap<u32, String>,
    /// stdout/stderr channel -> container id
    out_chans: HashMap<u32, String>,
}

fn err_json(kind: &str, message: &str, exit_code: i32) -> Json {
    Json::object(vec![
        ("kind", Json::from(kind)),
        ("message", Json::from(message)),
        ("exitCode", Json::from(exit_code)),
    ])
}

fn log(msg: &str) {
    eprintln!("tsbox-agent: {}", msg);
}

impl Agent {
    pub fn new(link: c_int) -> Result<Agent, Errno> {
        let (r, w) = fd::pipe()?;
        sys::set_nonblocking(r)?;
        sys::set_nonblocking(w)?;
        SIGCHLD_W.store(w, Ordering::SeqCst);
        signal::install(SIGCHLD, on_sigchld)?;
        sys::set_nonblocking(link)?;
        Ok(Agent {
            link,
            decoder: Decoder::new(frame::MAX_IN_PAYLOAD),
            out: VecDeque::new(),
            reported: 0,
            sigchld_r: r,
            ctrs: HashMap::new(),
            in_chans: HashMap::new(),
            out_chans: HashMap::new(),
        })
    }

    fn send(&mut self, kind: u8, chan: u32, payload: &[u8]) {
        self.out.extend(frame::encode(kind, chan, payload));
    }

    fn send_json(&mut self, value: Json) {
        let text = value.to_string();
        self.send(frame::CTRL, 0, text.as_bytes());
    }

    fn reply_ok(&mut self, id: u64, mut fields: Vec<(&str, Json)>) {
        let mut all = vec![("id", Json::from(id)), ("ok", Json::from(true))];
        all.append(&mut fields);
        self.send_json(Json::object(all));
    }

    fn reply_err(&mut self, id: u64, error: Json) {
        self.send_json(Json::object(vec![
            ("id", Json::from(id)),
            ("ok", Json::from(false)),
            ("error", error),
        ]));
    }

    fn reject(&mut self, chan: u32, reason: &str) {
        let body = Json::object(vec![
            ("channel", Json::from(chan)),
            ("message", Json::from(reason)),
        ])
        .to_string();
        self.send(frame::ERROR, chan, body.as_bytes());
    }

    /// Tells the host it is there; then serves forever.
    pub fn run(&mut self) -> ! {
        self.send_json(Json::object(vec![
            ("event", Json::from("ready")),
            ("version", Json::from(VERSION)),
            ("window", Json::from(LINK_WINDOW)),
        ]));
        loop {
            self.flush_link();
            self.poll_once();
        }
    }

    fn flush_link(&mut self) {
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

    fn poll_once(&mut self) {
        let mut fds: Vec<PollFd> = Vec::new();
        let mut targets: Vec<Target> = Vec::new();
        let mut add = |fds: &mut Vec<PollFd>, fd: c_int, events: i16, t: Target| {
            fds.push(PollFd {
                fd,
                events,
                revents: 0,
            });
            targets.push(t);
        };
        add(
            &mut fds,
            self.link,
            if self.out.is_empty() {
                POLLIN
            } else {
                POLLIN | POLLOUT
            },
            Target::Link,
        );
        add(&mut fds, self.sigchld_r, POLLIN, Target::Sigchld);
        let ids: Vec<String> = self.ctrs.keys().cloned().collect();
        let link_busy = self.out.len() > LINK_OUT_HIGH;
        for (i, id) in ids.iter().enumerate() {
            let c = &self.ctrs[id];
            if let Some(s) = c.status_r {
                add(&mut fds, s, POLLIN, Target::Status(i));
            }
            for (k, s) in [(1u8, &c.io.stdout), (2u8, &c.io.stderr)] {
                if let Some(s) = s {
                    if !s.done && s.credit > 0 && !link_busy {
                        add(&mut fds, s.fd, POLLIN, Target::Out(i, k));
                    }
                }
            }
            if let Some(s) = &c.io.stdin {
                if !s.closed && (!s.pending.is_empty() || s.eof) {
                    add(&mut fds, s.fd, POLLOUT, Target::In(i));
                }
            }
        }
        let n = unsafe { ffi::poll(fds.as_mut_ptr(), fds.len() as _, -1) };
        if n <= 0 {
            return;
        }
        for (p, t) in fds.iter().zip(targets.iter()) {
            if p.revents == 0 {
                continue;
            }
            match *t {
                Target::Link => {
                    if p.revents & POLLIN != 0 {
                        self.read_link();
                    }
                }
                Target::Sigchld => self.reap(),
                Target::Status(i) => self.read_status(&ids[i]),
                Target::Out(i, k) => self.read_output(&ids[i], k),
                Target::In(i) => self.write_input(&ids[i]),
            }
        }
        // Finished containers answer their waits once everything is drained.
        for id in ids {
            self.maybe_finish(&id);
        }
    }

    fn read_link(&mut self) {
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
            frame::DATA => {
                let id = match self.in_chans.get(&f.channel) {
                    Some(id) => id.clone(),
                    None => {
                        return self.reject(
                            f.channel,
                            "data for a channel that is not a container's stdin",
                        )
                    }
                };
                let mut over = false;
                if let Some(s) = self.ctrs.get_mut(&id).and_then(|c| c.io.stdin.as_mut()) {
                    if s.eof || (f.payload.len() as u64) > s.allowance {
                        over = true;
                    } else {
                        s.allowance -= f.payload.len() as u64;
                        if !s.closed {
                            s.pending.extend(f.payload.iter());
                        }
                    }
                }
                if over {
                    self.reject(
                        f.channel,
                        "stdin data beyond the granted credit or after EOF: dropped",
                    );
                }
            }
            frame::EOF => {
                if let Some(id) = self.in_chans.get(&f.channel).cloned() {
                    if let Some(s) = self.ctrs.get_mut(&id).and_then(|c| c.io.stdin.as_mut()) {
                        s.eof = true;
                    }
                }
            }
            frame::CREDIT => {
                if f.payload.len() != 4 {
                    return self.reject(f.channel, "credit frame needs a 4-byte payload");
                }
                let n = u32::from_le_bytes([f.payload[0], f.payload[1], f.payload[2], f.payload[3]])
                    as u64;
                if let Some(id) = self.out_chans.get(&f.channel).cloned() {
                    if let Some(c) = self.ctrs.get_mut(&id) {
                        for s in [c.io.stdout.as_mut(), c.io.stderr.as_mut()]
                            .into_iter()
                            .flatten()
                        {
                            if s.chan == f.channel {
                                s.credit += n;
                            }
                        }
                    }
                }
            }
            frame::ERROR => log(&format!(
                "host rejected a frame: {}",
                String::from_utf8_lossy(&f.payload)
            )),
            _ => {}
        }
    }

    fn on_request(&mut self, req: &Json) {
        let id = req
            .get("id")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u64());
        let id = match id {
            Some(id) => id,
            None => return self.reject(0, "request without a numeric id"),
        };
        let op = req.get("op").and_then(|v| v.as_str()).unwrap_or("");
        let cid = req
            .get("cid")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        let result = match op {
            "hello" => self.op_hello(id, req),
            "create" => self.op_create(id, &cid, req),
            "start" => self.op_start(id, &cid),
            "exec" => self.op_exec(id, &cid, req),
            "signal" => self.op_signal(id, &cid, req),
            "resize" => self.op_resize(id, &cid, req),
            "wait" => self.op_wait(id, &cid),
            "stats" => self.op_stats(id, &cid),
            "delete" => self.op_delete(id, &cid),
            "ping" => {
                self.reply_ok(id, vec![]);
                Ok(())
            }
            _ => Err(err_json("spec", &format!("unknown request {:?}", op), 125)),
        };
        if let Err(e) = result {
            self.reply_err(id, e);
        }
    }

    /// Every (re)connection, after a cold boot or a snapshot restore: the
    /// host's clock and fresh entropy, and a reset of the link accounting.
    fn op_hello(&mut self, id: u64, req: &Json) -> Result<(), Json> {
        if let Some(ms) = req
            .get("time")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_u64())
        {
            if let Err(e) = sys::set_clock_ms(ms) {
                log(&format!("setting the clock: {}", e.description()));
            }
        }
        if let Some(seed) = req.get("seed").and_then(|v| v.as_str()) {
            let bytes: Vec<u8> = (0..seed.len() / 2)
                .filter_map(|i| u8::from_str_radix(&seed[2 * i..2 * i + 2], 16).ok())
                .collect();
            if let Err(e) = sys::add_entropy(&bytes) {
                log(&format!("adding entropy: {}", e.description()));
            }
        }
        // Everything read so far is accounted: the host starts counting anew.
        self.reported = self.decoder.consumed;
        self.reply_ok(
            id,
            vec![
                ("version", Json::from(VERSION)),
                ("window", Json::from(LINK_WINDOW)),
                ("streamWindow", Json::from(STREAM_WINDOW)),
                ("maxFrame", Json::from(frame::MAX_IN_PAYLOAD as u64)),
                ("containers", Json::from(self.ctrs.len() as u64)),
            ],
        );
        Ok(())
    }

    fn op_create(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        self.check_new_id(cid, "create needs a cid")?;
        let spec_json = req
            .get("spec")
            .ok_or_else(|| err_json("spec", "create needs a spec", 125))?;
        let mut spec = Spec::parse(&spec_json.to_string()).map_err(spec_error)?;
        let chans = self.channels(req)?;

        // The container's private tmpfs: root mount point, overlay upper and work.
        let dir = supervisor::container_dir(cid);
        prepare_dir(&dir, &spec).map_err(|m| err_json("setup", &m, 125))?;
        // The image's overlay is mounted here, by the guest's real root, and
        // the container gets it as a plain root directory: overlayfs inside a
        // user namespace refuses 9p lower layers, and the guest itself is the
        // boundary to the host (its upper layer lives in the guest's memory).
        if let Err(m) = mount_overlay_root(&mut spec) {
            cleanup_dir(&dir);
            return Err(err_json("setup", &m, 125));
        }
        let resources = spec_json.get("linux").and_then(|l| l.get("resources"));
        let cg = match cgroup::create(cid, resources) {
            Ok(p) => p,
            Err(m) => {
                cleanup_dir(&dir);
                return Err(err_json("setup", &m, 125));
            }
        };
        let (gate_r, gate_w) = match fd::pipe() {
            Ok(p) => p,
            Err(e) => {
                cgroup::remove(&cg);
                cleanup_dir(&dir);
                return Err(err_json(
                    "setup",
                    &format!("creating a pipe: {}", e.description()),
                    125,
                ));
            }
        };
        let job = Job::Container {
            spec: &spec,
            gate_r,
        };
        let started = self.start_supervisor(
            job,
            chans,
            spec.process.terminal,
            spec.process.console_size,
            Some(&cg),
        );
        fd::close(gate_r);
        let mut c = match started {
            Ok(c) => c,
            Err(e) => {
                fd::close(gate_w);
                cgroup::remove(&cg);
                cleanup_dir(&dir);
                return Err(e);
            }
        };
        c.gate_w = Some(gate_w);
        c.cgroup = Some(cg);
        c.dir = Some(dir);
        self.add(cid, c);
        self.reply_ok(id, vec![]);
        Ok(())
    }

    /// A process in the running container `cid`, under the handle `eid`
    /// (which `wait`, `signal`, `resize`, `stats` and `delete` then take as
    /// their cid). Answers once it runs, like `start`.
    fn op_exec(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let eid = req
            .get("eid")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string();
        self.check_new_id(&eid, "exec needs an eid")?;
        let (pid, cg) = match self.ctrs.get(cid) {
            Some(c) if c.parent.is_none() && c.running() => (c.pid.unwrap_or(0), c.cgroup.clone()),
            Some(c) if c.parent.is_none() => {
                return Err(err_json(
                    "not_running",
                    &format!("container {} is not running", cid),
                    125,
                ))
            }
            _ => return Err(no_such(cid)),
        };
        let process_json = req
            .get("process")
            .ok_or_else(|| err_json("spec", "exec needs a process", 125))?;
        let process = Process::parse(&process_json.to_string()).map_err(spec_error)?;
        let chans = self.channels(req)?;
        let job = Job::Exec {
            pid,
            process: &process,
        };
        let mut c = self.start_supervisor(
            job,
            chans,
            process.terminal,
            process.console_size,
            cg.as_deref(),
        )?;
        c.parent = Some(cid.to_string());
        c.start_req = Some(id);
        self.add(&eid, c);
        Ok(())
    }

    /// A cid or eid: `[A-Za-z0-9_-]{1,64}`, not in use.
    fn check_new_id(&self, id: &str, what: &str) -> Result<(), Json> {
        let valid = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(err_json(
                "spec",
                &format!("{} of [A-Za-z0-9_-]{{1,64}}", what),
                125,
            ));
        }
        if self.ctrs.contains_key(id) {
            return Err(err_json("spec", &format!("container {} exists", id), 125));
        }
        Ok(())
    }

    /// The request's stdio channel numbers; each must be new and not 0.
    fn channels(&self, req: &Json) -> Result<Channels, Json> {
        let chan = |name: &str| {
            req.get(name)
                .and_then(|v| v.as_number())
                .and_then(|n| n.as_u32())
        };
        let chans = Channels {
            stdin: chan("stdin"),
            stdout: chan("stdout"),
            stderr: chan("stderr"),
        };
        for c in [chans.stdin, chans.stdout, chans.stderr].iter().flatten() {
            if *c == 0 || self.in_chans.contains_key(c) || self.out_chans.contains_key(c) {
                return Err(err_json(
                    "spec",
                    &format!("channel {} is 0 or in use", c),
                    125,
                ));
            }
        }
        Ok(chans)
    }

    /// Stdio and a status pipe, then the supervisor's fork.
    fn start_supervisor(
        &mut self,
        job: Job,
        chans: Channels,
        terminal: bool,
        size: Option<container::spec::ConsoleSize>,
        cgroup: Option<&Path>,
    ) -> Result<Ctr, Json> {
        let io = ProcessStdio::open(chans, terminal, size).map_err(|e| {
            err_json(
                "setup",
                &format!("setting up stdio: {}", e.description()),
                125,
            )
        })?;
        let (status_r, status_w) =
            match fd::pipe().and_then(|(r, w)| sys::set_nonblocking(r).map(|()| (r, w))) {
                Ok(p) => p,
                Err(e) => {
                    io.close_all();
                    return Err(err_json(
                        "setup",
                        &format!("creating a pipe: {}", e.description()),
                        125,
                    ));
                }
            };
        let forked = supervisor::fork(job, &io.child, status_w, cgroup);
        fd::close(status_w);
        let streams = io.into_streams();
        match forked {
            Ok(pid) => Ok(Ctr::new(pid, status_r, streams)),
            Err(e) => {
                fd::close(status_r);
                streams.close();
                Err(err_json(e.kind.as_str(), &e.message, e.exit_code()))
            }
        }
    }

    fn add(&mut self, id: &str, c: Ctr) {
        if let Some(s) = &c.io.stdin {
            self.in_chans.insert(s.chan, id.to_string());
        }
        for s in [&c.io.stdout, &c.io.stderr].iter().copied().flatten() {
            self.out_chans.insert(s.chan, id.to_string());
        }
        self.ctrs.insert(id.to_string(), c);
    }

    fn op_start(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let c = self.ctrs.get_mut(cid).ok_or_else(|| no_such(cid))?;
        let gate = c.gate_w.take().ok_or_else(|| {
            err_json(
                "setup",
                &format!("container {} was started already", cid),
                125,
            )
        })?;
        let opened = fd::write_all(gate, b"1");
        fd::close(gate);
        if let Err(e) = opened {
            return Err(err_json(
                "setup",
                &format!("starting the supervisor: {}", e.description()),
                125,
            ));
        }
        c.start_req = Some(id);
        Ok(())
    }

    fn op_signal(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let sig = req
            .get("signal")
            .and_then(|v| v.as_number())
            .and_then(|n| n.as_i64())
            .unwrap_or(15) as c_int;
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        let sent = match c.pid {
            Some(pid) if c.running() => process::kill(pid, sig).is_ok(),
            _ => false,
        };
        self.reply_ok(id, vec![("delivered", Json::from(sent))]);
        Ok(())
    }

    fn op_resize(&mut self, id: u64, cid: &str, req: &Json) -> Result<(), Json> {
        let n = |k: &str| {
            req.get(k)
                .and_then(|v| v.as_number())
                .and_then(|n| n.as_u64())
                .unwrap_or(0)
                .min(u16::MAX as u64) as u16
        };
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        if let Some(m) = c.io.pty_master {
            let _ = tty::set_winsize(m, n("rows"), n("cols"));
        }
        self.reply_ok(id, vec![]);
        Ok(())
    }

    fn op_wait(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let c = self.ctrs.get_mut(cid).ok_or_else(|| no_such(cid))?;
        c.wait_reqs.push(id);
        let cid = cid.to_string();
        self.maybe_finish(&cid);
        Ok(())
    }

    fn op_stats(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        let mem = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let kb = |key: &str| -> Option<u64> {
            mem.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        };
        let guest = Json::object(vec![
            ("memTotalKiB", Json::from(kb("MemTotal:"))),
            ("memAvailableKiB", Json::from(kb("MemAvailable:"))),
            ("containers", Json::from(self.ctrs.len() as u64)),
        ]);
        if cid.is_empty() {
            self.reply_ok(id, vec![("guest", guest)]);
            return Ok(());
        }
        let c = self.ctrs.get(cid).ok_or_else(|| no_such(cid))?;
        let stats = c
            .cgroup
            .as_ref()
            .map(|d| cgroup::stats(d))
            .unwrap_or(Json::Null);
        let pid = Json::from(c.pid);
        self.reply_ok(id, vec![("cgroup", stats), ("pid", pid), ("guest", guest)]);
        Ok(())
    }

    /// Forgets a container (and the processes exec'd into it) or an exec'd
    /// process: kills what is left; a container's tmpfs and cgroup go once
    /// its supervisor has ended.
    fn op_delete(&mut self, id: u64, cid: &str) -> Result<(), Json> {
        if !self.ctrs.contains_key(cid) {
            return Err(no_such(cid));
        }
        let execs: Vec<String> = self
            .ctrs
            .iter()
            .filter(|(_, c)| c.parent.as_deref() == Some(cid))
            .map(|(eid, _)| eid.clone())
            .collect();
        for handle in execs.iter().map(String::as_str).chain(Some(cid)) {
            self.forget(handle);
        }
        self.reply_ok(id, vec![]);
        Ok(())
    }

    fn forget(&mut self, cid: &str) {
        let c = match self.ctrs.get_mut(cid) {
            Some(c) => c,
            None => return,
        };
        if let Some(g) = c.gate_w.take() {
            fd::close(g); // a created, never started container: its supervisor sees EOF and leaves
        }
        if let Some(pid) = c.pid {
            if c.exited.is_none() {
                let _ = process::kill(pid, SIGKILL);
            }
        }
        if c.supervisor_status.is_none() {
            let _ = process::kill(c.supervisor, SIGKILL);
        }
        c.deleted = true;
        self.maybe_finish(cid);
    }

    fn read_status(&mut self, cid: &str) {
        let mut buf = [0u8; 4096];
        let mut lines: Vec<String> = Vec::new();
        {
            let c = match self.ctrs.get_mut(cid) {
                Some(c) => c,
                None => return,
            };
            let fd_r = match c.status_r {
                Some(f) => f,
                None => return,
            };
            loop {
                match fd::read(fd_r, &mut buf) {
                    Ok(0) => {
                        fd::close(fd_r);
                        c.status_r = None;
                        break;
                    }
                    Ok(n) => c.status_buf.extend_from_slice(&buf[..n]),
                    Err(_) => break,
                }
            }
            while let Some(nl) = c.status_buf.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = c.status_buf.drain(..=nl).collect();
                lines.push(String::from_utf8_lossy(&line).trim().to_string());
            }
        }
        for line in lines {
            let ev = match json::parse(&line) {
                Ok(ev) => ev,
                Err(_) => continue,
            };
            let c = self.ctrs.get_mut(cid).unwrap();
            match ev.get("event").and_then(|v| v.as_str()) {
                Some("started") => {
                    let pid = ev
                        .get("pid")
                        .and_then(|v| v.as_number())
                        .and_then(|n| n.as_i64())
                        .map(|p| p as i32);
                    c.pid = pid;
                    if let Some(req) = c.start_req.take() {
                        self.reply_ok(req, vec![("pid", Json::from(pid))]);
                    }
                }
                Some("error") => {
                    let kind = ev
                        .get("kind")
                        .and_then(|v| v.as_str())
                        .unwrap_or("setup")
                        .to_string();
                    let msg = ev
                        .get("message")
                        .and_then(|v| v.as_str())
                        .unwrap_or("container setup failed")
                        .to_string();
                    let code = ev
                        .get("exitCode")
                        .and_then(|v| v.as_number())
                        .and_then(|n| n.as_i64())
                        .unwrap_or(125) as i32;
                    let e = err_json(&kind, &msg, code);
                    c.error = Some(e.clone());
                    if let Some(req) = c.start_req.take() {
                        self.reply_err(req, e);
                    }
                }
                Some("exited") => {
                    let code = ev
                        .get("exitCode")
                        .and_then(|v| v.as_number())
                        .and_then(|n| n.as_i64())
                        .unwrap_or(125) as i32;
                    let sig = ev
                        .get("signal")
                        .and_then(|v| v.as_str())
                        .map(|s| s.to_string());
                    c.exited = Some((code, sig));
                }
                _ => {}
            }
        }
    }

    fn read_output(&mut self, cid: &str, which: u8) {
        let mut frames: Vec<(u8, u32, Vec<u8>)> = Vec::new();
        if let Some(c) = self.ctrs.get_mut(cid) {
            let s = if which == 1 {
                c.io.stdout.as_mut()
            } else {
                c.io.stderr.as_mut()
            };
            if let Some(s) = s {
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

    fn write_input(&mut self, cid: &str) {
        let mut grant: Option<(u32, u32)> = None;
        if let Some(s) = self.ctrs.get_mut(cid).and_then(|c| c.io.stdin.as_mut()) {
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
                        s.closed = true;
                        fd::close(s.fd);
                        break;
                    }
                }
            }
            if s.pending.is_empty() && s.eof && !s.closed {
                s.closed = true;
                fd::close(s.fd);
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

    fn reap(&mut self) {
        let mut buf = [0u8; 64];
        while let Ok(n) = fd::read(self.sigchld_r, &mut buf) {
            if n == 0 {
                break;
            }
        }
        while let Some((pid, status)) = sys::reap_any() {
            for c in self.ctrs.values_mut() {
                if c.supervisor == pid {
                    c.supervisor_status = Some(status);
                }
            }
        }
        let ids: Vec<String> = self.ctrs.keys().cloned().collect();
        for id in ids {
            // A supervisor that is gone has nothing more to say: drain its status pipe.
            if self.ctrs[&id].supervisor_status.is_some() && self.ctrs[&id].status_r.is_some() {
                self.read_status(&id);
            }
        }
    }

    fn maybe_finish(&mut self, cid: &str) {
        let (finished, deleted) = match self.ctrs.get(cid) {
            Some(c) => (c.finished(), c.deleted),
            None => return,
        };
        if !finished {
            return;
        }
        let c = self.ctrs.get_mut(cid).unwrap();
        if let Some(req) = c.start_req.take() {
            let e = c.error.clone().unwrap_or_else(|| {
                err_json(
                    "setup",
                    "the container supervisor ended before the container started",
                    125,
                )
            });
            self.reply_err(req, e);
        }
        let c = self.ctrs.get_mut(cid).unwrap();
        let status = match (&c.exited, &c.error) {
            (Some((code, sig)), _) => Some((*code, sig.clone())),
            (None, Some(_)) => None,
            (None, None) => {
                let raw = c.supervisor_status.unwrap_or(0);
                Some(if raw & 0x7f == 0 {
                    ((raw >> 8) & 0xff, None)
                } else {
                    (128 + (raw & 0x7f), Some(signal::name(raw & 0x7f)))
                })
            }
        };
        let waits: Vec<u64> = c.wait_reqs.drain(..).collect();
        let error = c.error.clone();
        for req in waits {
            match (&status, &error) {
                (Some((code, sig)), _) => {
                    let sig = Json::from(sig.clone());
                    self.reply_ok(req, vec![("exitCode", Json::from(*code)), ("signal", sig)]);
                }
                (None, Some(e)) => self.reply_err(req, e.clone()),
                (None, None) => {}
            }
        }
        if deleted {
            let c = self.ctrs.remove(cid).unwrap();
            for chan in c.io.channels() {
                self.in_chans.remove(&chan);
                self.out_chans.remove(&chan);
            }
            c.io.close();
            if let Some(g) = c.gate_w {
                fd::close(g);
            }
            if let (Some(cg), None) = (&c.cgroup, &c.parent) {
                cgroup::remove(cg);
            }
            if let Some(dir) = &c.dir {
                cleanup_dir(dir);
            }
        }
    }
}

fn no_such(cid: &str) -> Json {
    err_json(
        "spec",
        &format!("no such container in the guest: {}", cid),
        125,
    )
}

fn spec_error(e: container::spec::SpecError) -> Json {
    let e = container::Error::from(e);
    err_json(e.kind.as_str(), &e.message, e.exit_code())
}

/// A tmpfs at /run/tsbox/<cid> holding the root mount point and the overlay's
/// upper and work dirs (overlayfs cannot use 9p as its upper layer).
fn prepare_dir(dir: &Path, spec: &Spec) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {}", dir.display(), e))?;
    // Owned by the user namespace's root (the host user's id), as the bundle
    // dir is on the host: overlay does its work there with that user's ids.
    let root_id = |maps: &[container::spec::IdMapping]| {
        maps.iter()
            .find(|m| m.container_id == 0)
            .map_or(0, |m| m.host_id)
    };
    let (uid, gid) = (
        root_id(&spec.linux.uid_mappings),
        root_id(&spec.linux.gid_mappings),
    );
    let opts = format!("mode=700,uid={},gid={}", uid, gid);
    mount::mount(Some(Path::new("tmpfs")), dir, Some("tmpfs"), 0, Some(&opts))
        .map_err(|e| format!("mounting a tmpfs on {}: {}", dir.display(), e.description()))?;
    let mut wanted: Vec<&Path> = vec![spec.root.path.as_path()];
    if let Some(ov) = &spec.root.overlay {
        wanted.push(ov.upper.as_path());
        wanted.push(ov.work.as_path());
    }
    for p in wanted {
        if !p.starts_with(dir) {
            cleanup_dir(dir);
            return Err(format!(
                "{} is not inside the container's guest directory {}",
                p.display(),
                dir.display()
            ));
        }
        std::fs::create_dir_all(p).map_err(|e| format!("creating {}: {}", p.display(), e))?;
        let _ = sys::chown(p, uid, gid);
    }
    Ok(())
}

fn mount_overlay_root(spec: &mut Spec) -> Result<(), String> {
    let ov = match spec.root.overlay.take() {
        Some(ov) => ov,
        None => return Ok(()),
    };
    let lower: Vec<String> = ov.lower.iter().map(|p| p.display().to_string()).collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        ov.upper.display(),
        ov.work.display()
    );
    // nodev: a device node in an image (say c 229 1, the agent's own link)
    // must not reach a guest device; the guest's root mounts this, so no user
    // namespace makes it nodev for us.
    mount::mount(
        Some(Path::new("overlay")),
        &spec.root.path,
        Some("overlay"),
        container::sys::consts::MS_NODEV,
        Some(&data),
    )
    .map_err(|e| {
        format!(
            "mounting the image's overlay on {}: {}",
            spec.root.path.display(),
            e.description()
        )
    })
}

fn cleanup_dir(dir: &Path) {
    let _ = mount::umount2(dir, container::sys::consts::MNT_DETACH);
    let _ = std::fs::remove_dir_all(dir);
}

#[allow(dead_code)]
fn hung_up(revents: i16) -> bool {
    revents & (POLLHUP | POLLERR) != 0
}
