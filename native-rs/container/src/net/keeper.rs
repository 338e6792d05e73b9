//! The network keeper: one process per container with networks to join,
//! forked by whoever starts the container (tsbox-runtime, the vm agent's
//! supervisor) and recorded in the bundle. It
//!
//! 1. enters the namespaces the bridges live in (rootless: the per-user
//!    ones, `rootless.rs`),
//! 2. joins each network (bridge, NAT, lease: `bridge.rs`) and writes the
//!    container's /etc files,
//! 3. clones the container with CLONE_PARENT, so it is the starter's child
//!    (waited for, signalled, dying with it) while its user namespace is a
//!    child of ours, which is what lets us move a veth into it rootless,
//! 4. writes its id maps, attaches its veths, adds DNAT rules, reports the
//!    pid to the starter, which then releases the container,
//! 5. serves the published ports until the container exits (a pidfd), or
//!    SIGTERM asks it to leave, and then takes everything down again.
//!
//! Its lifetime is the container's: it outlives the starter if that is
//! killed (the container then dies of PDEATHSIG, which ends the keeper too),
//! and needs no front end.

use super::attach::{self, Endpoint};
use super::bridge;
use super::files;
use super::firewall::Iptables;
use super::ipam::Owner;
use super::netlink::Netlink;
use super::proxy::{self, Proxy, Published};
use super::rootless;
use super::spec::{Attachment, NetworkSpec, Port};
use crate::error::Error;
use crate::handoff::Pipes;
use crate::idmap;
use crate::json::{self, Json};
use crate::spec::Spec;
use crate::sys::consts::*;
use crate::sys::process::{self, Forked};
use crate::sys::types::{PollFd, SigInfoHead};
use crate::sys::{fd, signal};
use std::net::Ipv4Addr;
use std::os::raw::{c_int, c_void};
use std::sync::atomic::{AtomicI32, Ordering};

/// Starts the keeper, which clones the container (running `child` in it,
/// which execs or exits: it never returns in practice);
/// returns the container's pid once its network is in place. The caller
/// still owns `pipes`' parent ends and releases the container.
pub fn start<F: FnOnce() -> i32>(spec: &Spec, net: &NetworkSpec, clone_flags: c_int, pipes: &Pipes, child: F) -> Result<i32, Error> {
    let published = proxy::bind(&net.ports)?;
    let (report_r, report_w) = fd::pipe().map_err(|e| Error::errno("creating a pipe", e))?;
    match process::clone_fork(0) {
        Ok(Forked::Child) => {
            fd::close(report_r);
            let code = Keeper::new(spec, net, report_w).run(clone_flags, pipes, child, published);
            process::exit_now(code)
        }
        Ok(Forked::Parent(keeper)) => {
            fd::close(report_w);
            drop(published);
            // One line: the container holds a copy of the write end until it execs.
            let report = fd::read_line(report_r);
            fd::close(report_r);
            let doc = json::parse(&String::from_utf8_lossy(&report)).ok();
            let pid = doc.as_ref().and_then(|d| d.get("pid")).and_then(|p| p.as_number()).and_then(|n| n.as_i64()).map(|p| p as i32);
            if let (Some(pid), Some(true)) = (pid, doc.as_ref().and_then(|d| d.get("ok")).and_then(Json::as_bool)) {
                return Ok(pid);
            }
            // The keeper killed the container if it had cloned it: reap both.
            if let Some(pid) = pid {
                let _ = process::wait(pid);
            }
            let _ = process::wait(keeper);
            let error = doc.as_ref().and_then(|d| d.get("error")).and_then(|e| Error::from_json(&e.to_string()));
            Err(error.unwrap_or_else(|| Error::setup("the network keeper ended before the container started")))
        }
        Err(e) => Err(Error::errno("forking the network keeper", e)),
    }
}

