//! The way out of the guest for its containers, through the host (the
//! reverse of a published port; the addresses are the rootless helpers'):
//! * **TCP**: every new TCP connection the guest routes has its SYN held in
//!   the agent's nfqueue (`queue.rs`, `nft.rs`) and becomes a `dial` event
//!   `{dial, ip, port}`; the host connects out (`HOST_LOOPBACK` meaning its
//!   own 127.0.0.1: what `host-gateway` names) and answers with the `dialed`
//!   op: two stream channels (the `connect` op's machinery, `agent/socks.rs`)
//!   or an error. Only then is the SYN let go, so the container's connect()
//!   has the host's outcome, as with slirp: made, it reaches a listener on
//!   `HOST_LOOPBACK:RELAY_PORT` (an nftables DNAT) whose accepted connection
//!   is spliced to the channels; refused (ECONNREFUSED), it goes to a closed
//!   port and the guest's kernel resets it; failed otherwise (no route, timed
//!   out), it is dropped and the agent answers with ICMP net- or
//!   host-unreachable (`icmp.rs`: ENETUNREACH or EHOSTUNREACH at connect()).
//!   Accepting first and closing on a
//!   failed dial made every connect() succeed, the error showing only later
//!   as EOF (a wait-for-port loop took a closed port for an open one).
//! * **DNS**: UDP on `DNS:53`; an A question becomes a `resolve` event
//!   `{query, name}`, the host's resolver answers with the `resolved` op.
//!   Other types get an empty answer (IPv4 only, as on the native side).
//! Connections to a subnet the guest routes itself (another network's
//! containers) fail as unreachable: networks are isolated from each other. Nothing
//! from an `--internal` network's address is relayed: such a network has no
//! default route, and a container crafting its own packets to the gateway
//! (NET_RAW) must not get out that way either.

pub mod icmp;
pub mod nft;
pub mod queue;

use crate::agent::socks::Sock;
use crate::agent::{Agent, Ctr};
use container::json::Json;
use container::net::dns;
use container::net::link;
use container::net::netlink::Netlink;
use container::sys::errno::EEXIST;
use container::sys::socket;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::raw::c_int;
use std::os::unix::io::{AsRawFd, IntoRawFd};
use std::time::{Duration, Instant};

/// The host's loopback as containers see it (`--add-host NAME:host-gateway`).
pub const HOST_LOOPBACK: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The DNS forwarder containers' resolv.conf names.
pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// Where the DNAT sends connections (any port of HOST_LOOPBACK would do).
const RELAY_PORT: u16 = 1;
/// A port of HOST_LOOPBACK nothing listens on: a SYN sent there is reset.
const CLOSED_PORT: u16 = 2;
/// The mark that sends a held SYN to CLOSED_PORT (nft.rs).
const MARK_REFUSED: u32 = 1;
/// A SYN's outcome is kept this long for its retransmissions (Linux gives
/// up a connect() after about 127 s of them).
const DECIDED_FOR: Duration = Duration::from_secs(150);
/// A dialed connection whose container never completed the handshake (it
/// gave up meanwhile) is given up after this long (the host's wait too).
const READY_FOR: Duration = Duration::from_secs(30);
/// Connections and questions waiting for the host, at most.
const MAX_PENDING: usize = 1024;

/// A connection attempt: who, and its SYN's sequence number (which its
/// retransmissions repeat and a later attempt from the same port does not).
type Attempt = (SocketAddrV4, u32);

/// What becomes of an attempt's SYNs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Answer {
    /// On to the relay listener: the host's connection is ready.
    Relayed,
    /// Reset by the guest's kernel: ECONNREFUSED.
    Refused,
    /// Dropped, and an ICMP destination-unreachable of this code sent back.
    Unreachable(u8),
    /// Dropped, nothing said (an `--internal` network's).
    Dropped,
}

