//! The way out of the guest for its containers, through the host (the
//! reverse of a published port; the addresses are the rootless helpers'):
//! * **TCP**: an nftables DNAT (`nft.rs`) sends every new TCP connection the
//!   guest routes to a listener on `HOST_LOOPBACK:RELAY_PORT`; each accepted
//!   one becomes a `dial` event `{dial, ip, port}` (its SO_ORIGINAL_DST), the
//!   host connects out (`HOST_LOOPBACK` meaning its own 127.0.0.1: what
//!   `host-gateway` names) and answers with the `dialed` op: two stream
//!   channels (the `connect` op's machinery, `agent/socks.rs`) or an error,
//!   upon which the connection is closed.
//! * **DNS**: UDP on `DNS:53`; an A question becomes a `resolve` event
//!   `{query, name}`, the host's resolver answers with the `resolved` op.
//!   Other types get an empty answer (IPv4 only, as on the native side).
//! Connections to a subnet the guest routes itself (another network's
//! containers) are refused: networks are isolated from each other. Nothing
//! from an `--internal` network's address is relayed: such a network has no
//! default route, and a container crafting its own packets to the gateway
//! (NET_RAW) must not get out that way either.

pub mod nft;

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

/// The host's loopback as containers see it (`--add-host NAME:host-gateway`).
pub const HOST_LOOPBACK: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// The DNS forwarder containers' resolv.conf names.
pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// Where the DNAT sends connections (any port of HOST_LOOPBACK would do).
const RELAY_PORT: u16 = 1;
/// Connections and questions waiting for the host, at most.
const MAX_PENDING: usize = 1024;

pub struct Relay {
    listener: TcpListener,
    dns: UdpSocket,
    next: u64,
    /// Accepted connections waiting for the host's `dialed`.
    pub(crate) dials: HashMap<u64, c_int>,
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
        nft::redirect_tcp(SocketAddrV4::new(HOST_LOOPBACK, RELAY_PORT)).map_err(|e| format!("the nftables rule: {}", e.description()))?;
        let listener = TcpListener::bind((HOST_LOOPBACK, RELAY_PORT)).map_err(|e| format!("listening on {}:{}: {}", HOST_LOOPBACK, RELAY_PORT, e))?;
        let dns = UdpSocket::bind((DNS, 53)).map_err(|e| format!("listening on {}:53: {}", DNS, e))?;
        listener.set_nonblocking(true).and_then(|_| dns.set_nonblocking(true)).map_err(|e| e.to_string())?;
        Ok(Relay { listener, dns, next: 1, dials: HashMap::new(), queries: HashMap::new() })
    }

    pub fn listener_fd(&self) -> c_int {
        self.listener.as_raw_fd()
    }

    pub fn dns_fd(&self) -> c_int {
        self.dns.as_raw_fd()
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
    /// New connections on the relay listener: each one a `dial` event.
    pub(crate) fn relay_accept(&mut self) {
        loop {
            let relay = match self.relay.as_mut() {
                Some(r) => r,
                None => return,
            };
            let stream = match relay.listener.accept() {
                Ok((s, SocketAddr::V4(from))) if !on_internal_network(&self.ctrs, *from.ip()) => s,
                Ok(_) => continue, // dropped: closed
                Err(_) => return,
            };
            let dst = match socket::original_dst(stream.as_raw_fd()) {
                Ok(d) => d,
                Err(_) => continue,
            };
            if relay.dials.len() >= MAX_PENDING || (dst.ip() != &HOST_LOOPBACK && routed_in_guest(*dst.ip())) || stream.set_nonblocking(true).is_err() {
                continue; // dropped: closed
            }
            let dial = relay.id();
            relay.dials.insert(dial, stream.into_raw_fd());
            self.send_json(Json::object(vec![
                ("event", Json::from("dial")),
                ("dial", Json::from(dial)),
                ("ip", Json::from(dst.ip().to_string())),
                ("port", Json::from(dst.port() as u32)),
            ]));
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
