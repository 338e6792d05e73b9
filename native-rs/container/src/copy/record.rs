//! One entry of a record stream: `{"path":…,"type":…,…}\n`, then `size`
//! bytes for a file — or, for a sparse one (`"data":[[offset,length],…]`),
//! only the bytes of its data extents, in order: the rest are holes, so a
//! `truncate -s 100G` file crosses as its data, not as 100 GiB of zeros.
//! Paths are relative, `/`-separated, UTF-8.

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
    pub path: String,
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
    pub link: String,
    /// A directory that hides the layers below it (overlay's opaque mark).
    pub opaque: bool,
    pub major: u32,
    pub minor: u32,
}

impl Record {
    pub fn new(path: String, kind: Kind) -> Record {
        Record {
            path,
            kind,
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            size: 0,
            data: None,
            link: String::new(),
            opaque: false,
            major: 0,
            minor: 0,
        }
    }

    /// The header line, without its newline.
    pub fn header(&self) -> String {
        let mut members: Vec<(&str, Json)> = vec![
            ("path", Json::from(self.path.as_str())),
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
            members.push(("link", Json::from(self.link.as_str())));
        }
        if self.opaque {
            members.push(("opaque", Json::from(true)));
        }
        if self.kind == Kind::Char || self.kind == Kind::Block {
            members.push(("major", Json::from(self.major)));
            members.push(("minor", Json::from(self.minor)));
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
        Ok(Record {
            path: text("path").ok_or_else(|| bad("path"))?,
            kind,
            mode: u32_of("mode") & 0o7777,
            uid: u32_of("uid"),
            gid: u32_of("gid"),
            mtime: number("mtime").and_then(|n| n.as_i64()).unwrap_or(0),
            size,
            data,
            link: text("link").unwrap_or_default(),
            opaque: v.get("opaque").and_then(Json::as_bool).unwrap_or(false),
            major: u32_of("major"),
            minor: u32_of("minor"),
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
        let mut d = Record::new("dev/null".into(), Kind::Char);
        d.major = 1;
        d.minor = 3;
        assert_eq!(Record::parse(&d.header()).unwrap(), d);
        assert!(Record::parse("{\"path\":\"x\",\"type\":\"socket\"}").is_err());
    }
}