/// `tsbox-runtime net-attach` (`network connect`): joins `net`'s networks
/// for the running container `pid`, reports on `report` like `start`'s
/// keeper, then keeps the attachment until the container exits or SIGTERM
/// (`network disconnect`). A container on no other network (all
/// disconnected) gets, as docker's gateway endpoint, the default route and
/// the published ports `net` carries; otherwise it has them already.
pub fn attach_running(spec: &Spec, net: &NetworkSpec, pid: i32, report: c_int) -> i32 {
    let mut k = Keeper::new(spec, net, report);
    let primary = !attached_elsewhere(net);
    // Bound before the rootless namespaces are entered: the ports are the caller's, as at a start.
    let published = if primary { proxy::bind(&net.ports) } else { Ok(Vec::new()) };
    let ports = published.as_ref().map(|p| p.iter().map(|p| p.port).collect::<Vec<_>>()).unwrap_or_default();
    let ready = published.and_then(|published| {
        k.join_networks()?;
        if k.rootless.is_some() {
            in_reach(pid)?;
        }
        k.attach_all(pid, primary)?;
        k.add_dnat(&published)?;
        k.record(&ports)?;
        Ok(published)
    });
    k.container = Some(pid);
    let published = match ready {
        Ok(p) => p,
        Err(e) => {
            k.container = None; // not ours to kill
            k.send_report(false, Some(e));
            k.tear_down();
            return 1;
        }
    };
    k.send_report(true, None);
    let to = k.joined.first().map(|j| j.ip).unwrap_or(Ipv4Addr::LOCALHOST);
    k.serve(pid, Proxy::new(published, to));
    k.tear_down();
    0
}

/// Rootless, a running container's namespaces are ours only under the holder
/// it started under (its user namespace is a child of that holder's): one
/// that started with no network, or whose holder stopped after its last
/// network was disconnected, cannot get a veth until it starts again.
fn in_reach(pid: i32) -> Result<(), Error> {
    match std::fs::File::open(format!("/proc/{}/ns/net", pid)) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(Error::setup(
            "a running rootless container can be connected only while the rootless network namespace it started under runs (it stops TSBOX_ROOTLESS_NETWORK_IDLE seconds after the last container leaves it; a container started with no network has none): stop the container, connect it and start it again",
        )),
        _ => Ok(()),
    }
}

/// Whether the container has an attachment recorded for a network other than `net`'s (`<net dir>/attach-*.json`).
fn attached_elsewhere(net: &NetworkSpec) -> bool {
    let ours: Vec<String> = net.attach.iter().map(|a| record_name(&a.name)).collect();
    match std::fs::read_dir(&net.dir) {
        Ok(entries) => entries.flatten().any(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("attach-") && name.ends_with(".json") && !ours.contains(&name)
        }),
        Err(_) => false,
    }
}

struct Joined {
    att: Attachment,
    ip: Ipv4Addr,
    endpoint: Option<Endpoint>,
}

struct Keeper<'a> {
    spec: &'a Spec,
    net: &'a NetworkSpec,
    report: c_int,
    owner: Owner,
    nl: Option<Netlink>,
    joined: Vec<Joined>,
    /// The ports DNATed to the container (rules tagged with its id).
    dnat: Vec<Port>,
    rootless: Option<rootless::Membership>,
    container: Option<i32>,
}

static SIGTERM_W: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_sigterm(_sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let w = SIGTERM_W.load(Ordering::SeqCst);
        if w >= 0 {
            let _ = fd::write(w, b"t");
        }
    });
}

