//! A network's name server (`tsbox-runtime net-dns`), as docker's embedded
//! DNS and podman's aardvark-dns do for user-defined networks: it answers
//! on the gateway address with the addresses of the network's containers,
//! looked up by name, short id or alias in the network's leases (so it never
//! holds a stale copy), then in those of the asker's other networks
//! (`lookup_elsewhere`), and passes other names to the upstream servers.
//! As docker's, it also answers `<name>.<network>` (`db.backend`) with the
//! container's address on that network (`named`).
//! The first container of the network starts it, the last stops it
//! (`bridge.rs`, under the network's lock); `<network dir>/dns.json` names it.

use super::daemon;
use super::dns::{self, Question};
use super::ipam;
use super::spec::Attachment;
use crate::error::Error;
use crate::json::{self, Json};
use crate::sys::consts::SIGTERM;
use crate::sys::process;
use crate::sys::types::PollFd;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STATE: &str = "dns.json";

fn running(dir: &Path) -> Option<(i32, u64)> {
    let doc = json::parse(&std::fs::read_to_string(dir.join(STATE)).ok()?).ok()?;
    let pid = doc.get("pid")?.as_number()?.as_i64()? as i32;
    let start = doc.get("start")?.as_number()?.as_u64()?;
    Some((pid, start)).filter(|(p, s)| process::alive(*p, *s))
}

/// Whether `pid` is in our network namespace (where the network's bridge is).
fn in_our_netns(pid: i32) -> bool {
    let ns = |p: &str| std::fs::read_link(format!("/proc/{}/ns/net", p)).ok();
    ns(&pid.to_string()).map_or(true, |theirs| Some(theirs) == ns("self"))
}

/// Starts the network's server unless it runs; called under the network's lock.
/// One left in another namespace — a rootless data dir's namespace whose
/// helper died, remade by the next run — answers nobody on this bridge: it
/// is stopped and a server started here (else names never resolved again
/// until the last of the old containers went).
pub fn ensure(att: &Attachment) -> Result<(), Error> {
    if let Some((pid, _)) = running(&att.dir) {
        if in_our_netns(pid) {
            return Ok(());
        }
        stop(&att.dir);
    }
    let mut args: Vec<String> = vec![
        "net-dns".into(),
        "--dir".into(),
        att.dir.display().to_string(),
        "--listen".into(),
        att.gateway.to_string(),
        "--device".into(),
        att.bridge.clone(),
        "--network".into(),
        att.name.clone(),
    ];
    for u in &att.upstream {
        args.push("--upstream".into());
        args.push(u.to_string());
    }
    let text = daemon::spawn(&args)?;
    if text != "ok" {
        return Err(Error::setup(format!("starting the DNS server of network {}: {}", att.name, if text.is_empty() { "it exited without a word" } else { &text })));
    }
    Ok(())
}

/// Stops it (and waits until it is gone); under the network's lock.
pub fn stop(dir: &Path) {
    if let Some((pid, start)) = running(dir) {
        let _ = process::kill(pid, SIGTERM);
        let until = Instant::now() + Duration::from_secs(5);
        while process::alive(pid, start) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let _ = std::fs::remove_file(dir.join(STATE));
}

pub struct Options {
    pub dir: PathBuf,
    pub listen: Ipv4Addr,
    /// The network's bridge: only queries that come through it are answered.
    pub device: Option<String>,
    /// The network's name, for `<container>.<network>` names (none: a server started by an older tsbox).
    pub network: String,
    pub upstream: Vec<Ipv4Addr>,
    pub ready_fd: i32,
}

impl Options {
    /// `--dir DIR --listen IP [--device BRIDGE] [--network NAME] [--upstream IP]… --ready-fd N` (what `ensure`
    /// passes; tsbox-runtime and the vm agent both run `net-dns`).
    pub fn parse(args: &[String]) -> Result<Options, String> {
        let mut dir = None;
        let mut listen = None;
        let mut device = None;
        let mut network = String::new();
        let mut ready_fd = None;
        let mut upstream = Vec::new();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let value = it.next().ok_or_else(|| format!("{} needs a value", flag))?;
            let ip = || value.parse::<Ipv4Addr>().map_err(|_| format!("{}: expected an IPv4 address, got {:?}", flag, value));
            match flag.as_str() {
                "--dir" => dir = Some(PathBuf::from(value)),
                "--listen" => listen = Some(ip()?),
                "--device" => device = Some(value.clone()),
                "--network" => network = value.clone(),
                "--upstream" => upstream.push(ip()?),
                "--ready-fd" => ready_fd = Some(value.parse().map_err(|_| "--ready-fd: expected a file descriptor number".to_string())?),
                other => return Err(format!("unknown option {}", other)),
            }
        }
        Ok(Options {
            dir: dir.ok_or("net-dns needs --dir DIR")?,
            listen: listen.ok_or("net-dns needs --listen IP")?,
            device,
            network,
            upstream,
            ready_fd: ready_fd.ok_or("net-dns needs --ready-fd N")?,
        })
    }
}

