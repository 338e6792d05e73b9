//! One nftables rule, spoken over netlink by hand (the guest has no `nft`
//! nor `iptables`):
//!
//!   table ip tsbox-relay { chain pre { type nat hook prerouting priority -100;
//!     meta l4proto tcp dnat to RELAY } }
//!
//! Every new TCP connection the guest routes (a container's to anything
//! beyond its own bridge) reaches the agent's relay listener, which reads
//! where it was going with SO_ORIGINAL_DST. Containers on one bridge talk
//! bridged, not routed: they never meet the rule (no br_netfilter).

use container::net::netlink::{Message, NLMSG_ERROR, NLM_F_CREATE};
use container::sys::consts::NETLINK_NETFILTER;
use container::sys::{fd, socket, Errno};
use std::net::SocketAddrV4;

const NFNL_SUBSYS_NFTABLES: u16 = 10;
const NFNL_MSG_BATCH_BEGIN: u16 = 16;
const NFNL_MSG_BATCH_END: u16 = 17;
const NFT_MSG_NEWTABLE: u16 = 0;
const NFT_MSG_NEWCHAIN: u16 = 3;
const NFT_MSG_NEWRULE: u16 = 6;
const NLM_F_APPEND: u16 = 0x800;
const NLA_F_NESTED: u16 = 0x8000;
const NFPROTO_IPV4: u8 = 2;
const NF_INET_PRE_ROUTING: u32 = 0;
const NF_IP_PRI_NAT_DST: i32 = -100;
const NFT_META_L4PROTO: u32 = 16;
const NFT_NAT_DNAT: u32 = 1;
const IPPROTO_TCP: u8 = 6;
const NFT_REG_1: u32 = 1;
const NFT_REG_2: u32 = 2;
const TABLE: &str = "tsbox-relay";
const CHAIN: &str = "pre";

/// struct nfgenmsg: family, version 0, resource id (big-endian).
fn nfgen(family: u8, res_id: u16) -> [u8; 4] {
    let r = res_id.to_be_bytes();
    [family, 0, r[0], r[1]]
}