/// A dialed connection waiting for the container's handshake to reach the
/// listener: the `dialed` request, answered once spliced, and its channels.
pub(crate) struct Ready {
    pub request: u64,
    pub dial: u64,
    pub stdin: u32,
    pub stdout: u32,
    pub since: Instant,
}

pub struct Relay {
    listener: TcpListener,
    dns: UdpSocket,
    queue: queue::Queue,
    next: u64,
    /// Dials waiting for the host's `dialed`: the attempt, its SYN's quote (`icmp.rs`), its held SYNs' queue ids.
    pub(crate) dials: HashMap<u64, (Attempt, Vec<u8>, Vec<u32>)>,
    /// The dial of each held attempt.
    held: HashMap<Attempt, u64>,
    /// Attempts answered, for their retransmitted SYNs.
    decided: HashMap<Attempt, (Answer, Instant)>,
    /// Dialed connections by the container's address, until accepted.
    pub(crate) ready: HashMap<SocketAddrV4, Ready>,
    /// DNS questions waiting for the host's `resolved`: the packet, who asked.
    pub(crate) queries: HashMap<u64, (Vec<u8>, SocketAddr)>,
}

impl Relay {
    /// At boot, as the guest's root (before the snapshot): the two addresses
    /// on lo, the rule, the listeners.
    pub fn start() -> Result<Relay, String> {
        let mut nl = Netlink::open().map_err(|e| e.to_report().to_string())?;
        let lo = link::index(&mut nl, "lo").ok().flatten().ok_or("no lo")?;
        for ip in [HOST_LOOPBACK, DNS] {
            match link::add_address(&mut nl, lo, ip, 32) {
                Ok(()) | Err(EEXIST) => {}
                Err(e) => return Err(format!("adding {} to lo: {}", ip, e.description())),
            }
        }
        link::set_up(&mut nl, lo).map_err(|e| format!("bringing lo up: {}", e.description()))?;
        let marks = [(MARK_REFUSED, SocketAddrV4::new(HOST_LOOPBACK, CLOSED_PORT))];
        // The queue is bound before the rule sends SYNs to it (else they are dropped).
        let queue = queue::Queue::bind().map_err(|e| format!("binding the nfqueue: {}", e.description()))?;
        nft::redirect_tcp(SocketAddrV4::new(HOST_LOOPBACK, RELAY_PORT), &marks).map_err(|e| format!("the nftables rules: {}", e.description()))?;
        let listener = TcpListener::bind((HOST_LOOPBACK, RELAY_PORT)).map_err(|e| format!("listening on {}:{}: {}", HOST_LOOPBACK, RELAY_PORT, e))?;
        let dns = UdpSocket::bind((DNS, 53)).map_err(|e| format!("listening on {}:53: {}", DNS, e))?;
        listener.set_nonblocking(true).and_then(|_| dns.set_nonblocking(true)).map_err(|e| e.to_string())?;
        Ok(Relay { listener, dns, queue, next: 1, dials: HashMap::new(), held: HashMap::new(), decided: HashMap::new(), ready: HashMap::new(), queries: HashMap::new() })
    }

    pub fn listener_fd(&self) -> c_int {
        self.listener.as_raw_fd()
    }

    pub fn dns_fd(&self) -> c_int {
        self.dns.as_raw_fd()
    }

    pub fn queue_fd(&self) -> c_int {
        self.queue.fd()
    }

    /// Answers an attempt's held SYNs (`quote`: one of them, `icmp.rs`),
    /// and its retransmissions the same way.
    pub(crate) fn decide(&mut self, attempt: Attempt, quote: &[u8], ids: &[u32], answer: Answer) {
        self.answer_syns(quote, ids, answer);
        self.decided.insert(attempt, (answer, Instant::now()));
    }

