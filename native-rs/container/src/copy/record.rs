//! One entry of a record stream: `{"path":…,"type":…,…}\n`, then `size`
//! bytes for a file — or, for a sparse one (`"data":[[offset,length],…]`),
//! only the bytes of its data extents, in order: the rest are holes, so a
//! `truncate -s 100G` file crosses as its data, not as 100 GiB of zeros.
//! Paths are relative, `/`-separated bytes: a name that is UTF-8 travels as
//! `path` (`link`), any other (Linux names are bytes: `caf\xe9`) as `pathHex`
//! (`linkHex`), the bytes in hex, so it comes out the other side unchanged.
//! A file's or directory's extended attributes travel as `xattrs`, name →
//! value in hex (a capability or an ACL is bytes): only those an image layer
//! carries ([`carried`]), never overlay's own markers.

use crate::error::{Error, ErrorKind};
use crate::json::{self, Json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    /// `link` names an earlier entry of the same stream.
    Hardlink,
    Char,
    Block,
    Fifo,
    /// An overlay whiteout (read from an upper layer only): the path was deleted.
    Whiteout,
}

const KINDS: [(Kind, &str); 8] = [
    (Kind::File, "file"),
    (Kind::Dir, "dir"),
    (Kind::Symlink, "symlink"),
    (Kind::Hardlink, "hardlink"),
    (Kind::Char, "char"),
    (Kind::Block, "block"),
    (Kind::Fifo, "fifo"),
    (Kind::Whiteout, "whiteout"),
];

impl Kind {
    pub fn as_str(self) -> &'static str {
        KINDS.iter().find(|(k, _)| *k == self).map(|(_, s)| *s).unwrap_or("file")
    }

    fn parse(s: &str) -> Option<Kind> {
        KINDS.iter().find(|(_, n)| *n == s).map(|(k, _)| *k)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub path: Vec<u8>,
    pub kind: Kind,
    /// Permission bits with setuid/setgid/sticky (no file type bits).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// The file's length (files only).
    pub size: u64,
    /// A sparse file's data extents (offset, length): increasing, apart,
    /// within `size`. None: all `size` bytes follow.
    pub data: Option<Vec<(u64, u64)>>,
    /// A symlink's target, or the earlier path a hard link shares.
    pub link: Vec<u8>,
    /// A directory that hides the layers below it (overlay's opaque mark).
    pub opaque: bool,
    pub major: u32,
    pub minor: u32,
    /// Extended attributes (name, value), in name order: [`carried`] ones only.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Whether an extended attribute belongs in a copy (and so in a committed
/// layer or an export, as `SCHILY.xattr.*`): `user.*`, `trusted.*`, a file
/// capability and POSIX ACLs, as an unpack applies them
/// (src/image/unpack.ts), but never overlay's own (`*.overlay.*`: an upper
/// dir's whiteouts and opaque marks become records of their own) nor a
/// host's labels (`security.selinux`, `security.ima`, ...).
pub fn carried(name: &str) -> bool {
    let overlay = name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.");
    let kept = name.starts_with("user.")
        || name.starts_with("trusted.")
        || name == "security.capability"
        || name == "system.posix_acl_access"
        || name == "system.posix_acl_default";
    kept && !overlay
}

impl Record {
    pub fn new(path: Vec<u8>, kind: Kind) -> Record {
        Record {
            path,
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 0,
            data: None,
            link: Vec::new(),
            opaque: false,
            major: 0,
            minor: 0,
            xattrs: Vec::new(),
        }
    }

    /// The path for messages (bytes that are not UTF-8 shown as U+FFFD).
    pub fn shown(&self) -> String {
        String::from_utf8_lossy(&self.path).into_owned()
    }

    /// The header line, without its newline.
    pub fn header(&self) -> String {
        let mut members: Vec<(&str, Json)> = vec![
            bytes_member("path", "pathHex", &self.path),
            ("type", Json::from(self.kind.as_str())),
            ("mode", Json::from(self.mode)),
            ("uid", Json::from(self.uid)),
            ("gid", Json::from(self.gid)),
            ("mtime", Json::from(self.mtime)),
            ("size", Json::from(self.size)),
        ];
        if let Some(data) = &self.data {
            let pairs = data.iter().map(|&(o, l)| Json::Array(vec![Json::from(o), Json::from(l)]));
            members.push(("data", Json::Array(pairs.collect())));
        }
        if !self.link.is_empty() {
            members.push(bytes_member("link", "linkHex", &self.link));
        }
        if self.opaque {
            members.push(("opaque", Json::from(true)));
        }
        if self.kind == Kind::Char || self.kind == Kind::Block {
            members.push(("major", Json::from(self.major)));
            members.push(("minor", Json::from(self.minor)));
        }
        if !self.xattrs.is_empty() {
            let values = self.xattrs.iter().map(|(k, v)| (k.clone(), Json::from(to_hex(v))));
            members.push(("xattrs", Json::object(values.collect())));
        }
        Json::object(members).to_string()
    }

    pub fn parse(line: &str) -> Result<Record, Error> {
        let bad = |what: &str| Error::new(ErrorKind::Spec, format!("bad copy record ({}): {}", what, line));
        let v = json::parse(line).map_err(|_| bad("not JSON"))?;
        let text = |k: &str| v.get(k).and_then(Json::as_str).map(str::to_string);
        let number = |k: &str| v.get(k).and_then(Json::as_number);
        let u32_of = |k: &str| number(k).and_then(|n| n.as_u32()).unwrap_or(0);
        let kind = text("type").as_deref().and_then(Kind::parse).ok_or_else(|| bad("type"))?;
        let size = if kind == Kind::File {
            number("size").and_then(|n| n.as_u64()).ok_or_else(|| bad("size"))?
        } else {
            0
        };
        let data = match v.get("data") {
            Some(d) if kind == Kind::File => Some(extents(d, size).ok_or_else(|| bad("data"))?),
            _ => None,
        };
        let bytes = |k: &str, hex: &str| match text(hex) {
            Some(h) => from_hex(&h),
            None => text(k).map(String::into_bytes),
        };
        Ok(Record {
            path: bytes("path", "pathHex").ok_or_else(|| bad("path"))?,
            kind,
            mode: u32_of("mode") & 0o7777,
            uid: u32_of("uid"),
            gid: u32_of("gid"),
            mtime: number("mtime").and_then(|n| n.as_i64()).unwrap_or(0),
            size,
            data,
            link: match v.get("linkHex") {
                Some(_) => bytes("link", "linkHex").ok_or_else(|| bad("linkHex"))?,
                None => text("link").map(String::into_bytes).unwrap_or_default(),
            },
            opaque: v.get("opaque").and_then(Json::as_bool).unwrap_or(false),
            major: u32_of("major"),
            minor: u32_of("minor"),
            xattrs: match v.get("xattrs") {
                Some(x) => xattrs(x).ok_or_else(|| bad("xattrs"))?,
                None => Vec::new(),
            },
        })
    }
}

impl Record {
    /// The bytes that follow the header (with content).
    pub fn body_len(&self) -> u64 {
        match &self.data {
            Some(d) => d.iter().map(|(_, l)| l).sum(),
            None => self.size,
        }
    }
}

/// A name member: text when it is UTF-8, else its bytes in hex under `hex_key`.
fn bytes_member<'k>(key: &'k str, hex_key: &'k str, bytes: &[u8]) -> (&'k str, Json) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (key, Json::from(text)),
        Err(_) => (hex_key, Json::from(to_hex(bytes))),
    }
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// `{"name":"hex",…}`: the carried ones kept (in name order), any other left out; a value that is not hex refuses the record.
fn xattrs(v: &Json) -> Option<Vec<(String, Vec<u8>)>> {
    let members = match v {
        Json::Object(m) => m,
        _ => return None,
    };
    let mut out = Vec::new();
    for (name, value) in members {
        let bytes = from_hex(value.as_str()?)?;
        if carried(name) && !name.contains('\0') {
            out.push((name.clone(), bytes));
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    Some(out)
}

pub(crate) fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|d| u8::from_str_radix(d, 16).ok())).collect()
}

