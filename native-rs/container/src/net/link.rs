//! Links, addresses and routes over rtnetlink: what `ip link`, `ip addr`
//! and `ip route` would do for a bridge network.

use super::netlink::{attrs, Message, Netlink, NLM_F_CREATE, NLM_F_EXCL};
use crate::sys::consts::AF_INET;
use crate::sys::errno::{EEXIST, ENODEV};
use crate::sys::Errno;
use std::net::Ipv4Addr;
use std::os::raw::c_int;

const RTM_NEWLINK: u16 = 16;
const RTM_DELLINK: u16 = 17;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;

const IFLA_ADDRESS: u16 = 1;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_NET_NS_FD: u16 = 28;
const IFLA_INFO_KIND: u16 = 1;
const IFLA_INFO_DATA: u16 = 2;
const VETH_INFO_PEER: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const RTA_GATEWAY: u16 = 5;
const IFF_UP: u32 = 1;
const RT_TABLE_MAIN: u8 = 254;
const RTPROT_BOOT: u8 = 3;
const RTN_UNICAST: u8 = 1;

/// `struct ifinfomsg`: family, type, index, flags, change.
fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[4..8].copy_from_slice(&(index as i32).to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

/// The interface's index, None when there is none of that name.
pub fn index(nl: &mut Netlink, name: &str) -> Result<Option<u32>, Errno> {
    let mut m = Message::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0));
    m.attr_str(IFLA_IFNAME, name);
    match nl.request(&mut m) {
        Ok(replies) => Ok(replies
            .iter()
            .find(|r| r.kind == RTM_NEWLINK && r.payload.len() >= 16)
            .map(|r| i32::from_ne_bytes([r.payload[4], r.payload[5], r.payload[6], r.payload[7]]) as u32)),
        Err(ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The interface's MAC address as aa:bb:cc:dd:ee:ff.
pub fn mac(nl: &mut Netlink, name: &str) -> Result<Option<String>, Errno> {
    let mut m = Message::new(RTM_GETLINK, 0, &ifinfomsg(0, 0, 0));
    m.attr_str(IFLA_IFNAME, name);
    let replies = nl.request(&mut m)?;
    Ok(replies.iter().find(|r| r.kind == RTM_NEWLINK).and_then(|r| {
        attrs(&r.payload, 16)
            .into_iter()
            .find(|(k, _)| *k == IFLA_ADDRESS)
            .map(|(_, v)| v.iter().map(|b| format!("{:02x}", b)).collect::<Vec<_>>().join(":"))
    }))
}

/// A bridge; EEXIST when one of that name is there.
///
/// With an address of its own (as docker's bridges): without one the kernel
/// gives a bridge its lowest port's, which changes as containers come and
/// go, and the others' cached gateway address then goes nowhere (their DNS
/// and traffic through the gateway stop until the entry expires, ~30 s).
pub fn create_bridge(nl: &mut Netlink, name: &str, mtu: u32) -> Result<(), Errno> {
    let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifinfomsg(0, 0, 0));
    m.attr_str(IFLA_IFNAME, name).attr_u32(IFLA_MTU, mtu).attr(IFLA_ADDRESS, &random_mac());
    m.begin(IFLA_LINKINFO).attr_str(IFLA_INFO_KIND, "bridge").end();
    nl.request(&mut m).map(drop)
}

/// A random locally administered unicast MAC address.
fn random_mac() -> [u8; 6] {
    use std::io::Read;
    let mut mac = [0u8; 6];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut mac);
    }
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

/// A veth pair: `name` here, `peer` created directly in the network
/// namespace of `peer_netns` (an open ns file), both with `mtu`; `peer_mac`
/// gives the peer that address (`--mac-address`), else the kernel picks one.
pub fn create_veth(nl: &mut Netlink, name: &str, peer: &str, peer_netns: c_int, mtu: u32, peer_mac: Option<[u8; 6]>) -> Result<(), Errno> {
    let mut m = Message::new(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifinfomsg(0, 0, 0));
    m.attr_str(IFLA_IFNAME, name).attr_u32(IFLA_MTU, mtu);
    m.begin(IFLA_LINKINFO).attr_str(IFLA_INFO_KIND, "veth");
    m.begin(IFLA_INFO_DATA).begin(VETH_INFO_PEER).raw(&ifinfomsg(0, 0, 0));
    m.attr_str(IFLA_IFNAME, peer).attr_u32(IFLA_MTU, mtu).attr_u32(IFLA_NET_NS_FD, peer_netns as u32);
    if let Some(mac) = peer_mac {
        m.attr(IFLA_ADDRESS, &mac);
    }
    m.end().end().end();
    nl.request(&mut m).map(drop)
}

pub fn set_master(nl: &mut Netlink, index: u32, master: u32) -> Result<(), Errno> {
    let mut m = Message::new(RTM_NEWLINK, 0, &ifinfomsg(index, 0, 0));
    m.attr_u32(IFLA_MASTER, master);
    nl.request(&mut m).map(drop)
}

pub fn set_up(nl: &mut Netlink, index: u32) -> Result<(), Errno> {
    let mut m = Message::new(RTM_NEWLINK, 0, &ifinfomsg(index, IFF_UP, IFF_UP));
    nl.request(&mut m).map(drop)
}

