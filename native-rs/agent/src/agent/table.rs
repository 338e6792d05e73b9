//! The supervised processes, by handle (a container's cid, an exec's eid):
//! starting a supervisor, forgetting one, reaping, and answering `wait`s once
//! a process has ended and its output is drained.

use super::{op_error, Agent};
use crate::guest_dir;
use crate::kept_layer::KeptLayer;
use crate::stdio::{Channels, ProcessStdio, Streams};
use crate::supervisor::{self, Job};
use crate::sys;
use container::cgroups::Manager;
use container::json::Json;
use container::seccomp::Filter;
use container::spec::ConsoleSize;
use container::sys::consts::SIGKILL;
use container::sys::{fd, process, signal};
use container::ErrorKind;
use std::os::raw::c_int;
use std::path::PathBuf;

/// A supervised process: a container's init, or a process exec'd into one.
pub struct Ctr {
    pub supervisor: i32,
    pub pid: Option<i32>,
    /// A created container's start gate (`start` writes it).
    pub gate_w: Option<c_int>,
    /// A spare container (`create` with `spare`): `start` writes its process to the gate.
    pub spare: bool,
    pub status_r: Option<c_int>,
    status_buf: Vec<u8>,
    pub io: Streams,
    /// The `start`/`exec` request answered by `started` or `error`.
    pub start_req: Option<u64>,
    pub wait_reqs: Vec<u64>,
    pub error: Option<Json>,
    pub exited: Option<(i32, Option<String>)>,
    /// Its `exited` event said the OOM killer struck its cgroup.
    pub oom_killed: bool,
    pub supervisor_status: Option<c_int>,
    /// A container's cgroup (processes exec'd into it join it by themselves).
    pub cgroup: Option<Box<dyn Manager>>,
    /// The container's tmpfs; None for an exec'd process.
    pub dir: Option<PathBuf>,
    /// Its writable layer, saved for its next run once it has ended (kept_layer.rs).
    pub layer: Option<KeptLayer>,
    /// The container's `linux.seccomp`, which its exec'd processes get too,
    /// compiled once at `create`.
    pub filter: Option<Filter>,
    /// The namespaces it made (clone flags), which an exec joins without
    /// probing /proc; None when it joined existing ones (probed then).
    pub namespaces: Option<c_int>,
    /// For an exec'd process: the container it runs in.
    pub parent: Option<String>,
    /// A container's spec as `create` parsed it (a `net-attach` keeper runs with it).
    pub spec: Option<Box<container::Spec>>,
    /// The subnets of the `--internal` networks it is on (at `create` or by
    /// `net-attach`): the relay takes nothing from their addresses.
    pub internal_subnets: Vec<container::net::addr::Subnet>,
    deleted: bool,
}