/// `[[offset,length],…]`: increasing, apart, none empty, all within `size`
/// (a writer seeks to each offset: one past the end would grow the file).
fn extents(v: &Json, size: u64) -> Option<Vec<(u64, u64)>> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    let mut end = 0u64;
    for pair in v.as_array()? {
        let p = pair.as_array()?;
        let (o, l) = match p {
            [o, l] => (o.as_number()?.as_u64()?, l.as_number()?.as_u64()?),
            _ => return None,
        };
        let e = o.checked_add(l)?;
        if l == 0 || o < end || e > size {
            return None;
        }
        out.push((o, l));
        end = e;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let mut r = Record::new("a/b c/\u{e9}\"x".into(), Kind::File);
        r.mode = 0o4755;
        r.uid = 1000;
        r.mtime = 1_700_000_000;
        r.size = 12;
        assert_eq!(Record::parse(&r.header()).unwrap(), r);
        r.data = Some(vec![(0, 4), (8, 4)]);
        assert_eq!(Record::parse(&r.header()).unwrap(), r);
        assert_eq!(r.body_len(), 8);
        let mut n = Record::new(b"d/caf\xe9\n\\".to_vec(), Kind::Symlink);
        n.link = b"../\xff".to_vec();
        assert!(n.header().contains("\"pathHex\":\"642f636166e90a5c\""), "{}", n.header());
        assert_eq!(Record::parse(&n.header()).unwrap(), n);
        assert!(Record::parse("{\"pathHex\":\"6g\",\"type\":\"dir\"}").is_err());
        let mut d = Record::new("dev/null".into(), Kind::Char);
        d.major = 1;
        d.minor = 3;
        assert_eq!(Record::parse(&d.header()).unwrap(), d);
        assert!(Record::parse("{\"path\":\"x\",\"type\":\"socket\"}").is_err());
        let mut x = Record::new("bin/ping".into(), Kind::File);
        x.xattrs = vec![("security.capability".into(), vec![0, 0, 0, 2, 0, 0x20, 0, 0]), ("user.a".into(), b"b".to_vec())];
        assert_eq!(Record::parse(&x.header()).unwrap(), x);
        let marker = "{\"path\":\"d\",\"type\":\"dir\",\"xattrs\":{\"trusted.overlay.opaque\":\"79\",\"user.overlay.opaque\":\"79\",\"user.k\":\"\"}}";
        assert_eq!(Record::parse(marker).unwrap().xattrs, vec![("user.k".to_string(), Vec::new())], "overlay's markers are never carried");
        assert!(Record::parse("{\"path\":\"x\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.a\":\"zz\"}}").is_err());
    }
}
