//! The DNS wire format, as much as a network's name server needs: read a
//! query's question, answer it with A records (or none), or pass it on to
//! an upstream server under an id of our own.

use std::net::Ipv4Addr;

pub const TYPE_A: u16 = 1;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;
pub const RCODE_OK: u8 = 0;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;

#[derive(Debug, PartialEq, Eq)]
pub struct Question {
    pub id: u16,
    /// Lower case, without the trailing dot.
    pub name: String,
    pub qtype: u16,
    /// Where the question section ends in the packet.
    pub end: usize,
}

/// A standard query with one question; None for anything else.
pub fn parse_query(packet: &[u8]) -> Option<Question> {
    if packet.len() < 12 {
        return None;
    }
    let flags = u16::from_be_bytes([packet[2], packet[3]]);
    let qdcount = u16::from_be_bytes([packet[4], packet[5]]);
    if flags & 0x8000 != 0 || (flags >> 11) & 0xf != 0 || qdcount != 1 {
        return None; // a response, not a standard query, or not one question
    }
    let mut at = 12;
    let mut labels: Vec<String> = Vec::new();
    loop {
        let len = *packet.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // compression in a question: not from a stub resolver
        }
        let label = packet.get(at..at + len)?;
        labels.push(String::from_utf8_lossy(label).to_ascii_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]);
    let qclass = u16::from_be_bytes([*packet.get(at + 2)?, *packet.get(at + 3)?]);
    if qclass != CLASS_IN {
        return None;
    }
    Some(Question { id: u16::from_be_bytes([packet[0], packet[1]]), name: labels.join("."), qtype, end: at + 4 })
}

/// Our answer: the query's header and question, `rcode`, and an A record
/// per address (authoritative, TTL 0: containers come and go).
pub fn answer(query: &[u8], q: &Question, rcode: u8, addrs: &[Ipv4Addr]) -> Vec<u8> {
    let mut out = Vec::with_capacity(q.end + 16 * addrs.len());
    out.extend_from_slice(&query[0..2]);
    let rd = query[2] & 0x01;
    out.push(0x84 | rd); // QR, AA, RD as asked
    out.push(0x80 | rcode); // RA
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(addrs.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..q.end]);
    for ip in addrs {
        out.extend_from_slice(&[0xc0, 0x0c]); // the name: a pointer to the question's
        out.extend_from_slice(&TYPE_A.to_be_bytes());
        out.extend_from_slice(&CLASS_IN.to_be_bytes());
        out.extend_from_slice(&0u32.to_be_bytes());
        out.extend_from_slice(&4u16.to_be_bytes());
        out.extend_from_slice(&ip.octets());
    }
    out
}

/// The address a reverse question (`2.0.89.10.in-addr.arpa`) asks about.
pub fn reverse_address(name: &str) -> Option<Ipv4Addr> {
    let digits = name.strip_suffix(".in-addr.arpa")?;
    let mut octets = [0u8; 4];
    let parts: Vec<&str> = digits.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    for (i, p) in parts.iter().rev().enumerate() {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        octets[i] = p.parse().ok()?;
    }
    Some(Ipv4Addr::from(octets))
}

/// A PTR answer naming `target` (authoritative, TTL 0).
pub fn answer_ptr(query: &[u8], q: &Question, target: &str) -> Vec<u8> {
    let mut out = answer(query, q, RCODE_OK, &[]);
    out[7] = 1; // ANCOUNT
    let mut rdata = Vec::new();
    for label in target.split('.').filter(|l| !l.is_empty()) {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        rdata.push(bytes.len() as u8);
        rdata.extend_from_slice(bytes);
    }
    rdata.push(0);
    out.extend_from_slice(&[0xc0, 0x0c]);
    out.extend_from_slice(&TYPE_PTR.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(&rdata);
    out
}

/// The packet with its id replaced (forwarding under our own ids).
pub fn with_id(packet: &[u8], id: u16) -> Vec<u8> {
    let mut out = packet.to_vec();
    if out.len() >= 2 {
        out[0..2].copy_from_slice(&id.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dig +noedns web.test A` as sent by a stub resolver.
    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    #[test]
    fn parses_and_answers() {
        let q = query("Web.Test", TYPE_A);
        let parsed = parse_query(&q).unwrap();
        assert_eq!(parsed, Question { id: 0x1234, name: "web.test".into(), qtype: TYPE_A, end: q.len() });
        let a = answer(&q, &parsed, RCODE_OK, &["10.89.0.2".parse().unwrap()]);
        assert_eq!(&a[0..4], &[0x12, 0x34, 0x85, 0x80]);
        assert_eq!(&a[4..12], &[0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&a[a.len() - 16..], &[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 10, 89, 0, 2]);
        let nx = answer(&q, &parsed, RCODE_NXDOMAIN, &[]);
        assert_eq!(nx[3], 0x83);
        assert_eq!(nx.len(), q.len());
        assert_eq!(&with_id(&q, 7)[0..2], &[0, 7]);
        // Responses and truncated packets are not queries.
        let mut resp = q.clone();
        resp[2] |= 0x80;
        assert_eq!(parse_query(&resp), None);
        assert_eq!(parse_query(&q[..q.len() - 1]), None);
    }

    #[test]
    fn answers_reverse_questions() {
        assert_eq!(reverse_address("2.0.89.10.in-addr.arpa"), Some("10.89.0.2".parse().unwrap()));
        for bad in ["0.89.10.in-addr.arpa", "x.0.89.10.in-addr.arpa", "256.0.89.10.in-addr.arpa", "2.0.89.10.example"] {
            assert_eq!(reverse_address(bad), None, "{}", bad);
        }
        let q = query("2.0.89.10.in-addr.arpa", TYPE_PTR);
        let parsed = parse_query(&q).unwrap();
        let a = answer_ptr(&q, &parsed, "web");
        assert_eq!(&a[4..12], &[0, 1, 0, 1, 0, 0, 0, 0]);
        assert_eq!(&a[a.len() - 15..], &[0xc0, 0x0c, 0, 12, 0, 1, 0, 0, 0, 0, 0, 5, 3, b'w', b'e', b'b', 0][2..]);
    }
}