    fn answer_syns(&self, quote: &[u8], ids: &[u32], answer: Answer) {
        let (verdict, mark) = match answer {
            Answer::Relayed => (queue::NF_ACCEPT, 0),
            Answer::Refused => (queue::NF_ACCEPT, MARK_REFUSED),
            Answer::Unreachable(_) | Answer::Dropped => (queue::NF_DROP, 0),
        };
        for id in ids {
            self.queue.verdict(*id, verdict, mark);
        }
        if let Answer::Unreachable(code) = answer {
            // Lost, the container's retransmission is answered again.
            let _ = icmp::send_unreachable(quote, code);
        }
    }

    /// How a failed dial's SYN is answered: a refusal as one, anything else
    /// as an unreachable network or host.
    pub(crate) fn failed(error: &str) -> Answer {
        if error == "ECONNREFUSED" {
            Answer::Refused
        } else {
            Answer::Unreachable(icmp::code_for(error))
        }
    }

    fn id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    /// Answers a question held in `queries`.
    pub(crate) fn answer(&mut self, query: u64, rcode: u8, addrs: &[Ipv4Addr]) -> bool {
        let (packet, from) = match self.queries.remove(&query) {
            Some(q) => q,
            None => return false,
        };
        if let Some(q) = dns::parse_query(&packet) {
            let _ = self.dns.send_to(&dns::answer(&packet, &q, rcode, addrs), from);
        }
        true
    }
}

/// Whether `ip` is in an `--internal` network of a container here.
fn on_internal_network(ctrs: &HashMap<String, Ctr>, ip: Ipv4Addr) -> bool {
    ctrs.values().any(|c| c.internal_subnets.iter().any(|s| s.contains(ip)))
}

/// A destination in a subnet the guest routes (a network of its own).
fn routed_in_guest(ip: Ipv4Addr) -> bool {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let ip = u32::from(ip);
    text.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let hex = |i: usize| f.get(i).and_then(|s| u32::from_str_radix(s, 16).ok()).map(u32::from_be);
        match (hex(1), hex(7)) {
            (Some(dest), Some(mask)) => mask != 0 && ip & mask == dest & mask,
            _ => false,
        }
    })
}

impl Agent {
    /// New SYNs in the queue: each new attempt a `dial` event, held until
    /// the host's `dialed` (ops/dialed.rs).
    pub(crate) fn relay_queue(&mut self) {
        self.relay_expire();
        let relay = match self.relay.as_mut() {
            Some(r) => r,
            None => return,
        };
        let mut events = Vec::new();
        for syn in relay.queue.read() {
            let attempt = (syn.from, syn.seq);
            if let Some((answer, _)) = relay.decided.get(&attempt) {
                relay.answer_syns(&syn.quote, &[syn.id], *answer);
                continue;
            }
            if let Some(dial) = relay.held.get(&attempt) {
                if let Some((_, _, ids)) = relay.dials.get_mut(dial) {
                    ids.push(syn.id);
                }
                continue;
            }
            if on_internal_network(&self.ctrs, *syn.from.ip()) {
                relay.decide(attempt, &syn.quote, &[syn.id], Answer::Dropped);
                continue;
            }
            let dst = syn.to;
            if dst.ip() != &HOST_LOOPBACK && routed_in_guest(*dst.ip()) {
                relay.decide(attempt, &syn.quote, &[syn.id], Answer::Unreachable(icmp::HOST_UNREACHABLE));
                continue;
            }
            if relay.dials.len() >= MAX_PENDING || relay.ready.len() >= MAX_PENDING {
                relay.decide(attempt, &syn.quote, &[syn.id], Answer::Refused);
                continue;
            }
            let dial = relay.id();
            relay.dials.insert(dial, (attempt, syn.quote, vec![syn.id]));
            relay.held.insert(attempt, dial);
            events.push(Json::object(vec![
                ("event", Json::from("dial")),
                ("dial", Json::from(dial)),
                ("ip", Json::from(dst.ip().to_string())),
                ("port", Json::from(dst.port() as u32)),
            ]));
        }
        for e in events {
            self.send_json(e);
        }
    }

