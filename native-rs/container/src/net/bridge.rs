//! A network's shared state, changed only under its lock: the bridge (with
//! the gateway address, up), its NAT rule and forwarding, the leases, and
//! its DNS server. The first container to join creates them (the rules
//! follow the subnet: see `ensure_rules`); the last to
//! leave stops the DNS server and removes the bridge and its rules (as
//! netavark does) unless the network keeps its bridge (`keep_bridge`: root's
//! networks and the vm guest's, as docker keeps docker0): then `remove`
//! (`network rm`) takes them away.

use super::firewall::{self, Iptables};
use super::ipam::{self, Owner};
use super::link;
use super::lock::Lock;
use super::netlink::Netlink;
use super::spec::Attachment;
use super::dns_server;
use crate::error::{Context, Error};
use crate::sys::errno::{EEXIST, ENODEV};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Joins `att`'s network in our network namespace: its bridge is set up if
/// needed, and an address is leased to `owner`. `uplink`: the rootless
/// namespace's link to its helper (see `Iptables::add_bridge`).
pub fn join(nl: &mut Netlink, att: &Attachment, owner: &Owner, uplink: Option<&str>) -> Result<Ipv4Addr, Error> {
    // Looked at before the lock too: a network removed long ago gets no lock dir made again.
    refuse_removed(att, false)?;
    let _lock = Lock::acquire(&att.dir)?;
    refuse_removed(att, true)?;
    ensure_bridge(nl, att, uplink)?;
    crate::trace::mark("bridge: ensured");
    let ip = ipam::allocate(&att.dir, att.subnet, att.gateway, att.ip, owner)?;
    if att.dns {
        if let Err(e) = dns_server::ensure(att) {
            ipam::release(&att.dir, ip, owner.keeper);
            return Err(e);
        }
    }
    Ok(ip)
}

/// Gives the address back; the last container out removes the bridge,
/// its rules and the DNS server (the bridge and rules stay with
/// `keep_bridge`: making and removing them is ≈ 1 M of a container round
/// trip's ≈ 18 M guest instructions in the vm guest).
pub fn leave(nl: &mut Netlink, att: &Attachment, ip: Ipv4Addr, keeper: i32) {
    let _lock = match Lock::acquire(&att.dir) {
        Ok(l) => l,
        Err(_) => return,
    };
    ipam::release(&att.dir, ip, keeper);
    if !ipam::live(&att.dir).is_empty() {
        return;
    }
    if att.dns {
        dns_server::stop(&att.dir);
    }
    if att.keep_bridge {
        return;
    }
    if let Some(ipt) = Iptables::find() {
        ipt.remove_bridge(&att.bridge, &att.subnet.to_string());
    }
    forget_rules(&att.dir);
    let _ = link::delete(nl, &att.bridge);
}

/// A network whose record `network rm` deleted (under the lock, `locked`)
/// is not joined: its bridge and rules are gone for good. The lock dir a
/// late join made again goes too where it is not the record's own dir.
fn refuse_removed(att: &Attachment, locked: bool) -> Result<(), Error> {
    let record = match &att.record {
        Some(r) if !r.exists() => r,
        _ => return Ok(()),
    };
    if locked && record.parent() != Some(att.dir.as_path()) {
        let _ = fs::remove_file(att.dir.join("lock"));
        let _ = fs::remove_dir(&att.dir);
    }
    Err(Error::setup(format!("network {} not found: it was removed", att.name)))
}

/// `network rm` of a network that keeps its bridge: its DNS server, rules
/// and bridge go, then its `record`, all under its lock (so a join either
/// holds a lease first, which refuses the removal, or finds no record);
/// refused while a container holds a lease.
pub fn remove(dir: &Path, bridge: &str, subnet: &str, record: Option<&Path>) -> Result<(), Error> {
    let _lock = Lock::acquire(dir)?;
    refuse_in_use(dir, bridge)?;
    dns_server::stop(dir);
    if let Some(ipt) = Iptables::find() {
        ipt.remove_bridge(bridge, subnet);
    }
    forget_rules(dir);
    let mut nl = Netlink::open()?;
    match link::delete(&mut nl, bridge) {
        Ok(()) | Err(ENODEV) => {}
        Err(e) => return Err(e).step(|| format!("deleting bridge {}", bridge)),
    }
    remove_record(record)
}

