//! A tree as a record stream: `read` walks one path (a file, a link or a
//! whole directory) depth-first in name order. Hard links after the first
//! become `hardlink` records; sockets are left out.

use super::owners::Owners;
use super::record::{Kind, Record};
use crate::error::{Error, ErrorKind};
use crate::sys::consts::{O_NOFOLLOW, O_NONBLOCK};
use crate::sys::errno::{EINVAL, ELOOP};
use crate::sys::{fd, fs};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A sparse file's header names at most this many data extents (the last
/// then runs to the end), so a file of a million small holes stays one line.
const MAX_EXTENTS: usize = 256;

pub struct ReadOptions {
    /// `cp -L`: follow the path itself if it is a symlink (never those below it).
    pub follow: bool,
    /// The name the path gets in the stream (default its last component; "" puts a directory's entries at the top).
    pub name: Option<String>,
    /// Leave file contents out (sizes stay): all `diff` needs.
    pub content: bool,
    /// The tree is an overlay upper layer: report its whiteouts and opaque directories.
    pub markers: bool,
    /// Directories not to descend into (pseudo file systems of a running container).
    pub skip: Vec<PathBuf>,
    /// Owners as a user namespace sees them (the tree is read from outside it).
    pub owners: Option<Owners>,
}

impl Default for ReadOptions {
    fn default() -> ReadOptions {
        ReadOptions {
            follow: false,
            name: None,
            content: true,
            markers: false,
            skip: Vec::new(),
            owners: None,
        }
    }
}

pub fn read(path: &Path, opts: &ReadOptions, out: &mut dyn Write) -> Result<(), Error> {
    // `cp -L`: the walk reads what the link resolves to (in this tree: our
    // `/` is the container's), under the link's name. Reading the link's own
    // path would stop at its O_NOFOLLOW open (a file came out as zeros).
    let followed = if opts.follow {
        Some(std::fs::canonicalize(path).map_err(|e| io_error(path, e))?)
    } else {
        None
    };
    let meta = match &followed {
        Some(real) => std::fs::metadata(real),
        None => std::fs::symlink_metadata(path),
    };
    let meta = meta.map_err(|e| io_error(path, e))?;
    let name = match &opts.name {
        // Only a directory's entries can stand at the top without it.
        Some(n) if !n.is_empty() || meta.is_dir() => n.clone().into_bytes(),
        _ => path.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default(),
    };
    let mut walker = Walker {
        opts,
        out,
        links: HashMap::new(),
    };
    walker.entry(followed.as_deref().unwrap_or(path), &name, &meta)
}

struct Walker<'a> {
    opts: &'a ReadOptions,
    out: &'a mut dyn Write,
    /// (dev, ino) of multiply linked files already written → their path in the stream.
    links: HashMap<(u64, u64), Vec<u8>>,
}

