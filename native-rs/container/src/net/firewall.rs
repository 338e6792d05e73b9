//! NAT and forwarding rules, through the `iptables` command (iptables-nft or
//! legacy, whichever the host's `iptables` is), as docker does: building
//! nf_tables netlink batches by hand buys little over it here, and the rules
//! stay readable with the host's own tools. Everything lives in TSBOX-*
//! chains jumped to from the built-in ones; rules are added only when
//! missing (`-C`) and removed by their exact text (`-D`).
//!
//!   nat    POSTROUTING -> TSBOX-POSTROUTING: -s SUBNET ! -o BRIDGE -j MASQUERADE
//!   nat    PREROUTING, OUTPUT (not to 127/8), dst-type LOCAL -> TSBOX-DNAT:
//!          [-d HOSTIP] ! -i BRIDGE -p PROTO --dport HOSTPORT -j DNAT --to-destination IP:PORT
//!   filter FORWARD -> TSBOX-FORWARD: -i BRIDGE -j ACCEPT, -o BRIDGE -j ACCEPT

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
        super::find_program("iptables").map(|binary| Iptables { binary })
    }

    /// Like `find`, with the error a network that needs NAT reports.
    pub fn require() -> Result<Iptables, Error> {
        Iptables::find().ok_or_else(|| Error::setup("outbound NAT for bridge networks needs iptables (Debian/Ubuntu package iptables), or use --network none/host"))
    }

    fn run(&self, args: &[&str]) -> Result<bool, Error> {
        let out = Command::new(&self.binary)
            .arg("-w")
            .args(args)
            .output()
            .map_err(|e| Error::setup(format!("running {}: {}", self.binary.display(), e)))?;
        if out.status.success() {
            return Ok(true);
        }
        // `-C` says "no such rule" with status 1; real failures come with a message.
        let stderr = String::from_utf8_lossy(&out.stderr);
        if args.contains(&"-C") && out.status.code() == Some(1) {
            return Ok(false);
        }
        Err(Error::setup(format!("iptables {}: {}", args.join(" "), stderr.trim())))
    }

    fn ensure_chain(&self, table: &str, chain: &str, parents: &[(&str, &[&str])]) -> Result<(), Error> {
        let _ = self.run(&["-t", table, "-N", chain]); // exists already: fine
        for (parent, matches) in parents {
            let mut rule: Vec<&str> = matches.to_vec();
            rule.extend(["-j", chain]);
            self.ensure(table, parent, &rule, true)?;
        }
        Ok(())
    }

    /// Adds `rule` to `chain` unless it is there (`first`: at the top).
    fn ensure(&self, table: &str, chain: &str, rule: &[&str], first: bool) -> Result<(), Error> {
        let mut check = vec!["-t", table, "-C", chain];
        check.extend(rule);
        if self.run(&check)? {
            return Ok(());
        }
        let mut add = vec!["-t", table, if first { "-I" } else { "-A" }, chain];
        add.extend(rule);
        self.run(&add).map(drop)
    }

    /// Removes every copy of `rule` from `chain`; none is fine.
    fn remove(&self, table: &str, chain: &str, rule: &[&str]) {
        let mut del = vec!["-t", table, "-D", chain];
        del.extend(rule);
        for _ in 0..4 {
            if !matches!(self.run(&del), Ok(true)) {
                return;
            }
        }
    }

    /// Outbound traffic of a bridge's subnet masqueraded; forwarding allowed.
    pub fn add_bridge(&self, bridge: &str, subnet: &str) -> Result<(), Error> {
        self.ensure_chain("nat", "TSBOX-POSTROUTING", &[("POSTROUTING", &[])])?;
        self.ensure("nat", "TSBOX-POSTROUTING", &masquerade(bridge, subnet), false)?;
        self.ensure_chain("filter", "TSBOX-FORWARD", &[("FORWARD", &[])])?;
        for rule in forward(bridge) {
            self.ensure("filter", "TSBOX-FORWARD", &rule, false)?;
        }
        Ok(())
    }

    pub fn remove_bridge(&self, bridge: &str, subnet: &str) {
        self.remove("nat", "TSBOX-POSTROUTING", &masquerade(bridge, subnet));
        for rule in forward(bridge) {
            self.remove("filter", "TSBOX-FORWARD", &rule);
        }
    }

    /// A published port reached from other hosts (loopback goes through the proxy).
    pub fn add_dnat(&self, bridge: &str, port: &Port, to: Ipv4Addr, tag: &str) -> Result<(), Error> {
        self.ensure_chain(
            "nat",
            "TSBOX-DNAT",
            &[
                ("PREROUTING", &["-m", "addrtype", "--dst-type", "LOCAL"]),
                ("OUTPUT", &["!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL"]),
            ],
        )?;
        let rule = dnat(bridge, port, to, tag);
        self.ensure("nat", "TSBOX-DNAT", &rule.iter().map(String::as_str).collect::<Vec<_>>(), false)
    }

    pub fn remove_dnat(&self, bridge: &str, port: &Port, to: Ipv4Addr, tag: &str) {
        let rule = dnat(bridge, port, to, tag);
        self.remove("nat", "TSBOX-DNAT", &rule.iter().map(String::as_str).collect::<Vec<_>>());
    }
}

fn masquerade<'a>(bridge: &'a str, subnet: &'a str) -> Vec<&'a str> {
    vec!["-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE"]
}

fn forward(bridge: &str) -> [Vec<&str>; 2] {
    [vec!["-i", bridge, "-j", "ACCEPT"], vec!["-o", bridge, "-j", "ACCEPT"]]
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
        let p = Port { host_ip: "0.0.0.0".parse().unwrap(), host_port: 8080, container_port: 80, protocol: Protocol::Tcp };
        assert_eq!(
            dnat("tsbox0", &p, "10.88.0.2".parse().unwrap(), "abc").join(" "),
            "! -i tsbox0 -p tcp --dport 8080 -m comment --comment tsbox abc -j DNAT --to-destination 10.88.0.2:80"
        );
        let p = Port { host_ip: "192.0.2.5".parse().unwrap(), protocol: Protocol::Udp, ..p };
        assert!(dnat("tsbox0", &p, "10.88.0.2".parse().unwrap(), "abc").join(" ").starts_with("-d 192.0.2.5 ! -i tsbox0 -p udp"));
        assert_eq!(masquerade("tsbox0", "10.88.0.0/16").join(" "), "-s 10.88.0.0/16 ! -o tsbox0 -j MASQUERADE");
    }
}
