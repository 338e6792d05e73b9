//! NAT and forwarding rules, through the `iptables` command (iptables-nft or
//! legacy, whichever the host's `iptables` is), as docker does: building
//! nf_tables netlink batches by hand buys little over it here, and the rules
//! stay readable with the host's own tools. Everything lives in TSBOX-*
//! chains jumped to from the built-in ones. A bridge's rules are set up
//! with two processes: one `iptables-save`, then one `iptables-restore
//! --noflush` batch of only what is missing (`-C`/`-N`/`-I` one process
//! each cost ≈ 10 ms apiece: 16 per run); removed the same way. So are a
//! container's published ports' DNAT rules, all of them in one batch (two
//! processes a port took 75 s for 2000 ports), which first deletes any rule
//! for the same ports: the keeper holds them (`proxy::bind`), so such a rule
//! is one a keeper that died unseen left, which would take the traffic.
//!
//!   nat    POSTROUTING -> TSBOX-POSTROUTING: -s SUBNET ! -o BRIDGE -j MASQUERADE
//!   nat    PREROUTING, OUTPUT (not to 127/8), dst-type LOCAL -> TSBOX-DNAT:
//!          [-d HOSTIP] ! -i BRIDGE -p PROTO --dport HOSTPORT -j DNAT --to-destination IP:PORT
//!   filter FORWARD -> TSBOX-FORWARD: -i BRIDGE -j ACCEPT; into it only replies
//!          and published ports' connections: -o BRIDGE -m conntrack --ctstate
//!          RELATED,ESTABLISHED (then DNAT) -j ACCEPT, then -o BRIDGE -j DROP
//!   filter TSBOX-FORWARD (at its top) -> TSBOX-ISOLATION-1, docker's two stages:
//!          -i BRIDGE ! -o BRIDGE -j TSBOX-ISOLATION-2, and there -o BRIDGE -j DROP
//!          after one RETURN for published ports' connections (ctstate DNAT)
//!          (an --internal network: -i BRIDGE ! -o BRIDGE -j DROP, ! -i BRIDGE -o BRIDGE -j DROP)
//!   filter INPUT, rootless only (the namespace of `rootless.rs`, never the
//!          host's): -i tap0 -m conntrack --ctstate INVALID -j DROP (`invalid_from`)
//!
//! So a container reaches the others of its network and, through NAT, the
//! outside, never a container of another network (a bridge of another
//! network is one hop away through the host) but by its published ports; and
//! nothing routed in from outside reaches a container but by those ports
//! (before stop 66, `-o BRIDGE -j ACCEPT` let any host of the LAN that routes
//! the subnet through this one reach every container's every port, and a
//! `-p 127.0.0.1:…` one's too: docker drops that "direct routing" as well).
//! The host's own connections to a container go through OUTPUT, not here.

use super::spec::Port;
use crate::error::Error;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

pub struct Iptables {
    binary: PathBuf,
}

impl Iptables {
    pub fn find() -> Option<Iptables> {
        crate::program::find_program("iptables").map(|binary| Iptables { binary })
    }

    /// Like `find`, with the error a network that needs NAT reports.
    pub fn require() -> Result<Iptables, Error> {
        Iptables::find().ok_or_else(|| Error::setup("outbound NAT for bridge networks needs iptables (Debian/Ubuntu package iptables), or use --network none/host"))
    }

    /// With `nat`, outbound traffic of a bridge's subnet masqueraded and
    /// forwarding allowed; always, no forwarding to or from another bridge;
    /// with `uplink` (the rootless namespace's link to pasta or slirp4netns,
    /// given with `nat` only), INVALID segments from it dropped: what of it
    /// is missing, in one batch.
    pub fn add_bridge(&self, bridge: &str, subnet: &str, nat: bool, uplink: Option<&str>) -> Result<(), Error> {
        let mut saved = Saved::parse(&self.save()?);
        // A bridge made before stop 66 accepted everything into it: that rule goes first (it would come before ours).
        if let Some(batch) = saved.present(&[open_forward(bridge)]) {
            self.restore(&batch)?;
            saved = Saved::parse(&self.save()?);
        }
        let mut rules = bridge_rules(bridge, subnet, nat);
        rules.extend(uplink.map(invalid_from));
        // Bridges made before isolation existed (kept until `network rm`) get theirs now.
        for other in saved.nat_bridges().into_iter().filter(|b| b != bridge) {
            rules.extend(isolation(&other));
        }
        match saved.missing(&rules) {
            Some(batch) => self.restore(&batch),
            None => Ok(()),
        }
    }