impl Ctr {
    fn new(supervisor: i32, status_r: c_int, io: Streams) -> Ctr {
        Ctr {
            supervisor,
            pid: None,
            gate_w: None,
            spare: false,
            status_r: Some(status_r),
            status_buf: Vec::new(),
            io,
            start_req: None,
            wait_reqs: Vec::new(),
            error: None,
            exited: None,
            oom_killed: false,
            supervisor_status: None,
            cgroup: None,
            dir: None,
            layer: None,
            filter: None,
            namespaces: None,
            spec: None,
            internal_subnets: Vec::new(),
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

    pub fn running(&self) -> bool {
        self.pid.is_some() && self.exited.is_none() && self.supervisor_status.is_none()
    }

    /// Whole lines read from the status pipe so far (closing it at EOF).
    pub(super) fn read_status_lines(&mut self) -> Vec<String> {
        let fd_r = match self.status_r {
            Some(f) => f,
            None => return Vec::new(),
        };
        let mut buf = [0u8; 4096];
        loop {
            match fd::read(fd_r, &mut buf) {
                Ok(0) => {
                    fd::close(fd_r);
                    self.status_r = None;
                    break;
                }
                Ok(n) => self.status_buf.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        let mut lines = Vec::new();
        while let Some(nl) = self.status_buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.status_buf.drain(..=nl).collect();
            lines.push(String::from_utf8_lossy(&line).trim().to_string());
        }
        lines
    }

    /// How it ended: its own `exited` event, else the supervisor's wait
    /// status; None when it never started (its `error` says why).
    fn exit_status(&self) -> Option<(i32, Option<String>)> {
        match (&self.exited, &self.error) {
            (Some((code, sig)), _) => Some((*code, sig.clone())),
            (None, Some(_)) => None,
            (None, None) => {
                let raw = self.supervisor_status.unwrap_or(0);
                Some(if raw & 0x7f == 0 {
                    ((raw >> 8) & 0xff, None)
                } else {
                    (128 + (raw & 0x7f), Some(signal::name(raw & 0x7f)))
                })
            }
        }
    }
}

impl Agent {
    /// Stdio and a status pipe, then the supervisor's fork.
    pub(crate) fn start_supervisor(
        &mut self,
        job: Job,
        chans: Channels,
        terminal: bool,
        size: Option<ConsoleSize>,
        pty_root: Option<&std::path::Path>,
    ) -> Result<Ctr, Json> {
        let io = ProcessStdio::open(chans, terminal, size, pty_root).map_err(|e| {
            op_error(
                ErrorKind::Setup,
                format!("setting up stdio: {}", e.description()),
            )
        })?;
        let (status_r, status_w) =
            match fd::pipe().and_then(|(r, w)| sys::set_nonblocking(r).map(|()| (r, w))) {
                Ok(p) => p,
                Err(e) => {
                    io.close_all();
                    return Err(op_error(
                        ErrorKind::Setup,
                        format!("creating a pipe: {}", e.description()),
                    ));
                }
            };
        let forked = supervisor::fork(job, &io.child, status_w);
        fd::close(status_w);
        let streams = io.into_streams();
        match forked {
            Ok(pid) => Ok(Ctr::new(pid, status_r, streams)),
            Err(e) => {
                fd::close(status_r);
                streams.close();
                Err(e.to_report())
            }
        }
    }

    pub(crate) fn add(&mut self, id: &str, c: Ctr) {
        if let Some(s) = &c.io.stdin {
            self.in_chans.insert(s.chan, id.to_string());
        }
        for s in [&c.io.stdout, &c.io.stderr].iter().copied().flatten().filter(|s| !s.discard) {
            self.out_chans.insert(s.chan, id.to_string());
        }
        self.ctrs.insert(id.to_string(), c);
    }

    /// Kills what is left of a process and drops it once its supervisor has
    /// ended (a container's tmpfs and cgroup go with it).
    pub(crate) fn forget(&mut self, cid: &str) {
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

    pub(crate) fn reap(&mut self) {
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

    /// Once a process has ended and its output is drained: answers its
    /// pending `start` (with its error) and `wait`s, and removes it if deleted.
    pub(crate) fn maybe_finish(&mut self, cid: &str) {
        let c = match self.ctrs.get_mut(cid) {
            Some(c) if c.finished() => c,
            _ => return,
        };
        let start_req = c.start_req.take();
        let start_error = c.error.clone().unwrap_or_else(|| {
            op_error(
                ErrorKind::Setup,
                "the container supervisor ended before the container started",
            )
        });
        let status = c.exit_status();
        let oom_killed = c.oom_killed;
        let waits: Vec<u64> = c.wait_reqs.drain(..).collect();
        let error = c.error.clone();
        let deleted = c.deleted;
        if let Some(req) = start_req {
            self.reply_err(req, start_error);
        }
        for req in waits {
            match (&status, &error) {
                (Some((code, sig)), _) => {
                    let sig = Json::from(sig.clone());
                    self.reply_ok(
                        req,
                        vec![
                            ("exitCode", Json::from(*code)),
                            ("signal", sig),
                            ("oomKilled", Json::from(oom_killed)),
                        ],
                    );
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
            if let Some(cg) = &c.cgroup {
                if let Err(e) = cg.destroy() {
                    super::log(&e.message);
                }
            }
            // Its processes are gone (the cgroup with them): the layer is what it left.
            if let Some(layer) = &c.layer {
                if let Err(m) = layer.save() {
                    super::log(&m);
                }
            }
            if let Some(dir) = &c.dir {
                guest_dir::cleanup(dir);
            }
        }
    }
}
