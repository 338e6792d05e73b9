//! The nfqueue that holds a container's SYN (nft.rs's `hold` chain) while the
//! host dials: nfnetlink_queue spoken by hand. Each packet arrives as
//! NFQNL_MSG_PACKET (its id and its first bytes: the IP and TCP headers);
//! the agent answers later with NFQNL_MSG_VERDICT: accept, with a mark that
//! picks where nft.rs's `pre` chain sends it, or drop (with an ICMP error
//! sent back by `icmp.rs` where the destination is unreachable).

use super::nft;
use container::net::netlink::{self, attrs, Message};
use container::sys::consts::NETLINK_NETFILTER;
use container::sys::errno::EAGAIN;
use container::sys::{fd, socket, Errno};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::raw::c_int;

const NFNL_SUBSYS_QUEUE: u16 = 3;
const NFQNL_MSG_PACKET: u16 = 0;
const NFQNL_MSG_VERDICT: u16 = 1;
const NFQNL_MSG_CONFIG: u16 = 2;
const NFQA_CFG_CMD: u16 = 1;
const NFQA_CFG_PARAMS: u16 = 2;
const NFQNL_CFG_CMD_BIND: u8 = 1;
const NFQNL_COPY_PACKET: u8 = 2;
const NFQA_PACKET_HDR: u16 = 1;
const NFQA_VERDICT_HDR: u16 = 2;
const NFQA_MARK: u16 = 3;
const NFQA_PAYLOAD: u16 = 10;
const AF_INET: u16 = 2;
/// An IPv4 header (at most 60 bytes) and the TCP ports and sequence number.
const COPY_RANGE: u32 = 68;
pub const NF_DROP: u32 = 0;
pub const NF_ACCEPT: u32 = 1;

/// A held SYN: its queue id, who sent it, where to, its sequence number
/// (a retransmission carries the same one), and its IP header with the
/// first 8 TCP bytes (what an ICMP error about it quotes, `icmp.rs`).
#[derive(Debug, PartialEq)]
pub struct Syn {
    pub id: u32,
    pub from: SocketAddrV4,
    pub to: SocketAddrV4,
    pub seq: u32,
    pub quote: Vec<u8>,
}

pub struct Queue {
    fd: c_int,
}

fn message(kind: u16) -> Message {
    let r = nft::QUEUE.to_be_bytes();
    Message::new((NFNL_SUBSYS_QUEUE << 8) | kind, 0, &[0, 0, r[0], r[1]])
}

impl Queue {
    /// Binds queue `nft::QUEUE`, copying each packet's first COPY_RANGE bytes.
    pub fn bind() -> Result<Queue, Errno> {
        let sock = socket::netlink(NETLINK_NETFILTER, 5000)?;
        let mut m = message(NFQNL_MSG_CONFIG);
        let pf = AF_INET.to_be_bytes();
        m.attr(NFQA_CFG_CMD, &[NFQNL_CFG_CMD_BIND, 0, pf[0], pf[1]]);
        let mut params = COPY_RANGE.to_be_bytes().to_vec();
        params.push(NFQNL_COPY_PACKET);
        m.attr(NFQA_CFG_PARAMS, &params);
        let bound = socket::send(sock, &m.encode(1)).and_then(|_| nft::acks(sock, &[1])).and_then(|_| fd::set_nonblocking(sock));
        match bound {
            Ok(()) => Ok(Queue { fd: sock }),
            Err(e) => {
                fd::close(sock);
                Err(e)
            }
        }
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    /// The SYNs waiting now (the verdicts' acknowledgements are skipped).
    pub fn read(&self) -> Vec<Syn> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            let n = match socket::recv(self.fd, &mut buf) {
                Ok(n) if n > 0 => n,
                Ok(_) | Err(EAGAIN) => return out,
                Err(_) => return out, // ENOBUFS: the kernel dropped some; the senders retransmit
            };
            for (kind, _, payload) in netlink::messages(&buf[..n]) {
                if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET {
                    if let Some(syn) = parse_packet(payload) {
                        out.push(syn);
                    }
                }
            }
        }
    }

    /// Lets packet `id` go on (`NF_ACCEPT`, with `mark` unless 0) or drops it.
    pub fn verdict(&self, id: u32, verdict: u32, mark: u32) {
        let mut m = message(NFQNL_MSG_VERDICT);
        let mut hdr = verdict.to_be_bytes().to_vec();
        hdr.extend_from_slice(&id.to_be_bytes());
        m.attr(NFQA_VERDICT_HDR, &hdr);
        if mark != 0 {
            m.attr(NFQA_MARK, &mark.to_be_bytes());
        }
        let _ = socket::send(self.fd, &m.encode(id));
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        fd::close(self.fd);
    }
}

/// An NFQNL_MSG_PACKET's payload (nfgenmsg, then attributes) as a SYN.
fn parse_packet(payload: &[u8]) -> Option<Syn> {
    let mut id = None;
    let mut packet: &[u8] = &[];
    for (kind, data) in attrs(payload, 4) {
        match kind {
            NFQA_PACKET_HDR if data.len() >= 4 => id = Some(u32::from_be_bytes([data[0], data[1], data[2], data[3]])),
            NFQA_PAYLOAD => packet = data,
            _ => {}
        }
    }
    let ihl = (*packet.first()? & 0xf) as usize * 4;
    if packet.len() < ihl + 8 || ihl < 20 {
        return None;
    }
    let ip = |at: usize| Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3]);
    let tcp = &packet[ihl..];
    Some(Syn {
        id: id?,
        from: SocketAddrV4::new(ip(12), u16::from_be_bytes([tcp[0], tcp[1]])),
        to: SocketAddrV4::new(ip(16), u16::from_be_bytes([tcp[2], tcp[3]])),
        seq: u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]),
        quote: packet[..ihl + 8].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_queued_syn() {
        // nfgenmsg, NFQA_PACKET_HDR {id 7, ETH_P_IP, hook 0}, NFQA_PAYLOAD (IPv4 + TCP's first 8 bytes).
        let mut p = vec![2, 0, 0, 0];
        p.extend_from_slice(&[11, 0, 1, 0, 0, 0, 0, 7, 8, 0, 0, 0]);
        let mut ip = vec![0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 88, 0, 2, 192, 0, 2, 1];
        ip.extend_from_slice(&[0xc3, 0x50, 0, 80, 0, 0, 1, 2]);
        p.extend_from_slice(&((4 + ip.len()) as u16).to_ne_bytes());
        p.extend_from_slice(&NFQA_PAYLOAD.to_ne_bytes());
        p.extend_from_slice(&ip);
        let syn = parse_packet(&p).unwrap();
        assert_eq!(syn, Syn { id: 7, from: "10.88.0.2:50000".parse().unwrap(), to: "192.0.2.1:80".parse().unwrap(), seq: 258, quote: ip.clone() });
        // A payload cut short is no SYN.
        assert_eq!(parse_packet(&p[..p.len() - 4]), None);
    }
}