    /// The host's `dialed` for `dial`: its held SYNs let go, to the listener
    /// (`ready`: answered once accepted) or, on `error`, to be refused.
    pub(crate) fn relay_dialed(&mut self, dial: u64, error: Option<&str>, ready: Option<Ready>) -> bool {
        let relay = match self.relay.as_mut() {
            Some(r) => r,
            None => return false,
        };
        let (attempt, quote, ids) = match relay.dials.remove(&dial) {
            Some(d) => d,
            None => return false,
        };
        relay.held.remove(&attempt);
        match ready {
            Some(r) if error.is_none() => {
                relay.ready.insert(attempt.0, r);
                relay.decide(attempt, &quote, &ids, Answer::Relayed);
            }
            _ => relay.decide(attempt, &quote, &ids, Relay::failed(error.unwrap_or(""))),
        }
        true
    }

    /// Forgets old outcomes; gives up dialed connections never accepted.
    fn relay_expire(&mut self) {
        let relay = match self.relay.as_mut() {
            Some(r) => r,
            None => return,
        };
        relay.decided.retain(|_, d| d.1.elapsed() < DECIDED_FOR);
        let stale: Vec<SocketAddrV4> = relay.ready.iter().filter(|(_, r)| r.since.elapsed() >= READY_FOR).map(|(a, _)| *a).collect();
        let requests: Vec<u64> = stale.iter().filter_map(|a| relay.ready.remove(a)).map(|r| r.request).collect();
        for request in requests {
            self.reply_err(request, crate::agent::op_error(container::ErrorKind::Spec, "the container's connection did not arrive"));
        }
    }

    /// New connections on the relay listener: each one a dialed connection's
    /// container side, spliced to the host's channels.
    pub(crate) fn relay_accept(&mut self) {
        self.relay_expire();
        loop {
            let relay = match self.relay.as_mut() {
                Some(r) => r,
                None => return,
            };
            let (stream, from) = match relay.listener.accept() {
                Ok((s, SocketAddr::V4(from))) => (s, from),
                Ok(_) => continue, // dropped: closed
                Err(_) => return,
            };
            let ready = match relay.ready.remove(&from) {
                Some(r) => r,
                None => {
                    let _ = socket::reset_on_close(stream.as_raw_fd());
                    continue; // not let through by a dial: reset
                }
            };
            if stream.set_nonblocking(true).is_err() {
                self.reply_err(ready.request, crate::agent::op_error(container::ErrorKind::Spec, "the container's connection failed"));
                continue;
            }
            // Answered by `sock_connected` once it polls writable (at once).
            self.add_sock(format!("dial:{}", ready.dial), Sock::new(stream.into_raw_fd(), ready.request, ready.stdin, ready.stdout));
        }
    }

    /// DNS questions: A to the host's resolver, anything else answered empty.
    pub(crate) fn relay_dns(&mut self) {
        let mut buf = [0u8; 1500];
        loop {
            let relay = match self.relay.as_mut() {
                Some(r) => r,
                None => return,
            };
            let (n, from) = match relay.dns.recv_from(&mut buf) {
                Ok((_, SocketAddr::V4(from))) if on_internal_network(&self.ctrs, *from.ip()) => continue,
                Ok(x) => x,
                Err(_) => return,
            };
            let q = match dns::parse_query(&buf[..n]) {
                Some(q) => q,
                None => continue,
            };
            if relay.queries.len() >= MAX_PENDING {
                continue;
            }
            let query = relay.id();
            relay.queries.insert(query, (buf[..n].to_vec(), from));
            if q.qtype != dns::TYPE_A && q.qtype != dns::TYPE_ANY {
                relay.answer(query, dns::RCODE_OK, &[]);
                continue;
            }
            self.send_json(Json::object(vec![
                ("event", Json::from("resolve")),
                ("query", Json::from(query)),
                ("name", Json::from(q.name)),
            ]));
        }
    }
}
