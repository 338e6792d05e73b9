//! One turn of the loop: wait on the link, the SIGCHLD self-pipe and every
//! supervised process's status pipe and stdio, then hand each ready fd to
//! its handler. Output is read only within the host's credit and while the
//! link's queue is short, so a chatty container cannot grow our memory.

use super::Agent;
use crate::frame;
use container::sys::ffi;
use container::sys::types::PollFd;
use std::os::raw::c_int;

/// Stop reading container output while this much is queued for the link.
const LINK_OUT_HIGH: usize = 128 * 1024;

const POLLIN: i16 = 0x1;
const POLLOUT: i16 = 0x4;

/// What a polled fd is.
#[derive(Clone, Copy)]
enum Target {
    Link,
    Sigchld,
    Status(usize),
    Out(usize, u8),
    In(usize),
    Connect(usize),
    RelayAccept,
    RelayDns,
    RelayQueue,
}

impl Agent {
    pub(crate) fn poll_once(&mut self) {
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
        let link_events = if self.out.is_empty() {
            POLLIN
        } else {
            POLLIN | POLLOUT
        };
        add(&mut fds, self.link, link_events, Target::Link);
        add(&mut fds, self.sigchld_r, POLLIN, Target::Sigchld);
        if let Some(r) = &self.relay {
            add(&mut fds, r.listener_fd(), POLLIN, Target::RelayAccept);
            add(&mut fds, r.dns_fd(), POLLIN, Target::RelayDns);
            add(&mut fds, r.queue_fd(), POLLIN, Target::RelayQueue);
        }
        // Processes first, then connections: one list of handles.
        let mut ids: Vec<String> = self.ctrs.keys().cloned().collect();
        let processes = ids.len();
        ids.extend(self.socks.keys().cloned());
        let link_busy = self.out.len() > LINK_OUT_HIGH;
        for (i, id) in ids.iter().enumerate() {
            let io = match self.ctrs.get(id) {
                Some(c) => {
                    if let Some(s) = c.status_r {
                        add(&mut fds, s, POLLIN, Target::Status(i));
                    }
                    &c.io
                }
                None => {
                    let sock = &self.socks[id];
                    if sock.connecting.is_some() {
                        add(&mut fds, sock.fd, POLLOUT, Target::Connect(i));
                        continue;
                    }
                    &sock.io
                }
            };
            for (k, s) in [(1u8, &io.stdout), (2u8, &io.stderr)] {
                if let Some(s) = s {
                    // A datagram is read whole: only with credit for the largest one a frame carries.
                    let room = if s.datagram { frame::MAX_OUT_PAYLOAD as u64 } else { 1 };
                    if !s.done && s.credit >= room && !link_busy {
                        add(&mut fds, s.fd, POLLIN, Target::Out(i, k));
                    }
                }
            }
            if let Some(s) = &io.stdin {
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
                Target::Connect(i) => self.sock_connected(&ids[i]),
                Target::RelayAccept => self.relay_accept(),
                Target::RelayDns => self.relay_dns(),
                Target::RelayQueue => self.relay_queue(),
            }
        }
        // Finished processes answer their waits once everything is drained.
        for id in &ids[..processes] {
            self.maybe_finish(id);
        }
        self.reap_socks();
    }
}
