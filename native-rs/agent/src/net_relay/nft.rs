//! The relay's nftables rules, spoken over netlink by hand (the guest has no
//! `nft` nor `iptables`; the ruleset is drawn at `batch`).
//!
//! Every new TCP connection the guest routes (a container's to anything
//! beyond its own bridge) is first held: its SYN goes to the agent's nfqueue
//! (`queue.rs`) until the host's dial has answered, so that the container's
//! connect() succeeds only when the host's did. Let through unmarked, it
//! reaches the agent's relay listener, which reads where it was going with
//! SO_ORIGINAL_DST; marked, it goes to a closed port, where the guest's own
//! kernel answers it with a reset (`mod.rs`). Containers
//! on one bridge talk bridged, not routed: they never meet the rules (no
//! br_netfilter).

use container::net::netlink::{self, Message, NLMSG_ERROR, NLM_F_CREATE};
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
const NFT_META_MARK: u32 = 3;
const NFT_META_IIF: u32 = 4;
const NFT_CMP_EQ: u32 = 0;
const NFT_CMP_NEQ: u32 = 1;
const NFT_PAYLOAD_TRANSPORT_HEADER: u32 = 2;
const NF_IP_PRI_MANGLE: i32 = -150;
const LOOPBACK_IFINDEX: u32 = 1;
const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;
const TABLE: &str = "tsbox-relay";
const CHAIN: &str = "pre";
const HOLD: &str = "hold";
/// The nfqueue the held SYNs go to (`queue.rs`).
pub const QUEUE: u16 = 0;

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

/// A base chain of TABLE on prerouting.
fn chain(name: &str, priority: i32, kind: &str) -> Message {
    let mut chain = nft_message(NFT_MSG_NEWCHAIN, NLM_F_CREATE);
    chain.attr_str(1, TABLE).attr_str(3, name); // NFTA_CHAIN_TABLE, NFTA_CHAIN_NAME
    chain.begin(4 | NLA_F_NESTED).attr(1, &be(NF_INET_PRE_ROUTING)).attr(2, &be(priority as u32)).end(); // NFTA_CHAIN_HOOK
    chain.attr_str(7, kind); // NFTA_CHAIN_TYPE
    chain
}

/// A rule appended to `chain`, its expressions written by `body`.
fn rule(chain: &str, body: impl FnOnce(&mut Message)) -> Message {
    let mut rule = nft_message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
    rule.attr_str(1, TABLE).attr_str(2, chain).begin(4 | NLA_F_NESTED); // NFTA_RULE_EXPRESSIONS
    body(&mut rule);
    rule.end();
    rule
}

/// `meta KEY` into register 1, compared with `bytes` (OP eq or neq).
fn meta_is(m: &mut Message, key: u32, op: u32, bytes: &[u8]) {
    expr(m, "meta", |m| {
        m.attr(1, &be(NFT_REG_1)).attr(2, &be(key)); // DREG, KEY
    });
    expr(m, "cmp", |m| {
        m.attr(1, &be(NFT_REG_1)).attr(2, &be(op)); // SREG, OP
        value(m, 3, bytes);
    });
}

/// `dnat to ADDR` (registers 1 and 2).
fn dnat(m: &mut Message, to: SocketAddrV4) {
    expr(m, "immediate", |m| {
        m.attr(1, &be(NFT_REG_1));
        value(m, 2, &to.ip().octets());
    });
    expr(m, "immediate", |m| {
        m.attr(1, &be(NFT_REG_2));
        value(m, 2, &to.port().to_be_bytes());
    });
    expr(m, "nat", |m| {
        // TYPE, FAMILY, REG_ADDR_MIN, REG_PROTO_MIN
        m.attr(1, &be(NFT_NAT_DNAT)).attr(2, &be(NFPROTO_IPV4 as u32)).attr(3, &be(NFT_REG_1)).attr(5, &be(NFT_REG_2));
    });
}