fn be(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

fn nft_message(kind: u16, flags: u16) -> Message {
    Message::new((NFNL_SUBSYS_NFTABLES << 8) | kind, flags, &nfgen(NFPROTO_IPV4, 0))
}

/// NFTA_LIST_ELEM { NFTA_EXPR_NAME, NFTA_EXPR_DATA { … } }
fn expr(m: &mut Message, name: &str, body: impl FnOnce(&mut Message)) {
    m.begin(1 | NLA_F_NESTED).attr_str(1, name).begin(2 | NLA_F_NESTED);
    body(m);
    m.end().end();
}

/// A nested NFTA_DATA_VALUE.
fn value(m: &mut Message, kind: u16, bytes: &[u8]) {
    m.begin(kind | NLA_F_NESTED).attr(1, bytes).end();
}

/// The batch (begin, table, chain, rule, end) that sends new TCP to `relay`.
pub fn batch(relay: SocketAddrV4) -> Vec<u8> {
    let mut table = nft_message(NFT_MSG_NEWTABLE, NLM_F_CREATE);
    table.attr_str(1, TABLE); // NFTA_TABLE_NAME
    let mut chain = nft_message(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    chain.attr_str(1, TABLE).attr_str(3, CHAIN); // NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME
    chain.begin(4 | NLA_F_NESTED).attr(1, &be(NF_INET_PRE_ROUTING)).attr(2, &be(NF_IP_PRI_NAT_DST as u32)).end(); // NFTA_CHAIN_HOOK
    chain.attr_str(7, "nat"); // NFTA_CHAIN_TYPE
    let mut rule = nft_message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
    rule.attr_str(1, TABLE).attr_str(2, CHAIN).begin(4 | NLA_F_NESTED); // NFTA_RULE_EXPRESSIONS
    expr(&mut rule, "meta", |m| {
        m.attr(1, &be(NFT_REG_1)).attr(2, &be(NFT_META_L4PROTO)); // DREG, KEY
    });
    expr(&mut rule, "cmp", |m| {
        m.attr(1, &be(NFT_REG_1)).attr(2, &be(0)); // SREG, OP eq
        value(m, 3, &[IPPROTO_TCP]);
    });
    expr(&mut rule, "immediate", |m| {
        m.attr(1, &be(NFT_REG_1));
        value(m, 2, &relay.ip().octets());
    });
    expr(&mut rule, "immediate", |m| {
        m.attr(1, &be(NFT_REG_2));
        value(m, 2, &relay.port().to_be_bytes());
    });
    expr(&mut rule, "nat", |m| {
        // TYPE, FAMILY, REG_ADDR_MIN, REG_PROTO_MIN
        m.attr(1, &be(NFT_NAT_DNAT)).attr(2, &be(NFPROTO_IPV4 as u32)).attr(3, &be(NFT_REG_1)).attr(5, &be(NFT_REG_2));
    });
    rule.end();
    let mut begin = Message::new(NFNL_MSG_BATCH_BEGIN, 0, &nfgen(0, NFNL_SUBSYS_NFTABLES));
    let mut end = Message::new(NFNL_MSG_BATCH_END, 0, &nfgen(0, NFNL_SUBSYS_NFTABLES));
    let mut out = Vec::new();
    for (seq, m) in [&mut begin, &mut table, &mut chain, &mut rule, &mut end].iter_mut().enumerate() {
        out.extend(m.encode(seq as u32 + 1));
    }
    out
}

/// Installs the rule; the kernel acknowledges the table, chain and rule (seq 2–4).
pub fn redirect_tcp(relay: SocketAddrV4) -> Result<(), Errno> {
    let sock = socket::netlink(NETLINK_NETFILTER, 5000)?;
    let result = socket::send(sock, &batch(relay)).and_then(|_| acks(sock, &[2, 3, 4]));
    fd::close(sock);
    result
}

fn acks(sock: std::os::raw::c_int, want: &[u32]) -> Result<(), Errno> {
    let mut left: Vec<u32> = want.to_vec();
    let mut buf = vec![0u8; 16384];
    while !left.is_empty() {
        let n = socket::recv(sock, &mut buf)?;
        let mut at = 0;
        while at + 16 <= n {
            let len = u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]) as usize;
            if len < 16 || at + len > n {
                break;
            }
            let kind = u16::from_ne_bytes([buf[at + 4], buf[at + 5]]);
            let seq = u32::from_ne_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]);
            if kind == NLMSG_ERROR && len >= 20 {
                let code = i32::from_ne_bytes([buf[at + 16], buf[at + 17], buf[at + 18], buf[at + 19]]);
                if code != 0 {
                    return Err(Errno(-code));
                }
                left.retain(|s| *s != seq);
            }
            at += (len + 3) & !3;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn batch_layout() {
        let b = batch(SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 1));
        // Five messages, each length-prefixed and 4-aligned, seq 1..5.
        let mut at = 0;
        let mut kinds = Vec::new();
        while at < b.len() {
            let len = u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize;
            kinds.push(u16::from_ne_bytes([b[at + 4], b[at + 5]]));
            assert_eq!(u32::from_ne_bytes([b[at + 8], b[at + 9], b[at + 10], b[at + 11]]) as usize, kinds.len());
            at += (len + 3) & !3;
        }
        assert_eq!(at, b.len());
        assert_eq!(kinds, vec![16, 0xa00, 0xa03, 0xa06, 17]);
        // The batch's res_id is the nftables subsystem, big-endian.
        assert_eq!(&b[16..20], &[0, 0, 0, 10]);
    }

    /// The kernel takes the rule (as root, in a network namespace of a thread of its own).
    #[test]
    fn kernel_accepts_the_rule() {
        if container::sys::cred::geteuid() != 0 {
            eprintln!("skipped: needs root for a network namespace");
            return;
        }
        std::thread::spawn(|| {
            container::sys::process::unshare(container::sys::consts::CLONE_NEWNET).unwrap();
            redirect_tcp(SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 1)).unwrap();
        })
        .join()
        .unwrap();
    }
}
