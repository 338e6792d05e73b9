//! The ICMP "destination unreachable" the agent sends a container whose
//! held SYN the host could not dial (no route, no answer): what a router
//! on the way would send, so the container's connect() fails at once with
//! EHOSTUNREACH or ENETUNREACH. The guest's kernel would not send it for
//! us: it answers an `unreachable` route with ICMP only on an interface
//! that forwards, and the guest forwards nothing.

use container::sys::{socket, Errno};

/// ICMP codes of type 3 (destination unreachable) and what a TCP connect()
/// in SYN_SENT fails with on them.
pub const NET_UNREACHABLE: u8 = 0; // ENETUNREACH
pub const HOST_UNREACHABLE: u8 = 1; // EHOSTUNREACH
const DESTINATION_UNREACHABLE: u8 = 3;
const IPPROTO_ICMP: u8 = 1;

/// The Internet checksum (RFC 1071) of `bytes`.
fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let word = if pair.len() == 2 { u16::from_be_bytes([pair[0], pair[1]]) } else { u16::from_be_bytes([pair[0], 0]) };
        sum += word as u32;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The IPv4 packet answering `quote` (the held SYN's IP header and its
/// first 8 TCP bytes: ports and sequence number, by which the receiver
/// finds its socket) with destination-unreachable `code`, from the SYN's
/// destination to its sender (so the sender's reverse-path check passes).
/// None for a quote too short to be one.
pub fn unreachable(quote: &[u8], code: u8) -> Option<Vec<u8>> {
    let ihl = (*quote.first()? & 0xf) as usize * 4;
    if ihl < 20 || quote.len() < ihl + 8 {
        return None;
    }
    let quote = &quote[..ihl + 8];
    let mut icmp = vec![DESTINATION_UNREACHABLE, code, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(quote);
    let sum = checksum(&icmp).to_be_bytes();
    icmp[2] = sum[0];
    icmp[3] = sum[1];
    let total = (20 + icmp.len()) as u16;
    let t = total.to_be_bytes();
    // version 4, ihl 5; tos; total length; id 0 (the kernel picks one); no fragment flags; ttl 64; ICMP.
    let mut packet = vec![0x45, 0, t[0], t[1], 0, 0, 0, 0, 64, IPPROTO_ICMP, 0, 0];
    packet.extend_from_slice(&quote[16..20]); // from the SYN's destination
    packet.extend_from_slice(&quote[12..16]); // to its sender
    let sum = checksum(&packet).to_be_bytes();
    packet[10] = sum[0];
    packet[11] = sum[1];
    packet.extend_from_slice(&icmp);
    Some(packet)
}

/// Sends `unreachable(quote, code)` (from the guest's root, which has CAP_NET_RAW).
pub fn send_unreachable(quote: &[u8], code: u8) -> Result<(), Errno> {
    match unreachable(quote, code) {
        Some(packet) => socket::send_ip_packet(&packet),
        None => Err(container::sys::errno::EINVAL),
    }
}

/// The code for the host's failed dial: ENETUNREACH as a network
/// unreachable, anything else (EHOSTUNREACH, a timeout) as a host.
pub fn code_for(error: &str) -> u8 {
    if error == "ENETUNREACH" {
        NET_UNREACHABLE
    } else {
        HOST_UNREACHABLE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SYN from 10.88.0.2:50000 to 192.0.2.1:80, sequence 258, as the queue copies it (options cut off).
    fn syn() -> Vec<u8> {
        let mut ip = vec![0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0, 0, 10, 88, 0, 2, 192, 0, 2, 1];
        let sum = checksum(&ip).to_be_bytes();
        ip[10] = sum[0];
        ip[11] = sum[1];
        ip.extend_from_slice(&[0xc3, 0x50, 0, 80, 0, 0, 1, 2, 0, 0, 0, 0, 0xa0, 0x02]);
        ip
    }

    #[test]
    fn answers_the_sender_from_the_destination_quoting_its_syn() {
        let p = unreachable(&syn(), HOST_UNREACHABLE).unwrap();
        assert_eq!(p.len(), 20 + 8 + 28);
        assert_eq!(&p[..4], &[0x45, 0, 0, 56]);
        assert_eq!(p[9], 1, "ICMP");
        assert_eq!(&p[12..16], &[192, 0, 2, 1]);
        assert_eq!(&p[16..20], &[10, 88, 0, 2]);
        assert_eq!(&p[20..22], &[3, 1], "destination unreachable, host");
        // The quote: the SYN's header and its first 8 TCP bytes, no more.
        assert_eq!(&p[28..], &syn()[..28]);
        // Both checksums verify (a packet with its checksum sums to 0).
        assert_eq!(checksum(&p[..20]), 0);
        assert_eq!(checksum(&p[20..]), 0);
        assert_eq!(unreachable(&syn(), NET_UNREACHABLE).unwrap()[21], 0);
    }

    #[test]
    fn a_short_or_odd_quote_is_none() {
        assert_eq!(unreachable(&syn()[..27], HOST_UNREACHABLE), None);
        assert_eq!(unreachable(&[], HOST_UNREACHABLE), None);
        let mut bad = syn();
        bad[0] = 0x44; // ihl 16 bytes
        assert_eq!(unreachable(&bad, HOST_UNREACHABLE), None);
    }

    #[test]
    fn an_odd_length_sums_its_last_byte_as_a_high_one() {
        assert_eq!(checksum(&[0x01]), !0x0100);
        assert_eq!(checksum(&[0xff, 0xff, 0xff, 0xff]), 0);
    }

    #[test]
    fn codes() {
        assert_eq!(code_for("ENETUNREACH"), NET_UNREACHABLE);
        assert_eq!(code_for("EHOSTUNREACH"), HOST_UNREACHABLE);
        assert_eq!(code_for("ETIMEDOUT"), HOST_UNREACHABLE);
    }
}
