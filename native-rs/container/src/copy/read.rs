//! A tree as a record stream: `read` walks one path (a file, a link or a
//! whole directory) depth-first in name order. Hard links after the first
//! become `hardlink` records; sockets are left out. A container's tree may
//! nest deeper than PATH_MAX, which a whole path cannot name: past it, names
//! are opened relative to their directory's descriptor (the *at calls), held
//! for that part of the walk; above it, by whole paths (the lstat of each and
//! `O_NOFOLLOW` keep a link from being followed as the entry itself, not as a
//! directory above it, which a running container may swap in meanwhile).

use super::owners::Owners;
use super::record::{Kind, Record};
use crate::error::{Error, ErrorKind};
use crate::sys::consts::{AT_FDCWD, O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY};
use crate::sys::errno::{EINVAL, ELOOP, ENOENT, ENOTDIR};
use crate::sys::fs::Fd;
use crate::sys::{fd, fs, path as sys_path, Errno};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::os::unix::io::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};

/// A sparse file's header names at most this many data extents (the last
/// then runs to the end), so a file of a million small holes stays one line.
const MAX_EXTENTS: usize = 256;

/// Linux's limits of a path (with its NUL) and of one name.
const PATH_MAX: usize = 4096;
const NAME_MAX: usize = 255;

/// Directories deeper than this are refused, not read: the walk recurses, and a tree of ever more one-letter
/// levels (which rm removes) would overflow its stack. As deep as whole paths ever reached ("/d" a level).
const MAX_DEPTH: usize = PATH_MAX / 2;

/// Nor is a path longer than this read: each level of the walk keeps its own path (and the stream carries each
/// entry's), so memory grows with the square of the depth; a container's 2000 levels of 255-byte names took 2 GB.
const MAX_WALK_PATH: usize = 4 * PATH_MAX;

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
    // (Canonical, so not a link itself: its lstat is the followed one's stat.)
    let top = followed.as_deref().unwrap_or(path);
    let (node, meta) = lstat_at(AT_FDCWD, top.as_os_str().as_bytes()).map_err(|e| io_error(path, e))?;
    let name = match &opts.name {
        // Only a directory's entries can stand at the top without it.
        Some(n) if !n.is_empty() || meta.is_dir() => n.clone().into_bytes(),
        _ => path.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default(),
    };
    let mut walker = Walker {
        opts,
        out,
        links: HashMap::new(),
        depth: 0,
    };
    walker.entry(At { dir: AT_FDCWD, name: top.as_os_str().as_bytes(), node }, top, &name, &meta)
}

/// An entry of the walk: `name` in the directory open on `dir`, and `node`
/// (O_PATH, not followed) the very file its lstat described.
struct At<'n> {
    dir: c_int,
    name: &'n [u8],
    node: Fd,
}

/// lstat of `name` in `dir`, keeping the O_PATH descriptor it was taken from.
fn lstat_at(dir: c_int, name: &[u8]) -> io::Result<(Fd, Metadata)> {
    let node = fs::openat(dir, name, O_PATH | O_NOFOLLOW, 0).map_err(os_error)?;
    let meta = ManuallyDrop::new(unsafe { File::from_raw_fd(node.0) }).metadata()?;
    Ok((node, meta))
}

fn os_error(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.0)
}

struct Walker<'a> {
    opts: &'a ReadOptions,
    out: &'a mut dyn Write,
    /// (dev, ino) of multiply linked files already written → their path in the stream.
    links: HashMap<(u64, u64), Vec<u8>>,
    /// Directories above the entry being read (the walk recurses: its stack grows with it).
    depth: usize,
}