impl<'a> Keeper<'a> {
    fn new(spec: &'a Spec, net: &'a NetworkSpec, report: c_int) -> Keeper<'a> {
        let me = std::process::id() as i32;
        let mut names = vec![net.container_id.clone(), net.container_id.chars().take(12).collect()];
        names.extend(net.container_name.iter().cloned());
        names.push(net.hostname.clone());
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        Keeper {
            spec,
            net,
            report,
            owner: Owner { container: net.container_id.clone(), names, keeper: me, keeper_start: process::start_time(me).unwrap_or(0) },
            nl: None,
            joined: Vec::new(),
            dnat: Vec::new(),
            rootless: None,
            container: None,
        }
    }

    fn run<F: FnOnce() -> i32>(mut self, clone_flags: c_int, pipes: &Pipes, child: F, published: Vec<Published>) -> i32 {
        let ready = self.set_up(clone_flags, pipes, child, &published);
        let ports = published.iter().map(|p| p.port).collect::<Vec<_>>();
        let result = ready.and_then(|pid| self.record(&ports).map(|()| pid));
        let pid = match result {
            Ok(pid) => pid,
            Err(e) => {
                if let Some(pid) = self.container {
                    let _ = process::kill(pid, SIGKILL);
                }
                self.send_report(false, Some(e));
                self.tear_down();
                return 1;
            }
        };
        self.send_report(true, None);
        let to = self.joined.first().map(|j| j.ip).unwrap_or(Ipv4Addr::LOCALHOST);
        let proxy = Proxy::new(published, to);
        self.serve(pid, proxy);
        self.tear_down();
        0
    }

    /// Steps 1–4; the container's pid.
    fn set_up<F: FnOnce() -> i32>(&mut self, clone_flags: c_int, pipes: &Pipes, child: F, published: &[Published]) -> Result<i32, Error> {
        if let Err(e) = self.join_networks() {
            pipes.close_copies();
            return Err(e);
        }
        crate::trace::mark("keeper: networks joined");
        let own: Vec<Ipv4Addr> = self.joined.iter().map(|j| j.ip).collect();
        if let Err(e) = files::update_all(self.net, &own) {
            pipes.close_copies();
            return Err(e);
        }
        let pid = match process::clone_fork(clone_flags | CLONE_PARENT) {
            Ok(Forked::Child) => process::exit_now(child()),
            Ok(Forked::Parent(pid)) => pid,
            Err(e) => {
                pipes.close_copies();
                return Err(crate::launch::clone_error(self.spec, e));
            }
        };
        self.container = Some(pid);
        crate::trace::mark("keeper: cloned");
        pipes.close_copies();
        // A caller that works with a user's file-system ids (the vm agent's
        // supervisor) lent them to the clone; the maps need our own.
        crate::sys::cred::reset_fs_ids();
        self.write_id_maps(pid)?;
        crate::trace::mark("keeper: id maps written");
        self.attach_all(pid, true)?;
        crate::trace::mark("keeper: attached");
        self.add_dnat(published)?;
        Ok(pid)
    }

    /// As root, other hosts reach published ports through DNAT to the first
    /// network's address; rootless (and from loopback) through the proxy,
    /// which holds the ports.
    fn add_dnat(&mut self, published: &[Published]) -> Result<(), Error> {
        if self.rootless.is_some() || published.is_empty() {
            return Ok(());
        }
        if let Some(first) = self.joined.first().filter(|j| j.att.nat) {
            let ports: Vec<Port> = published.iter().map(|p| p.port).filter(|p| !p.host_ip.is_loopback()).collect();
            if !ports.is_empty() {
                Iptables::require()?.add_dnat(&first.att.bridge, &ports, first.ip, &self.net.container_id)?;
                self.dnat = ports;
            }
        }
        Ok(())
    }

    /// Into the bridges' namespaces (rootless), then a lease on each network.
    fn join_networks(&mut self) -> Result<(), Error> {
        if let Some(r) = &self.net.rootless {
            self.rootless = Some(rootless::enter(r, &self.spec.linux.uid_mappings, &self.spec.linux.gid_mappings)?);
        }
        let mut nl = Netlink::open()?;
        let mut result = Ok(());
        for att in &self.net.attach {
            match bridge::join(&mut nl, att, &self.owner_for(att)) {
                Ok(ip) => self.joined.push(Joined { att: att.clone(), ip, endpoint: None }),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        self.nl = Some(nl);
        result
    }

    /// A veth into the container per network; `route`: the first one not
    /// `internal` gets the default route (docker's gateway endpoint: an
    /// internal network leads nowhere).
    fn attach_all(&mut self, pid: i32, route: bool) -> Result<(), Error> {
        let nl = self.nl.as_mut().expect("netlink socket");
        let gateway = self.joined.iter().position(|j| !j.att.internal).filter(|_| route);
        for (i, j) in self.joined.iter_mut().enumerate() {
            j.endpoint = Some(attach::attach(nl, pid, &j.att, j.ip, gateway == Some(i))?);
        }
        Ok(())
    }

    fn owner_for(&self, att: &Attachment) -> Owner {
        let mut o = self.owner.clone();
        o.names.extend(att.aliases.iter().cloned());
        o
    }

    fn write_id_maps(&self, pid: i32) -> Result<(), Error> {
        match &self.rootless {
            Some(m) => m.write_id_maps(pid, self.spec),
            None => idmap::write_mappings(pid, self.spec),
        }
    }

    /// `<bundle>/net/attach-<network>.json` for each network: what `tsbox
    /// port` and inspect read.
    fn record(&self, ports: &[Port]) -> Result<(), Error> {
        for (i, j) in self.joined.iter().enumerate() {
            let ep = j.endpoint.as_ref();
            let port_list = if i == 0 { ports } else { &[] };
            let doc = Json::object(vec![
                ("network", Json::from(j.att.name.as_str())),
                ("ip", Json::from(j.ip.to_string())),
                ("prefix", Json::from(j.att.subnet.prefix as u32)),
                ("gateway", Json::from(j.att.gateway.to_string())),
                ("bridge", Json::from(j.att.bridge.as_str())),
                ("ifname", Json::from(ep.map(|e| e.ifname.as_str()).unwrap_or(""))),
                ("hostInterface", Json::from(ep.map(|e| e.host_if.as_str()).unwrap_or(""))),
                ("mac", Json::from(ep.map(|e| e.mac.as_str()).unwrap_or(""))),
                ("aliases", Json::Array(j.att.aliases.iter().map(|a| Json::from(a.as_str())).collect())),
                ("keeper", Json::from(self.owner.keeper)),
                ("keeperStart", Json::from(self.owner.keeper_start)),
                (
                    "ports",
                    Json::Array(
                        port_list
                            .iter()
                            .map(|p| {
                                Json::object(vec![
                                    ("hostIp", Json::from(p.host_ip.to_string())),
                                    ("hostPort", Json::from(p.host_port as u32)),
                                    ("containerPort", Json::from(p.container_port as u32)),
                                    ("protocol", Json::from(p.protocol.as_str())),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ]);
            files::write(&self.net.dir, &record_name(&j.att.name), &doc.to_string())?;
        }
        Ok(())
    }

    fn send_report(&mut self, ok: bool, error: Option<Error>) {
        let mut fields = vec![("ok", Json::from(ok)), ("pid", Json::from(self.container))];
        if let Some(e) = error {
            fields.push(("error", e.to_json()));
        }
        let _ = fd::write_all(self.report, format!("{}\n", Json::object(fields)).as_bytes());
        fd::close(self.report);
        self.report = -1;
    }

    /// Step 5: until the container exits or SIGTERM.
    fn serve(&mut self, pid: i32, mut proxy: Proxy) {
        // First, so the fds opened below are not among 0-2 (which get /dev/null).
        let mut keep: Vec<c_int> = self.nl.as_ref().map(|n| n.raw_fd()).into_iter().collect();
        keep.extend(proxy.fds());
        fd::detach_from_parent_fds(&keep);
        let pidfd = process::pidfd_open(pid).ok();
        let (term_r, term_w) = match fd::pipe() {
            Ok(p) => p,
            Err(_) => return,
        };
        SIGTERM_W.store(term_w, Ordering::SeqCst);
        signal::reset_for_our_code();
        for sig in [SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH] {
            let _ = signal::ignore(sig);
        }
        let _ = signal::install(SIGTERM, on_sigterm);
        loop {
            let mut fds = vec![PollFd { fd: term_r, events: 0x1, revents: 0 }];
            if let Some(p) = pidfd {
                fds.push(PollFd { fd: p, events: 0x1, revents: 0 });
            }
            let base = fds.len();
            proxy.interest(&mut fds);
            // Without a pidfd (Linux < 5.3) the container is looked at twice a second.
            let timeout = if pidfd.is_none() { 500 } else { proxy.timeout_ms() };
            if proxy::poll(&mut fds, timeout).is_err() {
                return;
            }
            if fds[0].revents != 0 || (pidfd.is_some() && fds[1].revents != 0) || (pidfd.is_none() && container_gone(pid)) {
                return;
            }
            proxy.ready(&fds[base..]);
        }
    }

    fn tear_down(&mut self) {
        if let (Some(ipt), false) = (Iptables::find(), self.dnat.is_empty()) {
            let _ = ipt.remove_dnat(|r| r.tag == self.net.container_id && self.dnat.iter().any(|p| r.overlaps(p)));
        }
        // A veth's deletion waits out RCU grace periods (20–40 ms here), the
        // largest part of a networked run's end. Once the container has
        // exited its end of the pair is in a dying namespace and nothing
        // waits for the deletion (not even an address: they are handed out
        // round robin), so it happens detached; a running container's
        // (`network disconnect`) goes before we report.
        let exited = self.container.map_or(false, container_gone);
        let mut later = Vec::new();
        if let Some(nl) = self.nl.as_mut() {
            for j in &self.joined {
                if let Some(ep) = &j.endpoint {
                    if exited {
                        later.push(ep.host_if.clone());
                    } else {
                        attach::detach(nl, ep);
                    }
                }
                bridge::leave(nl, &j.att, j.ip, self.owner.keeper);
                let _ = std::fs::remove_file(self.net.dir.join(record_name(&j.att.name)));
            }
        }
        if let (Some(nl), false) = (self.nl.take(), later.is_empty()) {
            attach::detach_detached(nl, later);
        }
        if let Some(m) = self.rootless.take() {
            m.leave();
        }
    }
}

fn record_name(network: &str) -> String {
    format!("attach-{}.json", network)
}

fn container_gone(pid: i32) -> bool {
    match process::start_time(pid) {
        None => true,
        Some(start) => !process::alive(pid, start),
    }
}

/// What the keepers of a container left that died unseen (SIGKILLed, its
/// whole tree with it): their records (`attach-*.json`), leases, and DNAT
/// rules, which would take the container's ports' traffic from the next
/// container that publishes them and hand it to whichever gets its address.
/// A record whose keeper is gone is the sign (`tear_down` removes it last).
/// Run at the end of each run (`tsbox-runtime run`: a keeper killed while
/// the container ran) and at `rm` (`tsbox-runtime delete`: the whole tree).
pub fn remove_leftovers(net: &NetworkSpec) {
    let mut dead = Vec::new();
    for att in &net.attach {
        let path = net.dir.join(record_name(&att.name));
        let doc = match std::fs::read_to_string(&path).ok().and_then(|t| json::parse(&t).ok()) {
            Some(d) => d,
            None => continue,
        };
        let number = |k: &str| doc.get(k).and_then(|n| n.as_number()).and_then(|n| n.as_i64());
        let (keeper, start) = (number("keeper").unwrap_or(0) as i32, number("keeperStart").unwrap_or(0) as u64);
        if keeper > 0 && process::alive(keeper, start) {
            continue;
        }
        if let Some(ip) = doc.get("ip").and_then(Json::as_str).and_then(|ip| ip.parse::<Ipv4Addr>().ok()) {
            if let Ok(_lock) = super::lock::Lock::acquire(&att.dir) {
                super::ipam::release(&att.dir, ip, keeper);
            }
            dead.push(ip);
        }
        let _ = std::fs::remove_file(&path);
    }
    if dead.is_empty() || net.rootless.is_some() || net.ports.is_empty() {
        return;
    }
    if let Some(ipt) = Iptables::find() {
        let _ = ipt.remove_dnat(|r| r.tag == net.container_id && r.to.map_or(false, |to| dead.contains(&to)));
    }
}