struct Pending {
    client: SocketAddr,
    id: u16,
    since: Instant,
}

/// Queries forwarded and not yet answered, in all and per client address: a
/// flooding container gets SERVFAIL for what is beyond its share, and never
/// takes the ids of others' queries.
const MAX_PENDING: usize = 1024;
const MAX_PENDING_PER_CLIENT: u32 = 64;
/// Client packets handled before the upstream socket is looked at again:
/// with no bound a flood kept the loop on the client side and upstream
/// answers went unread for everyone.
const CLIENT_BATCH: usize = 64;

/// The server. Ends on SIGTERM (default action) or, as a safety net when
/// its stopper was killed, once the network has had no live lease for a
/// while.
pub fn main(o: Options) -> i32 {
    let ready = daemon::Ready::new(o.ready_fd);
    let socket = match UdpSocket::bind(SocketAddrV4::new(o.listen, 53)) {
        Ok(s) => s,
        Err(e) => {
            ready.report(&format!("binding {}:53: {}", o.listen, e));
            return 1;
        }
    };
    // The gateway is an address of the host (or of the rootless namespace, or the guest), which every
    // container reaches: bound to the bridge, a container on another network cannot read this one's names
    // nor spend its clients' query shares with their forged addresses (the kernel checks the interface).
    if let Some(dev) = &o.device {
        if let Err(e) = crate::sys::socket::bind_to_device(socket.as_raw_fd(), dev) {
            ready.report(&format!("binding the DNS socket to {}: {}", dev, e.description()));
            return 1;
        }
    }
    let upstream = match UdpSocket::bind("0.0.0.0:0") {
        Ok(s) => s,
        Err(e) => {
            ready.report(&format!("opening the upstream socket: {}", e));
            return 1;
        }
    };
    let me = std::process::id() as i32;
    // The network's name too: the servers of the asker's other networks answer `<name>.<network>` by it.
    let state = Json::object(vec![("pid", Json::from(me)), ("start", Json::from(process::start_time(me).unwrap_or(0))), ("network", Json::from(o.network.as_str()))]);
    if let Err(e) = super::files::write(&o.dir, STATE, &state.to_string()) {
        ready.report(&e.message);
        return 1;
    }
    ready.ok();
    crate::sys::fd::detach_from_parent_fds(&[socket.as_raw_fd(), upstream.as_raw_fd()]);
    let _ = socket.set_nonblocking(true);
    let _ = upstream.set_nonblocking(true);

    let mut pending: HashMap<u16, Pending> = HashMap::new();
    let mut leases = LeaseCache { dir: o.dir.clone(), stamp: None, at: Instant::now(), live: Vec::new() };
    let mut elsewhere = Elsewhere { dir: o.dir.clone(), at: None, live: Vec::new() };
    let mut per_client: HashMap<std::net::IpAddr, u32> = HashMap::new();
    // Upstream query ids are random, never a sequence: a container that can
    // send packets with a forged source (NET_RAW) must not be able to guess
    // the id of a query it caused and answer it first (cache poisoning for
    // every container of the network). The upstream port is the kernel's pick.
    let mut random = std::fs::File::open("/dev/urandom").ok();
    // Mixed in so the loop ends even without /dev/urandom.
    let mut counter: u16 = (me as u16).wrapping_mul(31);
    let mut fresh_id = |pending: &HashMap<u16, Pending>| loop {
        let mut b = [0u8; 2];
        if let Some(f) = random.as_mut() {
            let _ = std::io::Read::read_exact(f, &mut b);
        }
        counter = counter.wrapping_add(1);
        let id = u16::from_ne_bytes(b) ^ counter;
        // Never all taken: at most MAX_PENDING are.
        if !pending.contains_key(&id) {
            return id;
        }
    };
    let mut idle_since: Option<Instant> = None;
    let mut last_check = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        let mut fds = [PollFd { fd: socket.as_raw_fd(), events: 0x1, revents: 0 }, PollFd { fd: upstream.as_raw_fd(), events: 0x1, revents: 0 }];
        let _ = super::proxy::poll(&mut fds, 1000);
        for _ in 0..CLIENT_BATCH {
            let (n, client) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(_) => break,
            };
            let packet = &buf[..n];
            let q = match dns::parse_query(packet) {
                Some(q) => q,
                None => continue,
            };
            // A container's address asked in reverse is answered from the leases (docker's embedded DNS does):
            // it is not sent upstream, which would tell the host's resolver the network's addresses.
            if q.qtype == dns::TYPE_PTR {
                if let Some(name) = dns::reverse_address(&q.name).and_then(|ip| reverse_name(leases.live(), ip)) {
                    let _ = socket.send_to(&dns::answer_ptr(packet, &q, &name), client);
                    continue;
                }
            }
            let known = lookup(&mut leases, &o.network, &q).or_else(|| match client {
                SocketAddr::V4(c) => lookup_elsewhere(elsewhere.live(), leases.live(), *c.ip(), &q),
                SocketAddr::V6(_) => None,
            });
            match known {
                Some(addrs) => {
                    let _ = socket.send_to(&dns::answer(packet, &q, dns::RCODE_OK, &addrs), client);
                }
                // A single label is a container's name or nothing: no upstream
                // knows it, and a fast "no" beats a resolver's timeout.
                None if o.upstream.is_empty() || !q.name.contains('.') => {
                    let _ = socket.send_to(&dns::answer(packet, &q, dns::RCODE_NXDOMAIN, &[]), client);
                }
                None => {
                    // Counted only once forwarded: the map never outgrows `pending`, forged sources or not.
                    if pending.len() >= MAX_PENDING || per_client.get(&client.ip()).map_or(false, |c| *c >= MAX_PENDING_PER_CLIENT) {
                        let _ = socket.send_to(&dns::answer(packet, &q, dns::RCODE_SERVFAIL, &[]), client);
                        continue;
                    }
                    *per_client.entry(client.ip()).or_insert(0) += 1;
                    let id = fresh_id(&pending);
                    pending.insert(id, Pending { client, id: q.id, since: Instant::now() });
                    let _ = upstream.send_to(&dns::with_id(packet, id), SocketAddrV4::new(o.upstream[0], 53));
                }
            }
        }
        while let Ok((n, from)) = upstream.recv_from(&mut buf) {
            if n < 12 || !o.upstream.iter().any(|u| SocketAddr::V4(SocketAddrV4::new(*u, 53)) == from) {
                continue;
            }
            let ours = u16::from_be_bytes([buf[0], buf[1]]);
            if let Some(p) = pending.remove(&ours) {
                release(&mut per_client, &p);
                let _ = socket.send_to(&dns::with_id(&buf[..n], p.id), p.client);
            }
        }
        pending.retain(|_, p| {
            let keep = p.since.elapsed() < Duration::from_secs(5);
            if !keep {
                release(&mut per_client, p);
            }
            keep
        });
        if last_check.elapsed() >= Duration::from_secs(1) {
            last_check = Instant::now();
            if ipam::live(&o.dir).is_empty() {
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_secs(10) {
                    let _ = std::fs::remove_file(o.dir.join(STATE));
                    return 0;
                }
            } else {
                idle_since = None;
            }
        }
    }
}

