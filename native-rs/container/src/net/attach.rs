//! A container's end of a network: a veth pair whose host end joins the
//! bridge and whose other end is created directly in the container's network
//! namespace as eth0 (eth1, … for later networks), given its address and,
//! for the first network, the default route.

use super::link;
use super::netlink::Netlink;
use super::spec::Attachment;
use crate::error::{Context, Error};
use crate::sys::errno::EEXIST;
use crate::sys::fd;
use crate::sys::process::{self, Forked};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::unix::io::AsRawFd;
use std::path::Path;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The veth end on the bridge, in our namespace.
    pub host_if: String,
    /// Its name in the container.
    pub ifname: String,
    pub mac: String,
}

/// Connects the container whose network namespace `netns_path` names (its
/// init's /proc/PID/ns/net, or a descriptor of it the caller verified) to
/// `att`'s bridge (in our network namespace, through `nl`) with address `ip`.
pub fn attach(nl: &mut Netlink, netns_path: &str, att: &Attachment, ip: Ipv4Addr, default_route: bool) -> Result<Endpoint, Error> {
    let netns = File::open(netns_path).step(|| format!("opening {}", netns_path))?;
    let host_if = format!("tsbox{}", random_hex(4));
    let mut ifname = String::new();
    for n in 0..16 {
        let candidate = format!("eth{}", n);
        match link::create_veth(nl, &host_if, &candidate, netns.as_raw_fd(), att.mtu, att.mac) {
            Ok(()) => {
                ifname = candidate;
                break;
            }
            // The name is taken in the container (an earlier network): the next one.
            Err(EEXIST) if link::index(nl, &host_if).ok().flatten().is_none() => continue,
            Err(e) => return Err(e).step(|| format!("creating veth pair {} for network {}", host_if, att.name)),
        }
    }
    if ifname.is_empty() {
        return Err(Error::setup("the container has no free interface name eth0..eth15"));
    }
    crate::trace::mark("attach: veth pair made");
    let done = configure(nl, netns_path, &host_if, &ifname, att, ip, default_route);
    match done {
        Ok(mac) => Ok(Endpoint { host_if, ifname, mac }),
        Err(e) => {
            let _ = link::delete(nl, &host_if);
            Err(e)
        }
    }
}

fn configure(nl: &mut Netlink, netns: &str, host_if: &str, ifname: &str, att: &Attachment, ip: Ipv4Addr, default_route: bool) -> Result<String, Error> {
    let host_index = link::index(nl, host_if).step(|| format!("looking up {}", host_if))?.ok_or_else(|| Error::setup(format!("{} vanished", host_if)))?;
    let bridge = link::index(nl, &att.bridge).step(|| format!("looking up bridge {}", att.bridge))?.ok_or_else(|| Error::setup(format!("bridge {} is gone", att.bridge)))?;
    link::set_master(nl, host_index, bridge).step(|| format!("attaching {} to bridge {}", host_if, att.bridge))?;
    link::set_up(nl, host_index).step(|| format!("bringing {} up", host_if))?;
    crate::trace::mark("attach: bridge port up");

    let mut inside = Netlink::open_in(Path::new(netns))?;
    let index = link::index(&mut inside, ifname).step(|| format!("looking up {} in the container", ifname))?.ok_or_else(|| Error::setup(format!("{} is missing in the container", ifname)))?;
    link::add_address(&mut inside, index, ip, att.subnet.prefix).step(|| format!("adding {}/{} to the container's {}", ip, att.subnet.prefix, ifname))?;
    link::set_up(&mut inside, index).step(|| format!("bringing the container's {} up", ifname))?;
    crate::trace::mark("attach: address, link up");
    if default_route {
        link::add_default_route(&mut inside, att.gateway).step(|| format!("adding the container's default route via {}", att.gateway))?;
    }
    let mac = link::mac(&mut inside, ifname).ok().flatten().unwrap_or_default();
    Ok(mac)
}

/// Removes the pair (gone with the container's namespace already is fine).
pub fn detach(nl: &mut Netlink, ep: &Endpoint) {
    let _ = link::delete(nl, &ep.host_if);
}

/// Removes these host ends in a child nobody waits for (it keeps only the
/// netlink socket, so published ports close with the caller); where it
/// cannot fork, here and now.
pub fn detach_detached(mut nl: Netlink, host_ifs: Vec<String>) {
    match process::clone_fork(0) {
        Ok(Forked::Child) => {
            fd::close_inherited(&[nl.raw_fd()]);
            for name in &host_ifs {
                let _ = link::delete(&mut nl, name);
            }
            process::exit_now(0)
        }
        Ok(Forked::Parent(_)) => {}
        Err(_) => {
            for name in &host_ifs {
                let _ = link::delete(&mut nl, name);
            }
        }
    }
}

/// `n` random bytes as hex, from the kernel's generator.
pub fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut buf = vec![0u8; n];
    if let Ok(mut f) = File::open("/dev/urandom") {
        let _ = f.read_exact(&mut buf);
    }
    buf.iter().map(|b| format!("{:02x}", b)).collect()
}
