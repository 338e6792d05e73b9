//! The wire format between the host (src/backends/vm/protocol.ts) and the
//! agent, over /dev/hvc1. Both directions use the same 12-byte header:
//!
//! ```text
//!   0..2  magic "TB"
//!   2     type (CTRL, DATA, EOF, CREDIT, ERROR)
//!   3     flags (0)
//!   4..8  channel, u32 LE (0 = control)
//!   8..12 payload length, u32 LE
//! ```
//!
//! The decoder never trusts a length: a frame longer than the receiver's
//! limit is skipped (its bytes are discarded as they arrive, never buffered)
//! and reported, bad magic makes it scan for the next "TB", so one malformed
//! frame cannot wedge the other streams.

pub const MAGIC: [u8; 2] = *b"TB";
pub const HEADER: usize = 12;

pub const CTRL: u8 = 1;
pub const DATA: u8 = 2;
pub const EOF: u8 = 3;
pub const CREDIT: u8 = 4;
pub const ERROR: u8 = 5;

/// Largest payload the agent accepts (the host splits stdin into smaller frames).
pub const MAX_IN_PAYLOAD: usize = 64 * 1024;
/// Largest payload the agent sends.
pub const MAX_OUT_PAYLOAD: usize = 32 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: u8,
    pub channel: u32,
    pub payload: Vec<u8>,
}

