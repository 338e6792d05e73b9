//! One copy operation on a tree whose `/` is already the right one (the
//! host, a running container's namespaces joined, a stopped one's view):
//! `stat` prints a JSON object, `read` writes records to stdout, `write`
//! reads them from stdin. Shared by `tsbox-runtime copy` and the vm agent's
//! `copy` op, so `tsbox cp` means the same on both backends.

use super::read::{self, ReadOptions};
use super::write::{self, WriteOptions};
use crate::error::Error;
use crate::json::Json;
use std::io::{self, BufReader, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub enum Op {
    Stat,
    Read(ReadOptions),
    Write(WriteOptions),
    /// The records' xattrs set on the files already there
    /// ([`write::set_xattrs_of_existing`]): `tsbox-runtime copy --op xattrs`
    /// only (a rootless unpack's capabilities), never a guest's request.
    Xattrs,
}

/// What the front end may ask for (`--op` and its switches, or the agent's
/// `copy` object). `markers`: the tree is an overlay upper dir, whose
/// whiteouts and opaque dirs are reported (`diff`, `commit`). `name`: what a
/// read names its top record, and what a write's records must be or be below.
pub struct Request<'a> {
    pub op: &'a str,
    pub follow: bool,
    pub name: Option<String>,
    pub content: bool,
    pub markers: bool,
    pub archive: bool,
}

impl Op {
    pub fn from_request(r: Request) -> Result<Op, String> {
        match r.op {
            "stat" => Ok(Op::Stat),
            "read" => Ok(Op::Read(ReadOptions {
                follow: r.follow,
                name: r.name,
                content: r.content,
                markers: r.markers,
                skip: Vec::new(),
                owners: None,
            })),
            "write" => Ok(Op::Write(WriteOptions { archive: r.archive, markers: false, owners: None, ids: None, host: false, name: r.name.map(String::into_bytes) })),
            other => Err(format!("copy op {}: expected stat, read or write", other)),
        }
    }
}

/// Performs `op` on `path`. `running`: the tree is a live container's, whose
/// pseudo file systems are not copied.
pub fn perform(op: &mut Op, path: &Path, running: bool) -> Result<(), Error> {
    match op {
        Op::Stat => {
            let line = stat(path).to_string();
            let mut out = io::stdout();
            out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).map_err(|e| Error::setup(format!("writing: {}", e)))
        }
        Op::Read(o) => {
            if running {
                o.skip.extend(crate::view::pseudo_mounts());
            }
            let stdout = io::stdout();
            let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
            read::read(path, o, &mut out)?;
            out.flush().map_err(|e| Error::setup(format!("writing the copy stream: {}", e)))
        }
        Op::Write(o) => {
            let stdin = io::stdin();
            let mut input = BufReader::with_capacity(256 * 1024, stdin.lock());
            write::write(path, o, &mut input)
        }
        Op::Xattrs => write::set_xattrs_of_existing(path, &mut BufReader::new(io::stdin().lock())),
    }
}

/// What `cp` needs to know of a path before copying: whether it exists, its
/// type, and for a symlink the type of what it points to.
fn stat(path: &Path) -> Json {
    let kind = |m: &std::fs::Metadata| {
        let ft = m.file_type();
        Json::from(if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else {
            "other"
        })
    };
    match std::fs::symlink_metadata(path) {
        Err(_) => Json::object(vec![("exists", Json::from(false))]),
        Ok(m) => {
            let mut members = vec![
                ("exists", Json::from(true)),
                ("type", kind(&m)),
                ("mode", Json::from(m.permissions().mode() & 0o7777)),
                ("size", Json::from(m.size())),
            ];
            if m.file_type().is_symlink() {
                let target = std::fs::read_link(path).map(|t| t.to_string_lossy().into_owned()).unwrap_or_default();
                members.push(("link", Json::from(target)));
                members.push(("targetType", std::fs::metadata(path).map(|t| kind(&t)).unwrap_or(Json::Null)));
            }
            Json::object(members)
        }
    }
}