/// The network's live leases, read again when its leases dir changes (a
/// lease taken, released or renamed; and at least each second, for a keeper
/// that died): a flood of lookups no longer reads every lease file each.
struct LeaseCache {
    dir: PathBuf,
    stamp: Option<std::time::SystemTime>,
    at: Instant,
    live: Vec<(Ipv4Addr, ipam::Owner)>,
}

impl LeaseCache {
    fn live(&mut self) -> &[(Ipv4Addr, ipam::Owner)] {
        let stamp = std::fs::metadata(ipam::leases_dir(&self.dir)).and_then(|m| m.modified()).ok();
        if stamp.is_none() || stamp != self.stamp || self.at.elapsed() >= Duration::from_secs(1) {
            self.live = ipam::live(&self.dir);
            self.stamp = stamp;
            self.at = Instant::now();
        }
        &self.live
    }
}

/// One fewer query of `p`'s client in flight.
fn release(per_client: &mut HashMap<std::net::IpAddr, u32>, p: &Pending) {
    if let Some(c) = per_client.get_mut(&p.client.ip()) {
        *c -= 1;
        if *c == 0 {
            per_client.remove(&p.client.ip());
        }
    }
}

/// The name a live lease of `ip` goes by: the container's name (its hostname, or else its short id, when it has none).
fn reverse_name(live: &[(Ipv4Addr, ipam::Owner)], ip: Ipv4Addr) -> Option<String> {
    let names = &live.iter().find(|(a, _)| *a == ip)?.1.names;
    names.get(2).or_else(|| names.get(1)).cloned()
}