/// The batch that sends new TCP to `relay`, each SYN first held in the
/// agent's queue, and a SYN the agent marked with `marks`' mark to that
/// mark's address instead:
///
///   chain hold { type filter hook prerouting priority -150;
///     meta iif != lo meta l4proto tcp tcp flags & (syn|ack) == syn queue num QUEUE }
///   chain pre { type nat hook prerouting priority -100;
///     meta l4proto tcp meta mark M dnat to ADDR   (each of `marks`)
///     meta l4proto tcp dnat to RELAY }
pub fn batch(relay: SocketAddrV4, marks: &[(u32, SocketAddrV4)]) -> Vec<u8> {
    let mut table = nft_message(NFT_MSG_NEWTABLE, NLM_F_CREATE);
    table.attr_str(1, TABLE); // NFTA_TABLE_NAME
    let mut msgs = vec![table, chain(HOLD, NF_IP_PRI_MANGLE, "filter"), chain(CHAIN, NF_IP_PRI_NAT_DST, "nat")];
    msgs.push(rule(HOLD, |m| {
        // The guest's own loopback traffic is not a container's way out.
        meta_is(m, NFT_META_IIF, NFT_CMP_NEQ, &LOOPBACK_IFINDEX.to_ne_bytes());
        meta_is(m, NFT_META_L4PROTO, NFT_CMP_EQ, &[IPPROTO_TCP]);
        expr(m, "payload", |m| {
            // DREG, BASE transport header, OFFSET of the flags byte, LEN
            m.attr(1, &be(NFT_REG_1)).attr(2, &be(NFT_PAYLOAD_TRANSPORT_HEADER)).attr(3, &be(13)).attr(4, &be(1));
        });
        expr(m, "bitwise", |m| {
            // SREG, DREG, LEN, MASK, XOR
            m.attr(1, &be(NFT_REG_1)).attr(2, &be(NFT_REG_1)).attr(3, &be(1));
            value(m, 4, &[TCP_SYN | TCP_ACK]);
            value(m, 5, &[0]);
        });
        expr(m, "cmp", |m| {
            m.attr(1, &be(NFT_REG_1)).attr(2, &be(NFT_CMP_EQ));
            value(m, 3, &[TCP_SYN]);
        });
        expr(m, "queue", |m| {
            m.attr(1, &QUEUE.to_be_bytes()); // NFTA_QUEUE_NUM
        });
    }));
    for (mark, to) in marks {
        msgs.push(rule(CHAIN, |m| {
            meta_is(m, NFT_META_L4PROTO, NFT_CMP_EQ, &[IPPROTO_TCP]);
            meta_is(m, NFT_META_MARK, NFT_CMP_EQ, &mark.to_ne_bytes());
            dnat(m, *to);
        }));
    }
    msgs.push(rule(CHAIN, |m| {
        meta_is(m, NFT_META_L4PROTO, NFT_CMP_EQ, &[IPPROTO_TCP]);
        dnat(m, relay);
    }));
    let mut out = Message::new(NFNL_MSG_BATCH_BEGIN, 0, &nfgen(0, NFNL_SUBSYS_NFTABLES)).encode(1);
    let count = msgs.len() as u32;
    for (seq, m) in msgs.iter_mut().enumerate() {
        out.extend(m.encode(seq as u32 + 2));
    }
    out.extend(Message::new(NFNL_MSG_BATCH_END, 0, &nfgen(0, NFNL_SUBSYS_NFTABLES)).encode(count + 2));
    out
}

/// Installs the rules; the kernel acknowledges each message between the
/// batch's begin and end.
pub fn redirect_tcp(relay: SocketAddrV4, marks: &[(u32, SocketAddrV4)]) -> Result<(), Errno> {
    let sock = socket::netlink(NETLINK_NETFILTER, 5000)?;
    // The table, two chains, the hold rule, one rule per mark and the relay's.
    let want: Vec<u32> = (2..2 + 5 + marks.len() as u32).collect();
    let result = socket::send(sock, &batch(relay, marks)).and_then(|_| acks(sock, &want));
    fd::close(sock);
    result
}

pub(super) fn acks(sock: std::os::raw::c_int, want: &[u32]) -> Result<(), Errno> {
    let mut left: Vec<u32> = want.to_vec();
    let mut buf = vec![0u8; 16384];
    while !left.is_empty() {
        let n = socket::recv(sock, &mut buf)?;
        for (kind, seq, payload) in netlink::messages(&buf[..n]) {
            if kind == NLMSG_ERROR && payload.len() >= 4 {
                let code = i32::from_ne_bytes([payload[0], payload[1], payload[2], payload[3]]);
                if code != 0 {
                    return Err(Errno(-code));
                }
                left.retain(|s| *s != seq);
            }
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
        let b = batch(SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 1), &[(1, SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 2))]);
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
        assert_eq!(kinds, vec![16, 0xa00, 0xa03, 0xa03, 0xa06, 0xa06, 0xa06, 17]);
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
            // The host's kernel may lack nft `queue` (the guest's has it): then only the layout is checked.
            match redirect_tcp(SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 1), &[(1, SocketAddrV4::new(Ipv4Addr::new(10, 0, 2, 2), 2))]) {
                Ok(()) => {}
                Err(e) if e == container::sys::errno::ENOENT || e == container::sys::Errno(95) => eprintln!("skipped: no nft queue here ({})", e.description()),
                Err(e) => panic!("{}", e.description()),
            }
        })
        .join()
        .unwrap();
    }
}
