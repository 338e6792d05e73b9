//! A spare exec supervisor: forked while the agent is idle, so an `exec`
//! does not wait for the agent's fork (docs/architecture.md, "Speed of a
//! running guest"). Until it gets its job the spare runs as SCHED_IDLE (it
//! takes only time nothing else wants) and holds nothing but its end of a
//! socket and /dev/null: then the agent sends the `exec` request as it came
//! and the process's stdio and status pipe (SCM_RIGHTS), and the spare
//! becomes exactly the supervisor `supervisor::fork` would have made — the
//! same fds 0-3 and nothing else, the same `run_exec` with the container's
//! filter, namespaces and cgroup, read from its copy of the agent's table.
//! That copy is as old as the fork: the agent notes which containers ran
//! then (cid and init pid; what an exec needs of one — its filter,
//! namespaces and cgroup — is fixed at `create`) and hands a spare only an
//! exec into one of those; when the running set changes the spare is
//! dismissed (its socket closed: it sees EOF and leaves), and an exec the
//! spare cannot take forks its supervisor as before.

use crate::agent::Agent;
use crate::supervisor::{self, Stdio, STATUS_FD};
use crate::sys;
use container::join::Known;
use container::json::{self, Json};
use container::spec::Process;
use container::status::StatusEvents;
use container::sys::consts::SIGKILL;
use container::sys::process::{self, Forked};
use container::sys::{cred, fd, fdpass, signal};
use container::{Error, ErrorKind};
use std::os::raw::c_int;

/// flags (stdin, stdout, stderr present: bits 0-2), the init's pid (i32 LE),
/// the request's length (u32 LE); the request follows.
const HEADER: usize = 9;
/// The spare's end of the socket until it has its job.
const SOCK_FD: c_int = 3;

pub struct Spare {
    pub pid: i32,
    sock: c_int,
    /// The running containers (cid, init pid) its copy of the table has.
    known: Vec<(String, i32)>,
}

impl Spare {
    /// Hands it an exec into the container whose init is `pid`; returns the
    /// supervisor's pid. The caller closes its copies of the fds.
    pub fn hand(self, pid: i32, request: &str, stdio: &Stdio, status_w: c_int) -> Result<i32, Error> {
        let mut flags = 0u8;
        let mut fds = Vec::with_capacity(4);
        for (bit, f) in [(1u8, stdio.stdin), (2, stdio.stdout), (4, stdio.stderr)] {
            if f >= 0 {
                flags |= bit;
                fds.push(f);
            }
        }
        fds.push(status_w);
        let mut msg = Vec::with_capacity(HEADER + request.len());
        msg.push(flags);
        msg.extend_from_slice(&pid.to_le_bytes());
        msg.extend_from_slice(&(request.len() as u32).to_le_bytes());
        msg.extend_from_slice(request.as_bytes());
        // It waits as SCHED_IDLE; its job is as urgent as the agent's.
        sys::set_idle_priority_of(self.pid, false);
        let sent = fdpass::send_all(self.sock, &msg, &fds, 1000);
        let spare = self.pid;
        self.dismiss();
        match sent {
            Ok(()) => Ok(spare),
            Err(e) => {
                // Whatever it got, it does not run it without the whole request.
                let _ = process::kill(spare, SIGKILL);
                Err(Error::errno("handing the exec to its supervisor", e))
            }
        }
    }

    /// Closes our end: an idle spare reads EOF and exits.
    pub fn dismiss(self) {
        fd::close(self.sock);
    }
}

impl Agent {
    /// Before the agent sleeps: a spare while a container runs and nothing
    /// else is to be done, none otherwise.
    pub(crate) fn keep_spare(&mut self) {
        let running = self.running_containers();
        let wanted = !running.is_empty();
        let stale = self.spare.as_ref().map_or(false, |s| s.known != running);
        if stale || !wanted {
            if let Some(s) = self.spare.take() {
                s.dismiss();
            }
        }
        if wanted && self.spare.is_none() && self.idle() {
            self.fork_spare(running);
        }
    }

    /// Running containers, sorted (cid, init pid).
    fn running_containers(&self) -> Vec<(String, i32)> {
        let mut v: Vec<(String, i32)> = self
            .ctrs
            .iter()
            .filter(|(_, c)| c.parent.is_none() && c.running())
            .map(|(id, c)| (id.clone(), c.pid.unwrap_or(0)))
            .collect();
        v.sort();
        v
    }