/// The network's addresses for the question's name: Some(empty) for a
/// known name asked for another type (AAAA: there is none, no need to ask
/// elsewhere), None for a name we do not know.
fn lookup(leases: &mut LeaseCache, network: &str, q: &Question) -> Option<Vec<Ipv4Addr>> {
    answer(q, named(leases.live(), network, &q.name))
}

/// docker's embedded DNS answers for every network the asking container is
/// on: a name this network does not know is looked up in the leases of the
/// asker's other networks that have a DNS server, whose state dirs are this
/// one's siblings (root's `/run/tsbox-net/netns-N/<bridge>`, rootless a data
/// dir's `networks/<name>`, the vm guest's `/run/tsbox-net/<name>`). The
/// asker is known by its address on this network.
fn lookup_elsewhere(others: &[Sibling], own: &[(Ipv4Addr, ipam::Owner)], client: Ipv4Addr, q: &Question) -> Option<Vec<Ipv4Addr>> {
    let asker = &own.iter().find(|(ip, _)| *ip == client)?.1.container;
    let found = others
        .iter()
        .filter(|s| s.live.iter().any(|(_, o)| &o.container == asker))
        .flat_map(|s| named(&s.live, &s.network, &q.name))
        .collect();
    answer(q, found)
}

/// Another DNS network of the same host: its name (from its server's state) and live leases.
struct Sibling {
    network: String,
    live: Vec<(Ipv4Addr, ipam::Owner)>,
}

/// The sibling networks' live leases, read at most four times a second: a
/// flood of unknown names made every query a walk of their dirs, and the
/// names of the network's own containers stopped resolving
/// (test/network.test.ts); a network connected since is seen within 250 ms.
struct Elsewhere {
    dir: PathBuf,
    at: Option<Instant>,
    live: Vec<Sibling>,
}