/// Deletes a link (a veth takes its peer with it); gone already is fine.
pub fn delete(nl: &mut Netlink, name: &str) -> Result<(), Errno> {
    let mut m = Message::new(RTM_DELLINK, 0, &ifinfomsg(0, 0, 0));
    m.attr_str(IFLA_IFNAME, name);
    match nl.request(&mut m) {
        Ok(_) | Err(ENODEV) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `ip addr add IP/PREFIX dev INDEX`; an address that is there already is fine.
pub fn add_address(nl: &mut Netlink, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<(), Errno> {
    // struct ifaddrmsg: family, prefixlen, flags, scope, index
    let mut fixed = [0u8; 8];
    fixed[0] = AF_INET as u8;
    fixed[1] = prefix;
    fixed[4..8].copy_from_slice(&index.to_ne_bytes());
    let mut m = Message::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &fixed);
    m.attr(IFA_LOCAL, &ip.octets()).attr(IFA_ADDRESS, &ip.octets());
    match nl.request(&mut m) {
        Ok(_) | Err(EEXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// `ip route add default via GATEWAY`.
pub fn add_default_route(nl: &mut Netlink, gateway: Ipv4Addr) -> Result<(), Errno> {
    // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags
    let fixed = [AF_INET as u8, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, 0, RTN_UNICAST, 0, 0, 0, 0];
    let mut m = Message::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &fixed);
    m.attr(RTA_GATEWAY, &gateway.octets());
    nl.request(&mut m).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::consts::CLONE_NEWNET;
    use crate::sys::{cred, process};
    use std::fs::File;
    use std::os::unix::io::AsRawFd;

    /// Real links, as root, in network namespaces of threads of their own
    /// (unshare(CLONE_NEWNET) changes only the calling thread).
    #[test]
    fn bridge_veth_address_route() {
        if cred::geteuid() != 0 {
            eprintln!("skipped: needs root for network namespaces");
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ptx, prx) = std::sync::mpsc::channel::<File>();
        // The peer's namespace lives in a thread that waits until we are done.
        let peer = std::thread::spawn(move || {
            process::unshare(CLONE_NEWNET).unwrap();
            ptx.send(File::open("/proc/thread-self/ns/net").unwrap()).unwrap();
            rx.recv().unwrap();
        });
        let peer_ns = prx.recv().unwrap();
        std::thread::spawn(move || {
            process::unshare(CLONE_NEWNET).unwrap();
            let mut nl = Netlink::open().unwrap();
            create_bridge(&mut nl, "tbr0", 1500).unwrap();
            assert_eq!(create_bridge(&mut nl, "tbr0", 1500), Err(EEXIST));
            let br = index(&mut nl, "tbr0").unwrap().unwrap();
            add_address(&mut nl, br, "10.200.0.1".parse().unwrap(), 24).unwrap();
            add_address(&mut nl, br, "10.200.0.1".parse().unwrap(), 24).unwrap();
            set_up(&mut nl, br).unwrap();
            create_veth(&mut nl, "tveth0", "eth0", peer_ns.as_raw_fd(), 1500, None).unwrap();
            let v = index(&mut nl, "tveth0").unwrap().unwrap();
            let bridge_mac = mac(&mut nl, "tbr0").unwrap().unwrap();
            assert_eq!(u8::from_str_radix(&bridge_mac[..2], 16).unwrap() & 3, 2, "locally administered, unicast: {}", bridge_mac);
            set_master(&mut nl, v, br).unwrap();
            set_up(&mut nl, v).unwrap();
            assert_eq!(mac(&mut nl, "tbr0").unwrap().unwrap(), bridge_mac, "a port does not change the bridge's address");
            assert!(mac(&mut nl, "tveth0").unwrap().unwrap().len() == 17);
            assert_eq!(index(&mut nl, "eth0").unwrap(), None, "the peer is in the other namespace");
            // In the peer's namespace: address, up, default route.
            let mut pnl = Netlink::open_in(std::path::Path::new(&format!("/proc/self/fd/{}", peer_ns.as_raw_fd()))).unwrap();
            let e = index(&mut pnl, "eth0").unwrap().unwrap();
            add_address(&mut pnl, e, "10.200.0.2".parse().unwrap(), 24).unwrap();
            set_up(&mut pnl, e).unwrap();
            add_default_route(&mut pnl, "10.200.0.1".parse().unwrap()).unwrap();
            // --mac-address: the peer takes the address asked for.
            create_veth(&mut nl, "tveth1", "eth1", peer_ns.as_raw_fd(), 1500, Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x09])).unwrap();
            assert_eq!(mac(&mut pnl, "eth1").unwrap().unwrap(), "02:42:ac:11:00:09");
            delete(&mut nl, "tveth1").unwrap();
            delete(&mut nl, "tveth0").unwrap();
            delete(&mut nl, "tveth0").unwrap();
            assert_eq!(index(&mut pnl, "eth0").unwrap(), None, "deleting one end deletes the pair");
            delete(&mut nl, "tbr0").unwrap();
        })
        .join()
        .unwrap();
        tx.send(()).unwrap();
        peer.join().unwrap();
    }
}