    /// Removes the bridge's rules, of either kind (every copy; the chains and jumps stay).
    pub fn remove_bridge(&self, bridge: &str, subnet: &str) {
        let saved = match self.save() {
            Ok(text) => Saved::parse(&text),
            Err(_) => return,
        };
        let mut rules = bridge_rules(bridge, subnet, true);
        rules.extend(bridge_rules(bridge, subnet, false));
        rules.push(open_forward(bridge));
        if let Some(batch) = saved.present(&rules) {
            let _ = self.restore(&batch);
        }
    }

    fn sibling(&self, name: &str) -> PathBuf {
        // The same variant as `iptables` (legacy or nft): its sibling, else whatever PATH has.
        let beside = self.binary.with_file_name(name);
        if beside.exists() {
            beside
        } else {
            crate::program::find_program(name).unwrap_or(beside)
        }
    }

    fn save(&self) -> Result<String, Error> {
        let binary = self.sibling("iptables-save");
        let out = Command::new(&binary).output().map_err(|e| Error::setup(format!("running {}: {}", binary.display(), e)))?;
        if !out.status.success() {
            return Err(Error::setup(format!("iptables-save: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn restore(&self, batch: &str) -> Result<(), Error> {
        use std::io::Write;
        use std::process::Stdio;
        let binary = self.sibling("iptables-restore");
        let mut child = Command::new(&binary)
            .args(["-w", "--noflush"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::setup(format!("running {}: {}", binary.display(), e)))?;
        let written = child.stdin.take().map(|mut i| i.write_all(batch.as_bytes()));
        let out = child.wait_with_output().map_err(|e| Error::setup(format!("running {}: {}", binary.display(), e)))?;
        if !out.status.success() || matches!(written, Some(Err(_))) {
            return Err(Error::setup(format!("iptables-restore: {}", String::from_utf8_lossy(&out.stderr).trim())));
        }
        Ok(())
    }

    /// A container's published ports reached from other hosts (loopback goes
    /// through the proxy), at the top of TSBOX-DNAT; any rule for the same
    /// traffic goes first (see the top).
    pub fn add_dnat(&self, bridge: &str, ports: &[Port], to: Ipv4Addr, tag: &str) -> Result<(), Error> {
        let ours: Vec<String> = ports.iter().map(|p| restore_text(&dnat(bridge, p, to, tag))).collect();
        self.change(|saved| Some(saved.publish(ports, &ours)))
    }

    /// Deletes the DNAT rules `gone` picks (every copy); none is fine.
    pub fn remove_dnat(&self, gone: impl Fn(&DnatRule) -> bool) -> Result<(), Error> {
        self.change(|saved| saved.unpublish(&gone))
    }

    /// `network prune`, `system prune`: the DNAT rules of ports no socket
    /// holds. A live keeper listens on its ports (`proxy::bind`), so these are
    /// what keepers that died unseen left, whichever data dir theirs were of.
    pub fn remove_unheld_dnat(&self) -> Result<(), Error> {
        let held = held_ports();
        self.remove_dnat(|r| !held.iter().any(|(protocol, port)| *protocol == r.protocol && *port == r.host_port))
    }

    /// One `iptables-save`, then one restore of the batch `make` writes from
    /// it (None: nothing to do). Another process may change the rules between
    /// the two (a `-D` of a rule it deleted fails the whole batch): then again
    /// from a fresh save.
    fn change(&self, make: impl Fn(&Saved) -> Option<String>) -> Result<(), Error> {
        let mut tries = 0;
        loop {
            let batch = match make(&Saved::parse(&self.save()?)) {
                Some(b) => b,
                None => return Ok(()),
            };
            match self.restore(&batch) {
                Err(_) if tries < 2 => tries += 1,
                done => return done,
            }
        }
    }
}

const DNAT: &str = "TSBOX-DNAT";

/// The jumps to TSBOX-DNAT, as iptables-save prints them: for the host's
/// addresses, from outside and from the host itself (not to 127/8: the proxy has loopback).
const DNAT_JUMPS: [(&str, &str); 2] = [("PREROUTING", "-m addrtype --dst-type LOCAL"), ("OUTPUT", "! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL")];

/// A rule of TSBOX-DNAT as iptables-save prints it (`spec`: after the
/// chain's name), and the traffic it takes.
#[derive(Debug, PartialEq)]
pub struct DnatRule {
    spec: String,
    /// What follows `tsbox ` in its comment: the container's id.
    pub tag: String,
    host_ip: Option<Ipv4Addr>,
    protocol: String,
    host_port: u16,
    /// The container's address it leads to.
    pub to: Option<Ipv4Addr>,
}

impl DnatRule {
    /// One of ours (tagged); None for anything else.
    fn parse(spec: &str) -> Option<DnatRule> {
        let words = split_quoted(spec);
        let after = |flag: &str| words.iter().position(|w| w == flag).and_then(|i| words.get(i + 1)).map(String::as_str);
        Some(DnatRule {
            tag: after("--comment")?.strip_prefix("tsbox ")?.to_string(),
            host_ip: match after("-d") {
                Some(d) => Some(d.trim_end_matches("/32").parse().ok()?),
                None => None,
            },
            protocol: after("-p")?.to_string(),
            host_port: after("--dport")?.parse().ok()?,
            to: after("--to-destination").and_then(|t| t.split(':').next()?.parse().ok()),
            spec: spec.to_string(),
        })
    }

    /// Whether it takes traffic `port` is published for: the same protocol
    /// and host port on an overlapping address (one of them any address).
    pub fn overlaps(&self, port: &Port) -> bool {
        let ip = Some(port.host_ip).filter(|ip| !ip.is_unspecified());
        self.protocol == port.protocol.as_str() && self.host_port == port.host_port && (ip.is_none() || self.host_ip.is_none() || ip == self.host_ip)
    }
}

/// The ports sockets of this network namespace are bound to: TCP ones
/// listening, any UDP one (`/proc/net/{tcp,udp}[6]`).
fn held_ports() -> Vec<(&'static str, u16)> {
    let mut held = Vec::new();
    for (file, protocol, listening) in [("tcp", "tcp", true), ("tcp6", "tcp", true), ("udp", "udp", false), ("udp6", "udp", false)] {
        let text = std::fs::read_to_string(format!("/proc/net/{}", file)).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = fields.get(1).and_then(|a| a.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
            if let (Some(port), Some(state)) = (port, fields.get(3)) {
                if !listening || *state == "0A" {
                    held.push((protocol, port));
                }
            }
        }
    }
    held
}

/// iptables-save's words: `"…"` is one (a comment), `\"` a quote in it.
fn split_quoted(text: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut escaped, mut any) = (Vec::new(), String::new(), false, false, false);
    for c in text.chars() {
        match c {
            _ if escaped => {
                word.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                any = false;
            }
            c => word.push(c),
        }
    }
    if any || !word.is_empty() {
        words.push(word);
    }
    words
}

/// A rule's words as a line of iptables-restore's input (a word with spaces quoted).
fn restore_text(words: &[String]) -> String {
    words.iter().map(|w| if w.contains(char::is_whitespace) { format!("\"{}\"", w) } else { w.clone() }).collect::<Vec<_>>().join(" ")
}

/// One rule a bridge needs: its table, chain and match (iptables-save's text).
struct Rule {
    table: &'static str,
    chain: &'static str,
    spec: String,
}

/// Our chains, each with the chain whose top jumps to it (none: only our rules do), in the order they are made.
const CHAINS: [(&str, &str, Option<&str>); 4] = [
    ("nat", "TSBOX-POSTROUTING", Some("POSTROUTING")),
    ("filter", "TSBOX-FORWARD", Some("FORWARD")),
    ("filter", "TSBOX-ISOLATION-1", Some("TSBOX-FORWARD")),
    ("filter", "TSBOX-ISOLATION-2", None),
];

fn bridge_rules(bridge: &str, subnet: &str, nat: bool) -> Vec<Rule> {
    let rule = |table, chain, spec: Vec<&str>| Rule { table, chain, spec: spec.join(" ") };
    if !nat {
        return vec![
            rule("filter", "TSBOX-ISOLATION-1", vec!["-i", bridge, "!", "-o", bridge, "-j", "DROP"]),
            rule("filter", "TSBOX-ISOLATION-1", vec!["!", "-i", bridge, "-o", bridge, "-j", "DROP"]),
        ];
    }
    let mut rules = vec![rule("nat", "TSBOX-POSTROUTING", masquerade(bridge, subnet))];
    for r in forward(bridge) {
        rules.push(rule("filter", "TSBOX-FORWARD", r));
    }
    rules.extend(isolation(bridge));
    rules
}

/// Segments from the rootless helper that conntrack calls INVALID, dropped
/// before the namespace's own stack sees them. They cannot be de-NATed, so
/// they reach that stack at the helper's address (10.0.2.100), where no
/// socket has the connection, and it answered with a reset, which the helper
/// takes as the container's and closes the connection to the outside. Debian
/// 12's pasta (before 2024-03, passt 4988e2b) sends a window update without
/// ACK after a container's first bytes to a remote server: no valid flags for
/// conntrack (so `nf_conntrack_tcp_be_liberal`, which only relaxes window
/// checks, would not help), and every download through it hung (podman
/// #22146: its rootless netns had the same trap). Dropped, the update is
/// lost, as a plain namespace ignores it. In INPUT, not FORWARD (netavark's
/// INVALID drop is there): not de-NATed, the segment is addressed to the
/// namespace itself.
fn invalid_from(uplink: &str) -> Rule {
    Rule { table: "filter", chain: "INPUT", spec: format!("-i {} -m conntrack --ctstate INVALID -j DROP", uplink) }
}

/// A NAT network's bridge in docker's two isolation stages.
fn isolation(bridge: &str) -> [Rule; 2] {
    [
        Rule { table: "filter", chain: "TSBOX-ISOLATION-1", spec: format!("-i {0} ! -o {0} -j TSBOX-ISOLATION-2", bridge) },
        Rule { table: "filter", chain: "TSBOX-ISOLATION-2", spec: format!("-o {} -j DROP", bridge) },
    ]
}

/// At the top of the second isolation stage: a connection to a published port
/// (DNATed to a container: both directions carry conntrack's DNAT state)
/// passes between NAT networks, as docker documents ("containers in other
/// bridge networks" reach published ports); an --internal network's bridge is
/// dropped in the first stage, before this. Shared by every bridge: it stays
/// with the chains.
const PUBLISHED: &str = "-m conntrack --ctstate DNAT -j RETURN";

/// What `iptables-save` printed: the chains and `-A` lines of each table.
struct Saved {
    chains: Vec<(String, String)>,
    rules: Vec<(String, String)>,
}

impl Saved {
    fn parse(text: &str) -> Saved {
        let mut saved = Saved { chains: Vec::new(), rules: Vec::new() };
        let mut table = String::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix('*') {
                table = t.trim().to_string();
            } else if let Some(decl) = line.strip_prefix(':') {
                let name = decl.split_whitespace().next().unwrap_or("");
                saved.chains.push((table.clone(), name.to_string()));
            } else if line.starts_with("-A ") {
                saved.rules.push((table.clone(), line.trim_end().to_string()));
            }
        }
        saved
    }

    /// The bridges of NAT networks: those TSBOX-FORWARD accepts from.
    fn nat_bridges(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|(t, _)| t == "filter")
            .filter_map(|(_, l)| l.strip_prefix("-A TSBOX-FORWARD -i ")?.strip_suffix(" -j ACCEPT").map(str::to_string))
            .collect()
    }

    fn has_chain(&self, table: &str, chain: &str) -> bool {
        self.chains.iter().any(|(t, c)| t == table && c == chain)
    }

    /// TSBOX-DNAT's rules that are ours.
    fn dnat_rules(&self) -> Vec<DnatRule> {
        let prefix = format!("-A {} ", DNAT);
        self.rules.iter().filter(|(t, _)| t == "nat").filter_map(|(_, l)| DnatRule::parse(l.strip_prefix(&prefix)?)).collect()
    }

    /// The batch inserting `rules` (those of `ports`) at the top of
    /// TSBOX-DNAT, made if missing, after deleting the rules for the same traffic.
    fn publish(&self, ports: &[Port], rules: &[String]) -> String {
        let mut lines = self.dnat_chain();
        for old in self.dnat_rules().iter().filter(|r| ports.iter().any(|p| r.overlaps(p))) {
            lines.push_str(&format!("-D {} {}\n", DNAT, old.spec));
        }
        for rule in rules {
            lines.push_str(&format!("-I {} {}\n", DNAT, rule));
        }
        format!("*nat\n{}COMMIT\n", lines)
    }

    /// The batch deleting the DNAT rules `gone` picks; None when it picks none.
    fn unpublish(&self, gone: &impl Fn(&DnatRule) -> bool) -> Option<String> {
        let lines: String = self.dnat_rules().iter().filter(|r| gone(r)).map(|r| format!("-D {} {}\n", DNAT, r.spec)).collect();
        if lines.is_empty() {
            None
        } else {
            Some(format!("*nat\n{}COMMIT\n", lines))
        }
    }

    /// The lines making TSBOX-DNAT and its jumps, what of them is missing.
    fn dnat_chain(&self) -> String {
        let mut lines = String::new();
        if !self.has_chain("nat", DNAT) {
            lines.push_str(&format!(":{} - [0:0]\n", DNAT));
        }
        for (parent, matches) in DNAT_JUMPS {
            if self.count("nat", &format!("-A {} {} -j {}", parent, matches, DNAT)) == 0 {
                lines.push_str(&format!("-I {} {} -j {}\n", parent, matches, DNAT));
            }
        }
        lines
    }

    fn count(&self, table: &str, line: &str) -> usize {
        self.rules.iter().filter(|(t, l)| t == table && l == line).count()
    }

    /// The `iptables-restore --noflush` batch adding what of `rules` (and
    /// our chains and jumps) is missing; None when nothing is. A chain is
    /// declared only when missing: `--noflush` still empties a declared one.
    fn missing(&self, rules: &[Rule]) -> Option<String> {
        batch(|table, lines| {
            // A table with rules to add gets all our chains of it (declared first, then jumped to).
            if !rules.iter().any(|r| r.table == table) {
                return;
            }
            let ours = || CHAINS.iter().filter(|(t, _, _)| *t == table);
            for (_, chain, _) in ours() {
                if !self.has_chain(table, chain) {
                    lines.push_str(&format!(":{} - [0:0]\n", chain));
                }
            }
            for (_, chain, parent) in ours() {
                if let Some(parent) = parent {
                    if self.count(table, &format!("-A {} -j {}", parent, chain)) == 0 {
                        lines.push_str(&format!("-I {} -j {}\n", parent, chain));
                    }
                }
            }
            if table == "filter" && self.count(table, &format!("-A TSBOX-ISOLATION-2 {}", PUBLISHED)) == 0 {
                lines.push_str(&format!("-I TSBOX-ISOLATION-2 {}\n", PUBLISHED));
            }
            for r in rules.iter().filter(|r| r.table == table) {
                if self.count(table, &format!("-A {} {}", r.chain, r.spec)) == 0 {
                    lines.push_str(&format!("-A {} {}\n", r.chain, r.spec));
                }
            }
        })
    }

    /// The batch deleting every copy of `rules` there is; None when none is.
    fn present(&self, rules: &[Rule]) -> Option<String> {
        batch(|table, lines| {
            for r in rules.iter().filter(|r| r.table == table) {
                for _ in 0..self.count(table, &format!("-A {} {}", r.chain, r.spec)) {
                    lines.push_str(&format!("-D {} {}\n", r.chain, r.spec));
                }
            }
        })
    }
}

/// An iptables-restore batch of the lines `table_lines` writes for each
/// table (a table with none is left out); None when there are none at all.
fn batch(mut table_lines: impl FnMut(&str, &mut String)) -> Option<String> {
    let mut batch = String::new();
    for table in ["nat", "filter"] {
        let mut lines = String::new();
        table_lines(table, &mut lines);
        if !lines.is_empty() {
            batch.push_str(&format!("*{}\n{}COMMIT\n", table, lines));
        }
    }
    if batch.is_empty() {
        None
    } else {
        Some(batch)
    }
}

fn masquerade<'a>(bridge: &'a str, subnet: &'a str) -> Vec<&'a str> {
    vec!["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"]
}

/// Out of the bridge anything; into it replies and published ports' connections (DNATed to a container), nothing else.
fn forward(bridge: &str) -> [Vec<&str>; 4] {
    [
        vec!["-i", bridge, "-j", "ACCEPT"],
        vec!["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        vec!["-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "ACCEPT"],
        vec!["-o", bridge, "-j", "DROP"],
    ]
}

/// What a bridge made before stop 66 accepted into it: everything.
fn open_forward(bridge: &str) -> Rule {
    Rule { table: "filter", chain: "TSBOX-FORWARD", spec: format!("-o {} -j ACCEPT", bridge) }
}

fn dnat(bridge: &str, port: &Port, to: Ipv4Addr, tag: &str) -> Vec<String> {
    let mut rule: Vec<String> = Vec::new();
    if !port.host_ip.is_unspecified() {
        rule.extend(["-d".into(), port.host_ip.to_string()]);
    }
    rule.extend(["!", "-i", bridge, "-p", port.protocol.as_str(), "--dport"].iter().map(|s| s.to_string()));
    rule.push(port.host_port.to_string());
    rule.extend(["-m", "comment", "--comment"].iter().map(|s| s.to_string()));
    rule.push(format!("tsbox {}", tag));
    rule.extend(["-j", "DNAT", "--to-destination"].iter().map(|s| s.to_string()));
    rule.push(format!("{}:{}", to, port.container_port));
    rule
}

/// Routing between the bridge and the outside: net.ipv4.ip_forward of the
/// namespace the bridge is in (docker sets it too).
pub fn enable_forwarding() -> Result<(), Error> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).map(|s| s.trim() == "1").unwrap_or(false) {
        return Ok(());
    }
    std::fs::write(path, "1").map_err(|e| Error::setup(format!("enabling IPv4 forwarding ({}): {}", path, e)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::spec::Protocol;

    #[test]
    fn rule_text() {
        let p = Port { host_ip: "0.0.0.0".parse().unwrap(), host_port: 8080, host_port_end: None, container_port: 80, protocol: Protocol::Tcp };
        assert_eq!(
            dnat("tsbox0", &p, "10.88.0.2".parse().unwrap(), "abc").join(" "),
            "! -i tsbox0 -p tcp --dport 8080 -m comment --comment tsbox abc -j DNAT --to-destination 10.88.0.2:80"
        );
        let p = Port { host_ip: "192.0.2.5".parse().unwrap(), protocol: Protocol::Udp, ..p };
        assert!(dnat("tsbox0", &p, "10.88.0.2".parse().unwrap(), "abc").join(" ").starts_with("-d 192.0.2.5 ! -i tsbox0 -p udp"));
        assert_eq!(masquerade("tsbox0", "10.88.0.0/16").join(" "), "-s 10.88.0.0/16 ! -o tsbox0 -j MASQUERADE");
    }

    #[test]
    fn published_ports_go_first_and_replace_a_dead_keeper_s() {
        let port = |ip: &str, n: u16, protocol| Port { host_ip: ip.parse().unwrap(), host_port: n, host_port_end: None, container_port: 80, protocol };
        let (web, dns) = (port("0.0.0.0", 18111, Protocol::Tcp), port("0.0.0.0", 53, Protocol::Udp));
        let ours: Vec<String> = [web, dns].iter().map(|p| restore_text(&dnat("tsbox0", p, "10.88.0.9".parse().unwrap(), "new"))).collect();
        // A fresh host: the chain and its jumps first, then the rules, one batch.
        assert_eq!(
            Saved::parse("*nat\n:PREROUTING ACCEPT [0:0]\nCOMMIT\n").publish(&[web, dns], &ours),
            "*nat\n:TSBOX-DNAT - [0:0]\n-I PREROUTING -m addrtype --dst-type LOCAL -j TSBOX-DNAT\n-I OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j TSBOX-DNAT\n\
             -I TSBOX-DNAT ! -i tsbox0 -p tcp --dport 18111 -m comment --comment \"tsbox new\" -j DNAT --to-destination 10.88.0.9:80\n\
             -I TSBOX-DNAT ! -i tsbox0 -p udp --dport 53 -m comment --comment \"tsbox new\" -j DNAT --to-destination 10.88.0.9:80\nCOMMIT\n"
        );
        // A killed keeper's rule for 18111 (it would win over ours) goes; other ports', a host address's of
        // another port and rules not ours stay.
        let stale = "! -i tsbox0 -p tcp -m tcp --dport 18111 -m comment --comment \"tsbox old\" -j DNAT --to-destination 10.88.0.2:80";
        let saved = Saved::parse(&format!(
            "*nat\n:TSBOX-DNAT - [0:0]\n-A PREROUTING -m addrtype --dst-type LOCAL -j TSBOX-DNAT\n-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j TSBOX-DNAT\n\
             -A TSBOX-DNAT {}\n\
             -A TSBOX-DNAT ! -i tsbox0 -p tcp -m tcp --dport 18112 -m comment --comment \"tsbox old\" -j DNAT --to-destination 10.88.0.2:81\n\
             -A TSBOX-DNAT -d 192.0.2.5/32 ! -i tsbox0 -p udp -m udp --dport 54 -m comment --comment \"tsbox other\" -j DNAT --to-destination 10.88.0.3:53\n\
             -A TSBOX-DNAT -p tcp -m tcp --dport 18111 -j DNAT --to-destination 10.1.1.1:80\nCOMMIT\n",
            stale
        ));
        assert_eq!(saved.publish(&[web], &ours[..1]), format!("*nat\n-D TSBOX-DNAT {}\n-I TSBOX-DNAT {}\nCOMMIT\n", stale, ours[0]));
        // A host address overlaps "any address" of the same port and protocol, not another address or protocol.
        let rules = saved.dnat_rules();
        assert_eq!(rules.len(), 3);
        assert_eq!((rules[2].tag.as_str(), rules[2].host_ip, rules[2].to), ("other", Some("192.0.2.5".parse().unwrap()), Some("10.88.0.3".parse().unwrap())));
        assert!(rules[2].overlaps(&port("0.0.0.0", 54, Protocol::Udp)) && rules[2].overlaps(&port("192.0.2.5", 54, Protocol::Udp)));
        assert!(!rules[2].overlaps(&port("192.0.2.6", 54, Protocol::Udp)) && !rules[2].overlaps(&port("0.0.0.0", 54, Protocol::Tcp)));
        // rm of a container whose keeper died: its rules, every one, in one batch.
        assert_eq!(
            saved.unpublish(&|r: &DnatRule| r.tag == "old").unwrap(),
            format!("*nat\n-D TSBOX-DNAT {}\n-D TSBOX-DNAT ! -i tsbox0 -p tcp -m tcp --dport 18112 -m comment --comment \"tsbox old\" -j DNAT --to-destination 10.88.0.2:81\nCOMMIT\n", stale)
        );
        assert!(saved.unpublish(&|r: &DnatRule| r.tag == "none").is_none());
        assert_eq!(split_quoted(r#"a "b c" "" d\"e"#), ["a", "b c", "", "d\"e"]);
    }

    #[test]
    fn batches_only_what_is_missing() {
        let rules = bridge_rules("tsbox0", "10.88.0.0/16", true);
        let empty = Saved::parse("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\nCOMMIT\n");
        assert_eq!(
            empty.missing(&rules).unwrap(),
            "*nat\n:TSBOX-POSTROUTING - [0:0]\n-I POSTROUTING -j TSBOX-POSTROUTING\n-A TSBOX-POSTROUTING -s 10.88.0.0/16 ! -o tsbox0 -j MASQUERADE\nCOMMIT\n\
             *filter\n:TSBOX-FORWARD - [0:0]\n:TSBOX-ISOLATION-1 - [0:0]\n:TSBOX-ISOLATION-2 - [0:0]\n\
             -I FORWARD -j TSBOX-FORWARD\n-I TSBOX-FORWARD -j TSBOX-ISOLATION-1\n-I TSBOX-ISOLATION-2 -m conntrack --ctstate DNAT -j RETURN\n\
             -A TSBOX-FORWARD -i tsbox0 -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -m conntrack --ctstate DNAT -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -j DROP\n\
             -A TSBOX-ISOLATION-1 -i tsbox0 ! -o tsbox0 -j TSBOX-ISOLATION-2\n-A TSBOX-ISOLATION-2 -o tsbox0 -j DROP\nCOMMIT\n"
        );
        assert!(empty.present(&rules).is_none());
        // Another bridge's rules are there already, from before isolation: only this one's are added, the
        // isolation chains and jump are made, and no existing chain is declared (that would flush it).
        let other = "*nat\n:POSTROUTING ACCEPT [0:0]\n:TSBOX-POSTROUTING - [0:0]\n-A POSTROUTING -j TSBOX-POSTROUTING\n-A TSBOX-POSTROUTING -s 10.89.0.0/24 ! -o tsbox-1 -j MASQUERADE\n-A TSBOX-POSTROUTING -s 10.88.0.0/16 ! -o tsbox0 -j MASQUERADE\nCOMMIT\n\
                     *filter\n:TSBOX-FORWARD - [0:0]\n-A FORWARD -j TSBOX-FORWARD\n-A TSBOX-FORWARD -i tsbox0 -j ACCEPT\nCOMMIT\n";
        let saved = Saved::parse(other);
        assert_eq!(saved.nat_bridges(), ["tsbox0"]);
        assert_eq!(
            saved.missing(&rules).unwrap(),
            "*filter\n:TSBOX-ISOLATION-1 - [0:0]\n:TSBOX-ISOLATION-2 - [0:0]\n-I TSBOX-FORWARD -j TSBOX-ISOLATION-1\n-I TSBOX-ISOLATION-2 -m conntrack --ctstate DNAT -j RETURN\n\
             -A TSBOX-FORWARD -o tsbox0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -m conntrack --ctstate DNAT -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -j DROP\n-A TSBOX-ISOLATION-1 -i tsbox0 ! -o tsbox0 -j TSBOX-ISOLATION-2\n-A TSBOX-ISOLATION-2 -o tsbox0 -j DROP\nCOMMIT\n"
        );
        assert_eq!(
            saved.present(&rules).unwrap(),
            "*nat\n-D TSBOX-POSTROUTING -s 10.88.0.0/16 ! -o tsbox0 -j MASQUERADE\nCOMMIT\n*filter\n-D TSBOX-FORWARD -i tsbox0 -j ACCEPT\nCOMMIT\n"
        );
        let complete = format!(
            "{}:TSBOX-ISOLATION-1 - [0:0]\n:TSBOX-ISOLATION-2 - [0:0]\n-A TSBOX-FORWARD -j TSBOX-ISOLATION-1\n-A TSBOX-ISOLATION-2 -m conntrack --ctstate DNAT -j RETURN\n\
             -A TSBOX-FORWARD -o tsbox0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -m conntrack --ctstate DNAT -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -j DROP\n-A TSBOX-ISOLATION-1 -i tsbox0 ! -o tsbox0 -j TSBOX-ISOLATION-2\n-A TSBOX-ISOLATION-2 -o tsbox0 -j DROP\n",
            other.trim_end_matches("COMMIT\n")
        );
        assert!(Saved::parse(&complete).missing(&rules).is_none());
        // A bridge from before stop 66 accepted everything routed into it: that rule is found to delete.
        assert_eq!(saved.present(&[open_forward("tsbox0")]), None);
        let open = Saved::parse("*filter\n:TSBOX-FORWARD - [0:0]\n-A TSBOX-FORWARD -i tsbox0 -j ACCEPT\n-A TSBOX-FORWARD -o tsbox0 -j ACCEPT\nCOMMIT\n");
        assert_eq!(open.present(&[open_forward("tsbox0")]).unwrap(), "*filter\n-D TSBOX-FORWARD -o tsbox0 -j ACCEPT\nCOMMIT\n");
        // Rootless: the helper's INVALID segments dropped in the same batch (INPUT is no chain of ours: not declared).
        let mut rootless = bridge_rules("tsbox0", "10.88.0.0/16", true);
        rootless.push(invalid_from("tap0"));
        let batch = empty.missing(&rootless).unwrap();
        assert!(batch.ends_with("-A TSBOX-ISOLATION-2 -o tsbox0 -j DROP\n-A INPUT -i tap0 -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n"), "{}", batch);
        assert!(!batch.contains(":INPUT"));
        let has = format!("{}*filter\n-A INPUT -i tap0 -m conntrack --ctstate INVALID -j DROP\nCOMMIT\n", complete);
        assert!(Saved::parse(&has).missing(&rootless).is_none(), "once there, not added again");
        // An --internal network: dropped both ways at the first stage.
        assert_eq!(
            bridge_rules("tsbox-2", "10.89.2.0/24", false).iter().map(|r| format!("{} {}", r.chain, r.spec)).collect::<Vec<_>>(),
            ["TSBOX-ISOLATION-1 -i tsbox-2 ! -o tsbox-2 -j DROP", "TSBOX-ISOLATION-1 ! -i tsbox-2 -o tsbox-2 -j DROP"]
        );
    }
}
