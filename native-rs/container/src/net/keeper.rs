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
//!    SIGTERM asks it to leave, and then takes everything down again; a
//!    `detach-<network>` request and SIGURG (`request_detach`, `network
//!    disconnect`) take that one network down and keep the others.
//!
//! Its lifetime is the container's: it outlives the starter if that is
//! killed (the container then dies of PDEATHSIG, which ends the keeper too),
//! and needs no front end.

use super::attach::{self, Endpoint};
use super::bridge;
use super::files;
use super::link;
use super::firewall::Iptables;
use super::ipam::Owner;
use super::netlink::Netlink;
use super::proxy::{self, Proxy, Published};
use super::rootless;
use super::spec::{self, Attachment, Dns, NetworkSpec, Port};
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
use std::path::Path;
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
/// for the running container `pid` (the process of `start`, when given: the
/// start time the caller read when it checked that pid was the container's
/// init), reports on `report` like `start`'s keeper, then keeps the
/// attachment until the container exits, SIGTERM or `request_detach`. A
/// container on no other network (all disconnected) gets, as docker's
/// gateway endpoint, the default route and the published ports `net`
/// carries; otherwise it has them already — unless `net.gateway_endpoint`
/// says the caller found none on the container (its keeper that had them
/// left with its last network).
pub fn attach_running(spec: &Spec, net: &NetworkSpec, pid: i32, start: Option<u64>, report: c_int) -> i32 {
    let mut k = Keeper::new(spec, net, report);
    // Never a namespace of a process that is not the container's (a vm guest's pid taken for a host pid put the
    // network into the host's own namespace): exec's rule, and the start time.
    match crate::join::network_namespace(pid, start) {
        Ok(netns) => k.netns = Some(NetNs::Verified(netns)),
        Err(e) => {
            k.send_report(false, Some(e));
            return 1;
        }
    }
    let primary = net.gateway_endpoint || !attached_elsewhere(net);
    // Bound before the rootless namespaces are entered: the ports are the caller's, as at a start.
    let published = if primary { proxy::bind(&net.ports) } else { Ok(Vec::new()) };
    let ports = published.as_ref().map(|p| p.iter().map(|p| p.port).collect::<Vec<_>>()).unwrap_or_default();
    let ready = published.and_then(|published| {
        k.join_networks()?;
        if k.rootless.is_some() {
            in_reach(pid)?;
        }
        k.attach_all(primary)?;
        k.add_dnat(&published)?;
        k.record(&ports)?;
        k.update_files(spec)?;
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
    /// It has the container's default route (docker's gateway endpoint).
    route: bool,
}

/// The container's network namespace: its init's /proc entry (our own
/// clone), or one `join::network_namespace` verified (`network connect`),
/// kept open for the keeper's life.
enum NetNs {
    Child(i32),
    Verified(std::fs::File),
}

impl NetNs {
    fn path(&self) -> String {
        match self {
            NetNs::Child(pid) => format!("/proc/{}/ns/net", pid),
            NetNs::Verified(f) => format!("/proc/self/fd/{}", std::os::unix::io::AsRawFd::as_raw_fd(f)),
        }
    }
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
    netns: Option<NetNs>,
}

static SIGTERM_W: AtomicI32 = AtomicI32::new(-1);

/// SIGTERM: "t" (leave everything); SIGURG: "d" (look for detach requests).
extern "C" fn on_sigterm(sig: c_int, _info: *mut SigInfoHead, _ctx: *mut c_void) {
    signal::preserving_errno(|| {
        let w = SIGTERM_W.load(Ordering::SeqCst);
        if w >= 0 {
            let _ = fd::write(w, if sig == SIGURG { b"d" } else { b"t" });
        }
    });
}

/// `network disconnect` of a running container: asks the keeper recorded in
/// `<net dir>/attach-<network>.json` (checked by its start time: no other
/// process is signalled) to take that network's endpoint down — one keeper
/// serves all the networks a start joined, and SIGTERM would end them all —
/// and waits until its record is gone. A keeper that is gone left nothing
/// to take down but its stale record. `resolv`: the container's servers
/// before and after (`rewrite_resolv`), as a connect gives its keeper.
pub fn request_detach(dir: &Path, network: &str, resolv: Option<&(Dns, Dns)>) -> Result<(), Error> {
    take_down(dir, network)?;
    // Once the network is gone: its server no longer answers, and each lookup would wait for it first.
    match resolv {
        Some((was, now)) => rewrite_resolv(dir, was, now),
        None => Ok(()),
    }
}

fn take_down(dir: &Path, network: &str) -> Result<(), Error> {
    if network.is_empty() || network.contains('/') {
        return Err(Error::setup(format!("invalid network name {:?}", network)));
    }
    let record = dir.join(record_name(network));
    let text = match std::fs::read_to_string(&record) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::setup(format!("reading {}: {}", record.display(), e))),
    };
    let (keeper, start) = record_owner(&text).map_err(|e| Error::setup(format!("{}: {}", record.display(), e)))?;
    if keeper <= 1 || !process::alive(keeper, start) {
        let _ = std::fs::remove_file(&record);
        return Ok(());
    }
    let request = dir.join(request_name(network));
    files::write(dir, &request_name(network), "")?;
    let _ = process::kill(keeper, SIGURG);
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while record.exists() && process::alive(keeper, start) {
        if std::time::Instant::now() > end {
            let _ = std::fs::remove_file(&request);
            return Err(Error::setup(format!("the network keeper (process {}) did not take network {} down within 10 s", keeper, network)));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = std::fs::remove_file(&request);
    Ok(())
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
            netns: None,
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
        self.netns = Some(NetNs::Child(pid));
        self.attach_all(true)?;
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
        let uplink = self.net.rootless.as_ref().map(|_| rootless::UPLINK);
        for att in &self.net.attach {
            match bridge::join(&mut nl, att, &self.owner_for(att), uplink) {
                Ok(ip) => self.joined.push(Joined { att: att.clone(), ip, endpoint: None, route: false }),
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
    fn attach_all(&mut self, route: bool) -> Result<(), Error> {
        let nl = self.nl.as_mut().expect("netlink socket");
        let netns = self.netns.as_ref().expect("the container's network namespace").path();
        let gateway = self.joined.iter().position(|j| !j.att.internal).filter(|_| route);
        for (i, j) in self.joined.iter_mut().enumerate() {
            j.route = gateway == Some(i);
            j.endpoint = Some(attach::attach(nl, &netns, &j.att, j.ip, j.route)?);
        }
        Ok(())
    }

    /// A running container's /etc files after `network connect`, as docker's: its new addresses in /etc/hosts,
    /// and resolv.conf with `net`'s servers (a DNS network's server, which answers the names of all its
    /// networks and forwards the rest) when the caller gives some — unless the file is no longer what its
    /// record (`spec`) wrote: docker rewrites only the files it manages. In place: they are bind-mounted.
    fn update_files(&self, spec: &Spec) -> Result<(), Error> {
        let own: Vec<Ipv4Addr> = self.joined.iter().map(|j| j.ip).collect();
        let hosts = self.net.dir.join("hosts");
        if hosts.exists() {
            append_lines(&hosts, &own_hosts_lines(self.net, &own))?;
        }
        if let (false, Some(old)) = (self.net.dns.servers.is_empty(), spec.network.as_ref()) {
            rewrite_resolv(&self.net.dir, &old.dns, &self.net.dns)?;
        }
        Ok(())
    }

    /// Our published ports' DNAT rules (every copy of them), gone.
    fn remove_own_dnat(&mut self) {
        if let (Some(ipt), false) = (Iptables::find(), self.dnat.is_empty()) {
            let _ = ipt.remove_dnat(|r| r.tag == self.net.container_id && self.dnat.iter().any(|p| r.overlaps(p)));
        }
        self.dnat.clear();
    }

    /// The requests `request_detach` left for our networks: each goes, the others stay. False once none is left.
    fn take_requests(&mut self, proxy: &mut Proxy) -> bool {
        let mut i = 0;
        while i < self.joined.len() {
            let request = self.net.dir.join(request_name(&self.joined[i].att.name));
            if request.exists() {
                self.leave_one(i, proxy);
                let _ = std::fs::remove_file(request);
            } else {
                i += 1;
            }
        }
        !self.joined.is_empty()
    }

    /// One network of the running container's: its DNAT rules, veth, lease, hosts line and record. Docker moves
    /// the published ports and the default route to the next endpoint when the gateway endpoint leaves.
    fn leave_one(&mut self, i: usize, proxy: &mut Proxy) {
        let j = self.joined.remove(i);
        // The DNAT rules lead to the first network's address: they go with it (and come back on the next one, below).
        if i == 0 {
            self.remove_own_dnat();
        }
        if let Some(nl) = self.nl.as_mut() {
            if let Some(ep) = &j.endpoint {
                attach::detach(nl, ep);
            }
            bridge::leave(nl, &j.att, j.ip, self.owner.keeper);
        }
        let hosts = self.net.dir.join("hosts");
        // (a file the container grew past any /etc/hosts keeps its lines: the address no longer answers anyway)
        if let Some(text) = read_at_most(&hosts, 1 << 20) {
            let gone = own_hosts_lines(self.net, &[j.ip]);
            let _ = rewrite_in_place(&hosts, &text.split_inclusive('\n').filter(|l| !gone.contains(*l)).collect::<String>());
        }
        if let Some(next) = self.joined.first().map(|n| n.ip).filter(|_| i == 0) {
            proxy.retarget(next);
            let _ = self.add_dnat(proxy.published());
            let ports: Vec<Port> = proxy.published().iter().map(|p| p.port).collect();
            let _ = self.record(&ports);
        }
        if j.route {
            self.move_route();
        }
        // Last: `request_detach` (net-detach) returns once the record is gone, so the ports and the route are on
        // the next network by then (a connect right after saw neither and took them too).
        remove_own_record(&self.net.dir, &j.att.name, (self.owner.keeper, self.owner.keeper_start));
    }

    /// The default route, on the first network left that leads somewhere.
    fn move_route(&mut self) {
        let (netns, k) = match (self.netns.as_ref(), self.joined.iter().position(|j| !j.att.internal)) {
            (Some(n), Some(k)) => (n.path(), k),
            _ => return,
        };
        if let Ok(mut inside) = Netlink::open_in(Path::new(&netns)) {
            if link::add_default_route(&mut inside, self.joined[k].att.gateway).is_ok() {
                self.joined[k].route = true;
            }
        }
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
        if let Some(NetNs::Verified(f)) = &self.netns {
            keep.push(std::os::unix::io::AsRawFd::as_raw_fd(f));
        }
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
        let _ = signal::install(SIGURG, on_sigterm);
        // A request made before the handler was there (SIGURG is ignored by default).
        if !self.take_requests(&mut proxy) {
            return;
        }
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
            if (pidfd.is_some() && fds[1].revents != 0) || (pidfd.is_none() && container_gone(pid)) {
                return;
            }
            if fds[0].revents != 0 {
                let mut buf = [0u8; 64];
                let n = fd::read(term_r, &mut buf).unwrap_or(0);
                if n == 0 || buf[..n].contains(&b't') || !self.take_requests(&mut proxy) {
                    return;
                }
                continue;
            }
            proxy.ready(&fds[base..]);
        }
    }

    fn tear_down(&mut self) {
        self.remove_own_dnat();
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
                remove_own_record(&self.net.dir, &j.att.name, (self.owner.keeper, self.owner.keeper_start));
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

/// The keeper (pid, start time) a record names.
fn record_owner(text: &str) -> Result<(i32, u64), String> {
    let doc = json::parse(text).map_err(|e| e.to_string())?;
    let num = |k: &str| doc.get(k).and_then(Json::as_number).and_then(|n| n.as_u64());
    Ok((num("keeper").unwrap_or(0) as i32, num("keeperStart").unwrap_or(0)))
}

/// Removes `<dir>/attach-<network>.json` only while it is `owner`'s. A keeper
/// ends after its container, and a `stop` returns at the container's exit: by
/// the time a `network connect`'s keeper tears down, the next start's keeper
/// may have recorded the same network (with the published ports), and `tsbox
/// port` found none. The record is moved aside before it is removed, so one
/// renamed over it between the check and the removal is put back, not lost.
fn remove_own_record(dir: &Path, network: &str, owner: (i32, u64)) {
    let record = dir.join(record_name(network));
    let ours = |path: &Path| std::fs::read_to_string(path).ok().and_then(|t| record_owner(&t).ok()) == Some(owner);
    if !ours(&record) {
        return;
    }
    let aside = dir.join(format!(".{}.{}.gone", record_name(network), owner.0));
    if std::fs::rename(&record, &aside).is_err() {
        return;
    }
    if !ours(&aside) {
        // (fails if a newer one is there already: that one stays)
        let _ = std::fs::hard_link(&aside, &record);
    }
    let _ = std::fs::remove_file(&aside);
}

fn request_name(network: &str) -> String {
    format!("detach-{}", network)
}

/// The /etc/hosts lines of the container's own addresses `own` (files::hosts' layout).
fn own_hosts_lines(net: &NetworkSpec, own: &[Ipv4Addr]) -> String {
    let mut only = net.clone();
    only.extra_hosts.clear();
    files::hosts(&only, own, Some(""))
}

/// A bind-mounted file's new content, on the same inode (a rename would leave the container the old one).
/// The container's resolv.conf (in `dir`, bind-mounted: rewritten in place) with `now`'s servers, when it still
/// reads as `was` wrote it: docker rewrites only the files it manages, never one the user changed.
pub fn rewrite_resolv(dir: &Path, was: &Dns, now: &Dns) -> Result<(), Error> {
    let resolv = dir.join("resolv.conf");
    let ours = files::resolv_conf(was);
    if was == now || read_at_most(&resolv, ours.len() as u64).as_deref() != Some(ours.as_str()) {
        return Ok(());
    }
    rewrite_in_place(&resolv, &files::resolv_conf(now))
}

/// The file's text if it is at most `limit` bytes: the container writes these files (bind-mounted), and one it
/// grew to gigabytes is not what tsbox wrote — never read whole by a process of the host.
fn read_at_most(path: &Path, limit: u64) -> Option<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path).ok()?.take(limit + 1).read_to_string(&mut text).ok()?;
    if text.len() as u64 > limit {
        return None;
    }
    Some(text)
}

/// `lines` appended to the container's /etc/hosts (on a line of their own), without reading what the container
/// wrote there (docker's connect adds its entries so; the file may be any size).
fn append_lines(path: &Path, lines: &str) -> Result<(), Error> {
    use crate::error::Context;
    use std::io::Write;
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().read(true).append(true).open(path).step(|| format!("opening {}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut last = [b'\n'];
    if len > 0 {
        let _ = file.read_at(&mut last, len - 1);
    }
    let text = if last[0] == b'\n' { lines.to_string() } else { format!("\n{}", lines) };
    (&file).write_all(text.as_bytes()).step(|| format!("writing {}", path.display()))
}

/// `network disconnect`'s `dns`: `{was, now}`, the servers the container's record named and names without the network.
pub fn resolv_change(doc: &Json) -> Result<(Dns, Dns), Error> {
    let part = |key: &str| match doc.get(key) {
        Some(d) => spec::dns(d, &format!("dns.{}", key)).map_err(|e| Error::setup(e.to_string())),
        None => Err(Error::setup(format!("dns.{} is missing", key))),
    };
    Ok((part("was")?, part("now")?))
}

fn rewrite_in_place(path: &Path, text: &str) -> Result<(), Error> {
    use crate::error::Context;
    std::fs::write(path, text).step(|| format!("writing {}", path.display()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;

    fn dns(servers: &[&str]) -> Dns {
        Dns { servers: servers.iter().map(|s| s.to_string()).collect(), search: vec!["example.test".into()], options: vec![] }
    }

    #[test]
    fn a_keeper_removes_its_own_record_only() {
        let t = TempDir::new("records");
        let write = |keeper: i32, start: u64| files::write(&t.0, &record_name("n"), &format!("{{\"network\":\"n\",\"keeper\":{},\"keeperStart\":{}}}", keeper, start)).unwrap();
        let record = t.0.join(record_name("n"));
        // The next start's keeper wrote it: the old keeper's tear-down leaves it.
        write(200, 7);
        remove_own_record(&t.0, "n", (100, 5));
        assert!(std::fs::read_to_string(&record).unwrap().contains("\"keeper\":200"));
        // Same pid, another start time: not ours either.
        write(100, 6);
        remove_own_record(&t.0, "n", (100, 5));
        assert!(record.exists());
        write(100, 5);
        remove_own_record(&t.0, "n", (100, 5));
        assert!(!record.exists());
        remove_own_record(&t.0, "n", (100, 5)); // none: nothing to do
        assert_eq!(std::fs::read_dir(&t.0).unwrap().count(), 0, "nothing left aside");
    }

    #[test]
    fn resolv_follows_a_disconnect_only_where_tsbox_wrote_it() {
        let t = TempDir::new("resolv");
        let resolv = t.0.join("resolv.conf");
        let (was, now) = (dns(&["10.89.1.1", "192.0.2.1"]), dns(&["192.0.2.1"]));
        std::fs::write(&resolv, files::resolv_conf(&was)).unwrap();
        rewrite_resolv(&t.0, &was, &now).unwrap();
        assert_eq!(std::fs::read_to_string(&resolv).unwrap(), "nameserver 192.0.2.1\nsearch example.test\n");
        // The user's own file is left as it is.
        std::fs::write(&resolv, "nameserver 192.0.2.54\n").unwrap();
        rewrite_resolv(&t.0, &now, &was).unwrap();
        assert_eq!(std::fs::read_to_string(&resolv).unwrap(), "nameserver 192.0.2.54\n");
    }

    #[test]
    fn hosts_lines_are_appended_on_a_line_of_their_own_and_a_grown_resolv_conf_is_not_read() {
        let t = TempDir::new("hosts");
        let hosts = t.0.join("hosts");
        std::fs::write(&hosts, "127.0.0.1\tlocalhost\n192.0.2.9\tedited").unwrap();
        append_lines(&hosts, "10.89.1.2\tbox\n").unwrap();
        assert_eq!(std::fs::read_to_string(&hosts).unwrap(), "127.0.0.1\tlocalhost\n192.0.2.9\tedited\n10.89.1.2\tbox\n");
        let was = dns(&["10.89.1.1"]);
        let resolv = t.0.join("resolv.conf");
        std::fs::write(&resolv, format!("{}# more", files::resolv_conf(&was))).unwrap();
        assert_eq!(read_at_most(&resolv, files::resolv_conf(&was).len() as u64), None);
        rewrite_resolv(&t.0, &was, &dns(&[])).unwrap();
        assert!(std::fs::read_to_string(&resolv).unwrap().ends_with("# more"), "left as it is");
    }

    #[test]
    fn reads_the_change_from_its_json() {
        let doc = json::parse(r#"{"was":{"servers":["10.89.1.1"],"search":[],"options":["ndots:2"]},"now":{"servers":[],"search":[],"options":[]}}"#).unwrap();
        let (was, now) = resolv_change(&doc).unwrap();
        assert_eq!((was.servers, was.options, now.servers.len()), (vec!["10.89.1.1".to_string()], vec!["ndots:2".to_string()], 0));
        assert!(resolv_change(&json::parse(r#"{"was":{"servers":[],"search":[],"options":[]}}"#).unwrap()).is_err());
    }
}