impl<'a> Walker<'a> {
    fn entry(&mut self, path: &Path, rel: &[u8], meta: &Metadata) -> Result<(), Error> {
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            Kind::Dir
        } else if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_file() {
            Kind::File
        } else if ft.is_char_device() {
            Kind::Char
        } else if ft.is_block_device() {
            Kind::Block
        } else if ft.is_fifo() {
            Kind::Fifo
        } else {
            return Ok(()); // sockets: nothing a copy can recreate
        };
        let mut r = Record::new(rel.to_vec(), kind);
        r.mode = meta.mode() & 0o7777;
        let (uid, gid) = (meta.uid(), meta.gid());
        (r.uid, r.gid) = self.opts.owners.as_ref().map_or((uid, gid), |o| o.inside(uid, gid));
        r.mtime = meta.mtime();
        match kind {
            Kind::File => r.size = meta.size(),
            Kind::Symlink => {
                r.link = match std::fs::read_link(path) {
                    Ok(l) => l.into_os_string().into_vec(),
                    // No longer a link (EINVAL) or gone: changed since the listing, as a running container may.
                    Err(e) if e.raw_os_error() == Some(EINVAL.0) || e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(io_error(path, e)),
                }
            }
            Kind::Char | Kind::Block => {
                let dev = meta.rdev();
                r.major = (((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff)) as u32;
                r.minor = (((dev >> 12) & 0xffffff00) | (dev & 0xff)) as u32;
            }
            _ => {}
        }
        if self.opts.markers && self.is_whiteout(path, &r) {
            r = Record::new(rel.to_vec(), Kind::Whiteout);
        }
        if kind == Kind::Dir && self.opts.markers {
            r.opaque = ["trusted.overlay.opaque", "user.overlay.opaque"]
                .iter()
                .any(|a| fs::lgetxattr(path, a).as_deref() == Some(b"y"));
        }
        if self.opts.content && (r.kind == Kind::File || r.kind == Kind::Dir) {
            r.xattrs = xattrs(path);
        }
        if kind != Kind::Dir && meta.nlink() > 1 && r.kind != Kind::Whiteout {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                r.kind = Kind::Hardlink;
                r.link = first.clone();
                r.size = 0;
                r.xattrs.clear();
            } else {
                self.links.insert(key, rel.to_vec());
            }
        }
        let with_body = r.kind == Kind::File && self.opts.content;
        let file = if with_body { self.open_body(path)? } else { None };
        if let Some(f) = &file {
            // Fewer blocks than bytes: it may have holes worth not sending.
            if meta.blocks().saturating_mul(512) < r.size {
                r.data = fd::data_extents(f.as_raw_fd(), r.size, MAX_EXTENTS);
            }
        }
        if !rel.is_empty() {
            self.header(&r)?;
        }
        if with_body {
            self.body(file, &r)?;
        }
        if kind == Kind::Dir && !self.opts.skip.iter().any(|s| s == path) {
            let mut names: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| io_error(path, e))?
                .filter_map(|e| e.ok().map(|e| e.file_name()))
                .collect();
            names.sort();
            for n in names {
                let child = path.join(&n);
                // Names are bytes: not every one is UTF-8 (a container's `caf\xe9`).
                let mut rel = rel.to_vec();
                if !rel.is_empty() {
                    rel.push(b'/');
                }
                rel.extend_from_slice(n.as_bytes());
                match std::fs::symlink_metadata(&child) {
                    Ok(m) => self.entry(&child, &rel, &m)?,
                    // Gone since the listing (a running container changes its files).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_error(&child, e)),
                }
            }
        }
        Ok(())
    }

    /// overlay's whiteouts: a 0/0 character device, or (rootless layers) an
    /// empty file marked `user.overlay.whiteout`.
    fn is_whiteout(&self, path: &Path, r: &Record) -> bool {
        match r.kind {
            Kind::Char => r.major == 0 && r.minor == 0,
            Kind::File => r.size == 0 && fs::lgetxattr(path, "user.overlay.whiteout").is_some(),
            _ => false,
        }
    }

    /// A stream without content (`content: false`) still carries sizes; its reader knows no bytes follow.
    fn header(&mut self, r: &Record) -> Result<(), Error> {
        self.out
            .write_all(r.header().as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(write_error)
    }

    /// The file to read a body from. A running container may have swapped
    /// it since its lstat: never through a symlink (O_NOFOLLOW), never
    /// waiting on a FIFO (O_NONBLOCK), and nothing but a regular file — a
    /// device such as /dev/tty would be our own terminal. None: the body is
    /// zeros, as a file that shrank is padded.
    fn open_body(&self, path: &Path) -> Result<Option<File>, Error> {
        use std::os::unix::fs::OpenOptionsExt;
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(O_NOFOLLOW | O_NONBLOCK)
            .open(path);
        match opened {
            Ok(f) if f.metadata().map(|m| m.file_type().is_file()).unwrap_or(false) => Ok(Some(f)),
            Ok(_) => Ok(None),
            Err(e) if e.raw_os_error() == Some(ELOOP.0) => Ok(None),
            Err(e) => Err(io_error(path, e)),
        }
    }

    /// Exactly the bytes `r` announces (each extent of a file that shrank
    /// meanwhile is padded with zeros, one that grew cut).
    fn body(&mut self, file: Option<File>, r: &Record) -> Result<(), Error> {
        let whole = [(0, r.size)];
        let extents = r.data.as_deref().unwrap_or(&whole);
        let zeros = [0u8; 8192];
        for &(offset, len) in extents {
            let copied = match file.as_ref() {
                Some(mut f) => match f.seek(SeekFrom::Start(offset)) {
                    Ok(_) => io::copy(&mut f.take(len), self.out).map_err(write_error)?,
                    Err(_) => 0,
                },
                None => 0,
            };
            let mut left = len - copied;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                self.out.write_all(&zeros[..n]).map_err(write_error)?;
                left -= n as u64;
            }
        }
        Ok(())
    }
}

/// The extended attributes a copy carries ([`super::record::carried`]), in
/// name order. Read as the tree's user namespace sees them: a file
/// capability that namespace's root set (stored as a v3 capability naming
/// its root's host id) reads back as the plain v2 one an image holds.
/// Attributes that cannot be read (gone, or another namespace's
/// capability: EOVERFLOW) are left out.
fn xattrs(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::llistxattr(path)
        .into_iter()
        .filter_map(|n| String::from_utf8(n).ok())
        .filter(|n| super::record::carried(n))
        .filter_map(|n| fs::lgetxattr(path, &n).map(|v| (n, v)))
        .collect();
    out.sort();
    out
}

fn io_error(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        return Error::new(
            ErrorKind::NotFound,
            format!("no such file or directory: {}", path.display()),
        );
    }
    Error::new(ErrorKind::Setup, format!("reading {}: {}", path.display(), e))
}

fn write_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Setup, format!("writing the copy stream: {}", e))
}