/// `network rm` where no bridge is up (rootless, its namespace's holder
/// gone): only the `record` goes, under the lock as in `remove`.
pub fn remove_record_only(dir: &Path, bridge: &str, record: Option<&Path>) -> Result<(), Error> {
    let _lock = Lock::acquire(dir)?;
    refuse_in_use(dir, bridge)?;
    remove_record(record)
}

fn refuse_in_use(dir: &Path, bridge: &str) -> Result<(), Error> {
    if ipam::live(dir).is_empty() {
        return Ok(());
    }
    Err(Error::setup(format!("the network of bridge {} has active endpoints", bridge)))
}

fn remove_record(record: Option<&Path>) -> Result<(), Error> {
    match record.map(fs::remove_file) {
        None | Some(Ok(())) => Ok(()),
        Some(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Some(Err(e)) => Err(e).step(|| format!("removing {}", record.unwrap_or(Path::new("")).display())),
    }
}

fn ensure_bridge(nl: &mut Netlink, att: &Attachment, uplink: Option<&str>) -> Result<(), Error> {
    let step = || format!("creating bridge {} for network {}", att.bridge, att.name);
    let created = match link::create_bridge(nl, &att.bridge, att.mtu) {
        Ok(()) => true,
        Err(EEXIST) => false,
        Err(e) => return Err(e).step(step),
    };
    let index = link::index(nl, &att.bridge).step(step)?.ok_or_else(|| Error::setup(format!("bridge {} vanished", att.bridge)))?;
    link::add_address(nl, index, att.gateway, att.subnet.prefix).step(|| format!("adding {}/{} to bridge {}", att.gateway, att.subnet.prefix, att.bridge))?;
    link::set_up(nl, index).step(|| format!("bringing bridge {} up", att.bridge))?;
    ensure_rules(att, created, uplink)
}

/// The rules follow the subnet, not the bridge's creation: an existing
/// bridge can get a second subnet (root's `tsbox0`, which data dirs share,
/// once one of them chose another default subnet), and that subnet needs
/// its own MASQUERADE. `<dir>/rules` lists the subnets whose rules were
/// set up ("SUBNET nat|internal" a line), so a join on a set-up subnet runs
/// no iptables at all; a new bridge, or one this list does not know (made
/// before it existed), gets what is missing (`add_bridge` adds only that).
/// A NAT subnet's line says `nat-closed` since stop 66, when forwarding into
/// the bridge became replies and published ports only: a `nat` line's
/// bridge still has the old open accept, which `add_bridge` then replaces.
fn ensure_rules(att: &Attachment, created: bool, uplink: Option<&str>) -> Result<(), Error> {
    let line = format!("{} {}", att.subnet, if att.nat { "nat-closed" } else { "internal" });
    let file = att.dir.join("rules");
    let known = fs::read_to_string(&file).unwrap_or_default();
    if !created && known.lines().any(|l| l == line) {
        return Ok(());
    }
    if att.nat {
        firewall::enable_forwarding()?;
        Iptables::require()?.add_bridge(&att.bridge, &att.subnet.to_string(), true, uplink)?;
    } else {
        // An --internal network: its isolation where the host has iptables (forwarding may be off anyway).
        match Iptables::find() {
            Some(ipt) => ipt.add_bridge(&att.bridge, &att.subnet.to_string(), false, None)?,
            None => return Ok(()),
        }
    }
    if !known.lines().any(|l| l == line) {
        let mut f = OpenOptions::new().create(true).append(true).mode(0o600).open(&file).step(|| format!("opening {}", file.display()))?;
        f.write_all(format!("{}\n", line).as_bytes()).step(|| format!("writing {}", file.display()))?;
    }
    Ok(())
}

/// The bridge's rules are gone: the next bridge of this state dir sets them up again.
fn forget_rules(dir: &Path) {
    let _ = fs::remove_file(dir.join("rules"));
}