pub fn encode(kind: u8, channel: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(kind);
    out.push(0);
    out.extend_from_slice(&channel.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// What the decoder produced from the bytes so far.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    Frame(Frame),
    /// A frame that was dropped, and why (reported to the sender).
    Rejected {
        channel: u32,
        reason: String,
    },
}

pub struct Decoder {
    buf: Vec<u8>,
    /// Bytes of an oversized frame still to discard.
    skip: usize,
    /// Set while resynchronising after bad magic (reported once per run).
    lost_sync: bool,
    max_payload: usize,
    /// Bytes consumed in total (for link credit).
    pub consumed: u64,
}

impl Decoder {
    pub fn new(max_payload: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            skip: 0,
            lost_sync: false,
            max_payload,
            consumed: 0,
        }
    }

    /// Feeds bytes; returns every complete item.
    pub fn push(&mut self, mut data: &[u8]) -> Vec<Item> {
        self.consumed += data.len() as u64;
        let mut out = Vec::new();
        if self.skip > 0 {
            let n = self.skip.min(data.len());
            self.skip -= n;
            data = &data[n..];
        }
        self.buf.extend_from_slice(data);
        loop {
            if self.skip > 0 {
                let n = self.skip.min(self.buf.len());
                self.skip -= n;
                self.buf.drain(..n);
                if self.skip > 0 {
                    break;
                }
            }
            if self.buf.len() < 2 {
                break;
            }
            if self.buf[0..2] != MAGIC {
                // Drop bytes up to the next possible magic.
                let next = (1..self.buf.len())
                    .find(|&i| {
                        self.buf[i] == MAGIC[0]
                            && (i + 1 == self.buf.len() || self.buf[i + 1] == MAGIC[1])
                    })
                    .unwrap_or(self.buf.len());
                self.buf.drain(..next);
                if !self.lost_sync {
                    self.lost_sync = true;
                    out.push(Item::Rejected {
                        channel: 0,
                        reason: "bad frame magic: skipping to the next frame".into(),
                    });
                }
                continue;
            }
            if self.buf.len() < HEADER {
                break;
            }
            self.lost_sync = false;
            let kind = self.buf[2];
            let channel = u32::from_le_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]);
            let len =
                u32::from_le_bytes([self.buf[8], self.buf[9], self.buf[10], self.buf[11]]) as usize;
            if len > self.max_payload {
                self.buf.drain(..HEADER);
                self.skip = len;
                out.push(Item::Rejected {
                    channel,
                    reason: format!(
                        "frame of {} bytes exceeds the limit of {}",
                        len, self.max_payload
                    ),
                });
                continue;
            }
            if self.buf.len() < HEADER + len {
                break;
            }
            let payload = self.buf[HEADER..HEADER + len].to_vec();
            self.buf.drain(..HEADER + len);
            if !(CTRL..=ERROR).contains(&kind) {
                out.push(Item::Rejected {
                    channel,
                    reason: format!("unknown frame type {}", kind),
                });
                continue;
            }
            out.push(Item::Frame(Frame {
                kind,
                channel,
                payload,
            }));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_pieces() {
        let mut bytes = encode(CTRL, 0, b"{\"op\":\"hello\"}");
        bytes.extend(encode(DATA, 7, b"abc"));
        let mut d = Decoder::new(100);
        let mut items = Vec::new();
        for b in &bytes {
            items.extend(d.push(&[*b]));
        }
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[1],
            Item::Frame(Frame {
                kind: DATA,
                channel: 7,
                payload: b"abc".to_vec()
            })
        );
        assert_eq!(d.consumed, bytes.len() as u64);
    }

    #[test]
    fn oversized_frame_is_skipped_and_the_next_one_arrives() {
        let mut bytes = encode(DATA, 3, &[b'x'; 500]);
        bytes.extend(encode(DATA, 4, b"ok"));
        let mut d = Decoder::new(100);
        let mut items = Vec::new();
        for chunk in bytes.chunks(64) {
            items.extend(d.push(chunk));
        }
        assert!(matches!(&items[0], Item::Rejected { channel: 3, .. }));
        assert_eq!(
            items[1],
            Item::Frame(Frame {
                kind: DATA,
                channel: 4,
                payload: b"ok".to_vec()
            })
        );
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn garbage_then_a_frame() {
        let mut bytes = b"garbage T".to_vec();
        bytes.extend(encode(EOF, 9, b""));
        bytes.extend(encode(42, 1, b"zz"));
        let mut d = Decoder::new(100);
        let items = d.push(&bytes);
        assert!(matches!(&items[0], Item::Rejected { channel: 0, .. }));
        assert_eq!(
            items[1],
            Item::Frame(Frame {
                kind: EOF,
                channel: 9,
                payload: vec![]
            })
        );
        assert!(matches!(&items[2], Item::Rejected { channel: 1, .. }));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    /// The wire format as test/fixtures/contract/frames.json has it (the TS
    /// side checks frame.ts against the same file).
    #[test]
    fn contract_frames() {
        use container::contract::fixture;
        use container::json::Json;
        let doc = fixture("frames.json");
        let num = |v: &Json, k: &str| v.get(k).unwrap().as_number().unwrap().as_u64().unwrap();
        let types = doc.get("types").unwrap();
        assert_eq!(
            [CTRL, DATA, EOF, CREDIT, ERROR].map(u64::from),
            ["ctrl", "data", "eof", "credit", "error"].map(|k| num(types, k))
        );
        assert_eq!(HEADER as u64, num(&doc, "header"));
        assert_eq!(MAX_IN_PAYLOAD as u64, num(&doc, "agentMaxInPayload"));
        assert_eq!(MAX_OUT_PAYLOAD as u64, num(&doc, "agentMaxOutPayload"));
        for f in doc.get("frames").unwrap().as_array().unwrap() {
            let (kind, chan) = (num(f, "type") as u8, num(f, "channel") as u32);
            let payload = hex(f.get("payloadHex").unwrap().as_str().unwrap());
            let wire = hex(f.get("wireHex").unwrap().as_str().unwrap());
            assert_eq!(encode(kind, chan, &payload), wire);
            let want = Frame {
                kind,
                channel: chan,
                payload,
            };
            assert_eq!(Decoder::new(MAX_IN_PAYLOAD).push(&wire), vec![Item::Frame(want)]);
        }
        for r in doc.get("rejected").unwrap().as_array().unwrap() {
            let items = Decoder::new(MAX_IN_PAYLOAD).push(&hex(r.get("wireHex").unwrap().as_str().unwrap()));
            match &items[..] {
                [Item::Rejected { channel, .. }] => assert_eq!(*channel as u64, num(r, "channel")),
                other => panic!("expected one rejection, got {:?}", other),
            }
        }
    }
}