impl<'a> Walker<'a> {
    /// `path` is the entry's whole path: for skip and for messages only, never opened.
    fn entry(&mut self, at: At, path: &Path, rel: &[u8], meta: &Metadata) -> Result<(), Error> {
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
                r.link = match sys_path::readlink_fd(at.node.0) {
                    Ok(l) => l.into_vec(),
                    // No longer a link (EINVAL) or gone: changed since the listing, as a running container may.
                    Err(e) if e == EINVAL || e == ENOENT => return Ok(()),
                    Err(e) => return Err(io_error(path, os_error(e))),
                }
            }
            Kind::Char | Kind::Block => {
                let dev = meta.rdev();
                r.major = (((dev >> 32) & 0xfffff000) | ((dev >> 8) & 0xfff)) as u32;
                r.minor = (((dev >> 12) & 0xffffff00) | (dev & 0xff)) as u32;
            }
            _ => {}
        }
        // A directory is opened for its listing and attributes, a file for its body or whiteout mark: xattr
        // calls want a path (too long below a deep tree) or an open file.
        let dir = if kind == Kind::Dir {
            match fs::openat(at.dir, at.name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0) {
                Ok(d) => Some(d),
                // No longer a directory, or gone: changed since the listing, as a running container may.
                Err(e) if e == ENOENT || e == ENOTDIR || e == ELOOP => return Ok(()),
                Err(e) => return Err(io_error(path, os_error(e))),
            }
        } else {
            None
        };
        // An empty file has no body to fail on: one that cannot be opened (a whiteout of mode 0, as lstat and
        // lgetxattr never needed to) is read without its attributes.
        // (Without content, a path that fits is read by name: nothing is opened that a running container could
        // have swapped for a device node since the lstat — `diff` reads no body.)
        let by_name = path.as_os_str().len() < PATH_MAX;
        let file = if kind == Kind::File && r.size == 0 && (self.opts.content || (self.opts.markers && !by_name)) {
            self.open_body(&at, path).unwrap_or(None)
        } else if kind == Kind::File && self.opts.content {
            self.open_body(&at, path)?
        } else {
            None
        };
        let opened = dir.as_ref().map(|d| d.0).or_else(|| file.as_ref().map(|f| f.as_raw_fd()));
        if self.opts.markers && self.is_whiteout(opened, by_name.then(|| path), &r) {
            r = Record::new(rel.to_vec(), Kind::Whiteout);
        }
        if let (Some(d), true) = (&dir, self.opts.markers) {
            r.opaque = ["trusted.overlay.opaque", "user.overlay.opaque"]
                .iter()
                .any(|a| fs::fgetxattr(d.0, a).as_deref() == Some(b"y"));
        }
        if let (Some(fd), true) = (opened, self.opts.content && (r.kind == Kind::File || r.kind == Kind::Dir)) {
            r.xattrs = xattrs(fd);
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
        drop(at.node);
        let dir = match dir {
            Some(d) if !self.opts.skip.iter().any(|s| s == path) => d,
            _ => return Ok(()),
        };
        if self.depth == MAX_DEPTH {
            return Err(Error::setup(format!("reading {}: nested deeper than {} directories", shown(path), MAX_DEPTH)));
        }
        let mut names = fs::dir_names(dir.0).map_err(|e| io_error(path, os_error(e)))?;
        names.sort();
        // While every child's whole path fits in PATH_MAX it names the child (no descriptor held per level: a tree
        // of a thousand one-letter levels stays within a 1024-descriptor limit); past that, this directory, held open.
        let held = if path.as_os_str().len() + 1 + NAME_MAX < PATH_MAX {
            drop(dir);
            None
        } else {
            Some(dir)
        };
        for n in names {
            // Names are bytes: not every one is UTF-8 (a container's `caf\xe9`).
            let child = path.join(std::ffi::OsStr::from_bytes(&n));
            if child.as_os_str().len() > MAX_WALK_PATH {
                return Err(Error::setup(format!("reading {}: a path longer than {} bytes", shown(&child), MAX_WALK_PATH)));
            }
            let mut rel = rel.to_vec();
            if !rel.is_empty() {
                rel.push(b'/');
            }
            rel.extend_from_slice(&n);
            let (at_dir, at_name) = match &held {
                Some(d) => (d.0, &n[..]),
                None => (AT_FDCWD, child.as_os_str().as_bytes()),
            };
            match lstat_at(at_dir, at_name) {
                Ok((node, m)) => {
                    self.depth += 1;
                    let read = self.entry(At { dir: at_dir, name: at_name, node }, &child, &rel, &m);
                    self.depth -= 1;
                    read?
                }
                // Gone since the listing (a running container changes its files).
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&child, e)),
            }
        }
        Ok(())
    }

    /// overlay's whiteouts: a 0/0 character device, or (rootless layers) an
    /// empty file marked `user.overlay.whiteout`.
    /// (Read from the file `opened`, else by its whole `path` when it fits.)
    fn is_whiteout(&self, opened: Option<c_int>, path: Option<&Path>, r: &Record) -> bool {
        const MARK: &str = "user.overlay.whiteout";
        match (r.kind, opened, path) {
            (Kind::Char, _, _) => r.major == 0 && r.minor == 0,
            (Kind::File, Some(fd), _) => r.size == 0 && fs::fgetxattr(fd, MARK).is_some(),
            (Kind::File, None, Some(p)) => r.size == 0 && fs::lgetxattr(p, MARK).is_some(),
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
    fn open_body(&self, at: &At, path: &Path) -> Result<Option<File>, Error> {
        match fs::openat(at.dir, at.name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0) {
            Ok(fd) => {
                let f = unsafe { File::from_raw_fd(ManuallyDrop::new(fd).0) };
                Ok(if f.metadata().map(|m| m.file_type().is_file()).unwrap_or(false) { Some(f) } else { None })
            }
            Err(e) if e == ELOOP => Ok(None),
            Err(e) => Err(io_error(path, os_error(e))),
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
fn xattrs(fd: c_int) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::flistxattr(fd)
        .into_iter()
        .filter_map(|n| String::from_utf8(n).ok())
        .filter(|n| super::record::carried(n))
        .filter_map(|n| fs::fgetxattr(fd, &n).map(|v| (n, v)))
        .collect();
    out.sort();
    out
}

fn io_error(path: &Path, e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        return Error::new(
            ErrorKind::NotFound,
            format!("no such file or directory: {}", shown(path)),
        );
    }
    Error::new(ErrorKind::Setup, format!("reading {}: {}", shown(path), e))
}

/// A path for a message: one below a deep tree (kilobytes) by its start and end.
fn shown(path: &Path) -> String {
    let text = path.to_string_lossy();
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= 400 {
        return text.into_owned();
    }
    let (head, tail): (String, String) = (chars[..150].iter().collect(), chars[chars.len() - 150..].iter().collect());
    format!("{}…({} characters)…{}", head, chars.len() - 300, tail)
}

fn write_error(e: io::Error) -> Error {
    Error::new(ErrorKind::Setup, format!("writing the copy stream: {}", e))
}