impl Elsewhere {
    fn live(&mut self) -> &[Sibling] {
        if self.at.map_or(true, |at| at.elapsed() >= Duration::from_millis(250)) {
            self.live = self
                .dir
                .parent()
                .and_then(|p| std::fs::read_dir(p).ok())
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|other| *other != self.dir)
                        .filter_map(|other| {
                            let state = json::parse(&std::fs::read_to_string(other.join(STATE)).ok()?).ok()?;
                            let network = state.get("network").and_then(|n| n.as_str()).unwrap_or("").to_string();
                            Some(Sibling { network, live: ipam::live(&other) })
                        })
                        .collect()
                })
                .unwrap_or_default();
            self.at = Some(Instant::now());
        }
        &self.live
    }
}

/// The addresses of the network's containers (its live leases) that go by
/// `name` or, as docker's embedded DNS also answers ("container_name and
/// container_name.network_name", libnetwork `Sandbox.ResolveName`), by
/// `name` less a trailing `.<network>`. Such a name of no container goes
/// upstream as any other (a network may be named like a domain).
fn named(live: &[(Ipv4Addr, ipam::Owner)], network: &str, name: &str) -> Vec<Ipv4Addr> {
    let short = without_network(name, network);
    let matches = |n: &String| n.eq_ignore_ascii_case(name) || short.map_or(false, |s| n.eq_ignore_ascii_case(s));
    live.iter().filter(|(_, o)| o.names.iter().any(matches)).map(|(ip, _)| *ip).collect()
}

/// `name` less a trailing `.<network>` (any case), if it ends so and something is left.
fn without_network<'a>(name: &'a str, network: &str) -> Option<&'a str> {
    let cut = name.len().checked_sub(network.len() + 1).filter(|c| *c > 0 && !network.is_empty())?;
    let (head, tail) = (name.get(..cut)?, name.get(cut..)?);
    let suffix = tail.strip_prefix('.')?;
    if suffix.eq_ignore_ascii_case(network) {
        Some(head)
    } else {
        None
    }
}

fn answer(q: &Question, found: Vec<Ipv4Addr>) -> Option<Vec<Ipv4Addr>> {
    if found.is_empty() {
        return None;
    }
    Some(if q.qtype == dns::TYPE_A || q.qtype == dns::TYPE_ANY { found } else { Vec::new() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(ip: &str, container: &str, names: &[&str]) -> (Ipv4Addr, ipam::Owner) {
        let names = names.iter().map(|n| n.to_string()).collect();
        (ip.parse().unwrap(), ipam::Owner { container: container.into(), names, keeper: 1, keeper_start: 1 })
    }

    #[test]
    fn answers_container_dot_network() {
        let live = [lease("10.89.0.2", "a1", &["a1", "a1short", "srv", "web"])];
        let ip: Vec<Ipv4Addr> = vec!["10.89.0.2".parse().unwrap()];
        assert_eq!(named(&live, "n2a", "srv"), ip);
        assert_eq!(named(&live, "n2a", "srv.n2a"), ip);
        assert_eq!(named(&live, "n2a", "WEB.N2A"), ip, "any case, aliases too");
        assert!(named(&live, "n2a", "srv.n2b").is_empty(), "another network's suffix");
        assert!(named(&live, "n2a", "srv.xn2a").is_empty());
        assert!(named(&live, "n2a", ".n2a").is_empty());
        assert!(named(&live, "", "srv.").is_empty(), "a server that was not told its network's name");
        assert_eq!(without_network("db.my.net", "my.net"), Some("db"));
        assert_eq!(without_network("n2a", "n2a"), None);
    }

    #[test]
    fn asker_s_other_networks_by_their_names() {
        let own = [lease("10.89.0.3", "asker", &["asker"])];
        let b = Sibling { network: "n2b".into(), live: vec![lease("10.89.1.2", "asker", &["asker"]), lease("10.89.1.3", "s", &["srv"])] };
        let q = |name: &str| Question { id: 1, name: name.into(), qtype: dns::TYPE_A, end: 0 };
        let client: Ipv4Addr = "10.89.0.3".parse().unwrap();
        assert_eq!(lookup_elsewhere(&[b], &own, client, &q("srv.n2b")), Some(vec!["10.89.1.3".parse().unwrap()]));
    }
}