    /// The spare, if its copy of the table has container `cid` running as `pid`.
    pub(crate) fn take_spare(&mut self, cid: &str, pid: i32) -> Option<Spare> {
        match self.spare.take() {
            Some(s) if s.known.iter().any(|(c, p)| c == cid && *p == pid) => Some(s),
            Some(s) => {
                s.dismiss();
                None
            }
            None => None,
        }
    }

    /// Nothing being set up, no exec'd process left (a fork beside one
    /// that has just started would slow its run and exit down: the guest has
    /// one CPU), nothing waiting on the link or SIGCHLD.
    fn idle(&self) -> bool {
        if !self.out.is_empty() || self.ctrs.values().any(|c| c.start_req.is_some() || c.parent.is_some()) {
            return false;
        }
        !sys::readable_now(&[self.link, self.sigchld_r])
    }

    fn fork_spare(&mut self, known: Vec<(String, i32)>) {
        let (ours, theirs) = match fdpass::socket_pair() {
            Ok(p) => p,
            Err(_) => return,
        };
        match process::clone_fork(0) {
            Ok(Forked::Parent(pid)) => {
                fd::close(theirs);
                self.spare = Some(Spare {
                    pid,
                    sock: ours,
                    known,
                });
            }
            Ok(Forked::Child) => {
                let code = self.spare_main(theirs);
                process::exit_now(code)
            }
            Err(_) => {
                fd::close(ours);
                fd::close(theirs);
            }
        }
    }

    /// The spare: waits for one job, then supervises it.
    fn spare_main(&self, sock: c_int) -> i32 {
        sys::set_idle_priority_of(0, true);
        signal::reset_all();
        // The agent is the guest's init; if it died nothing here would make sense.
        let _ = cred::set_pdeathsig(SIGKILL);
        if supervisor::arrange_fds(&[-1, -1, -1, sock]).is_err() {
            return 125;
        }
        supervisor::reopen_trace();
        container::trace::mark("spare: ready");
        let (flags, pid, request, fds) = match receive() {
            Some(job) => job,
            None => return 0, // dismissed
        };
        container::trace::mark("spare: job");
        let mut it = fds.iter().copied();
        let mut present = |bit: u8| if flags & bit != 0 { it.next() } else { Some(-1) };
        let stdio = (present(1), present(2), present(4));
        let status = it.next();
        let fds = match (stdio, status) {
            ((Some(i), Some(o), Some(e)), Some(s)) => [i, o, e, s],
            _ => return 125,
        };
        // Exactly the supervisor's fds; the socket (at 3) and the received copies go.
        if supervisor::arrange_fds(&fds).is_err() {
            return 125;
        }
        supervisor::reopen_trace();
        let events = StatusEvents::new(Some(STATUS_FD), "tsbox-agent");
        let req = match std::str::from_utf8(&request).ok().and_then(|t| json::parse(t).ok()) {
            Some(r) => r,
            None => return events.error(&Error::new(ErrorKind::Spec, "malformed exec request")),
        };
        let process = match Process::from_document(req.get("process").unwrap_or(&Json::Null)) {
            Ok(p) => p,
            Err(e) => return events.error(&Error::from(e)),
        };
        let cid = req.get("cid").and_then(|v| v.as_str()).unwrap_or("");
        let c = match self.ctrs.get(cid) {
            Some(c) if c.parent.is_none() && c.running() && c.pid == Some(pid) => c,
            _ => {
                return events.error(&Error::new(
                    ErrorKind::Setup,
                    format!("the exec supervisor's view of container {} is out of date", cid),
                ))
            }
        };
        let known = Known {
            namespaces: c.namespaces,
            cgroup: c.cgroup.as_deref(),
            filter: c.filter.as_ref(),
        };
        supervisor::run_exec(pid, &process, known, &events)
    }
}

/// One job from SOCK_FD: flags, pid, request, fds; None at EOF or on a
/// malformed message.
fn receive() -> Option<(u8, i32, Vec<u8>, Vec<c_int>)> {
    let mut fds = Vec::new();
    let mut buf = vec![0u8; HEADER + crate::frame::MAX_IN_PAYLOAD];
    let mut have = 0;
    loop {
        let n = match fdpass::recv(SOCK_FD, &mut buf[have..], &mut fds) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        have += n;
        if have >= HEADER {
            let len = u32::from_le_bytes([buf[5], buf[6], buf[7], buf[8]]) as usize;
            if HEADER + len > buf.len() {
                break;
            }
            if have >= HEADER + len {
                let flags = buf[0];
                let pid = i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]);
                buf.truncate(HEADER + len);
                let request = buf.split_off(HEADER);
                return Some((flags, pid, request, fds));
            }
        }
    }
    for f in fds {
        fd::close(f);
    }
    None
}
