//! A record stream written out below a directory, as `tar x` would, with
//! one rule more: nothing is written through a symlink. Every parent is
//! opened component by component with O_NOFOLLOW from the target directory
//! (missing ones are created), and final names are created with O_EXCL-like
//! calls after removing what was there; a regular file under a temporary name
//! beside it, renamed over what was there once whole. In a container's view the target
//! directory itself is resolved inside its root; on the host it is the
//! user's own path.

use super::owners::Owners;
use super::record::{Kind, Record};
use crate::error::{Error, ErrorKind};
use crate::sys::consts::*;
use crate::sys::errno::{E2BIG, EACCES, EEXIST, EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ENOTSUP, EPERM, ERANGE};
use crate::sys::fs::{self, Fd};
use crate::sys::{fd, Errno};
use std::io::{BufRead, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::FromRawFd;
use std::os::raw::c_int;
use std::path::Path;

pub struct WriteOptions {
    /// `cp -a`: keep the records' owners (otherwise files belong to whoever writes them: root in a container).
    pub archive: bool,
    /// The target is an overlay upper dir being restored (the vm guest's saved
    /// writable layer): whiteout records become whiteouts (0/0 character
    /// devices) and opaque directories get `trusted.overlay.opaque`. Takes the
    /// privileges the guest's root has; refused otherwise.
    pub markers: bool,
    /// With `archive`: the records' owners are a user namespace's ids, and files get the ids they stand for outside it.
    pub owners: Option<Owners>,
    /// The id maps of the user namespace the write runs in, where known
    /// (`tsbox-runtime copy`): an owner it does not map is refused with them
    /// named ([`unmapped_owner`]).
    pub ids: Option<Owners>,
    /// The target is the host's file system (`cp CONTAINER:PATH HOSTPATH`):
    /// without `archive`, what an image or a container chose never becomes a
    /// privilege of whoever copies (root, often) — device nodes are left out
    /// and setuid/setgid bits cleared (src/containers/host-copy.ts has the
    /// same rule for its JS writer).
    pub host: bool,
    /// The name the reader was asked for (`cp CONTAINER:SRC HOSTPATH`: `--name`
    /// of `--op write` too): every record, and every hard link's target, must
    /// be it or below it ("": anything below the target directory). The
    /// stream may come from a hostile vm guest (docs/security.md), and the
    /// target directory is DEST's parent, never only what the user asked for.
    pub name: Option<Vec<u8>>,
}

impl WriteOptions {
    fn owner(&self, r: &Record) -> (u32, u32) {
        self.owners.as_ref().map_or((r.uid, r.gid), |o| o.outside(r.uid, r.gid))
    }

    /// The copier's own file on the host: not one of the record's privileges.
    fn guarded(&self) -> bool {
        self.host && !self.archive
    }
}

const SET_ID_BITS: u32 = 0o6000;

pub fn write(dir: &Path, opts: &WriteOptions, input: &mut dyn BufRead) -> Result<(), Error> {
    let root = fs::openat(AT_FDCWD, dir.as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).map_err(|e| match e {
        ENOENT => Error::new(ErrorKind::NotFound, format!("no such directory: {}", dir.display())),
        ENOTDIR => Error::new(ErrorKind::Setup, format!("not a directory: {}", dir.display())),
        e => Error::errno(format!("opening {}", dir.display()), e),
    })?;
    let mut dirs: Vec<Record> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = input.read_line(&mut line).map_err(|e| Error::setup(format!("reading the copy stream: {}", e)))?;
        if n == 0 {
            break;
        }
        let record = Record::parse(line.trim_end_matches('\n'))?;
        let parts = components(&record.path)?;
        asked(opts, &parts, &record.path)?;
        if record.kind == Kind::Hardlink {
            // Before its parents are made: nothing of an outside record is written.
            asked(opts, &components(&record.link)?, &record.link)?;
        }
        if parts.is_empty() {
            // The target directory itself: only its metadata could come with it.
            skip(input, record.body_len())?;
            continue;
        }
        let (parent, name) = parent_of(root.0, &parts, &record.shown())?;
        create(&parent, name, &record, opts, input, (root.0, dir))?;
        if record.kind == Kind::Dir {
            dirs.push(record);
        }
    }
    // Directory modes, times and opaque marks last (deepest first): a 0555 dir must stay writable while filled.
    for d in dirs.iter().rev() {
        let parts = components(&d.path)?;
        let shown = d.shown();
        let (parent, name) = parent_of(root.0, &parts, &shown)?;
        let dirfd = fs::openat(parent.0, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).map_err(|e| step(&shown, "opening", e))?;
        if opts.archive {
            give_owner(&parent, name, d, opts, dir)?;
        }
        set_xattrs(dirfd.0, d, opts)?;
        if opts.markers && d.opaque {
            fs::fsetxattr(dirfd.0, "trusted.overlay.opaque", b"y").map_err(|e| step(&shown, "marking opaque", e))?;
        }
        fs::fchmod(dirfd.0, d.mode).map_err(|e| step(&shown, "setting the mode of", e))?;
        let _ = fs::lutimesat(parent.0, name, d.mtime);
    }
    Ok(())
}

/// `copy --op xattrs`: each record's extended attributes set on the file
/// that is already at its path below `dir` (the record's type must match);
/// nothing is created, and nothing followed — parents are opened with
/// O_NOFOLLOW, the file itself too. What the kernel refuses is left out, as
/// an unpack leaves it out. A rootless unpack has root of the user's own
/// namespace set a layer's file capabilities this way
/// (src/containers/layer-owners.ts): written there, a v2 capability is
/// stored as a v3 one naming that namespace's root.
pub fn set_xattrs_of_existing(dir: &Path, input: &mut dyn BufRead) -> Result<(), Error> {
    let root = fs::openat(AT_FDCWD, dir.as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).map_err(|e| Error::errno(format!("opening {}", dir.display()), e))?;
    let opts = WriteOptions { archive: false, markers: false, owners: None, ids: None, host: false, name: None };
    let mut line = String::new();
    loop {
        line.clear();
        let n = input.read_line(&mut line).map_err(|e| Error::setup(format!("reading the copy stream: {}", e)))?;
        if n == 0 {
            return Ok(());
        }
        let record = Record::parse(line.trim_end_matches('\n'))?;
        skip(input, record.body_len())?;
        let shown = record.shown();
        let parts = components(&record.path)?;
        let file = if parts.is_empty() {
            Fd(dup(root.0)?)
        } else {
            let (parent, name) = open_parent(root.0, &parts, &shown, false)?;
            // O_NONBLOCK: a FIFO in the record's place does not hold us up (its type is refused below).
            fs::openat(parent.0, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, 0).map_err(|e| step(&shown, "opening", e))?
        };
        let meta = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(file.0) }).metadata().map_err(|e| io_step(&shown, "reading", e))?;
        let matches = match record.kind {
            Kind::File => meta.file_type().is_file(),
            Kind::Dir => meta.file_type().is_dir(),
            _ => false,
        };
        if !matches {
            return Err(Error::new(ErrorKind::Setup, format!("refusing to set the xattrs of {}: it is not a {}", shown, record.kind.as_str())));
        }
        set_xattrs(file.0, &record, &opts)?;
    }
}

/// A record path's components (bytes: names need not be UTF-8); absolute paths and `..` are refused.
fn components(path: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let parts: Vec<&[u8]> = path.split(|b| *b == b'/').filter(|p| !p.is_empty() && *p != b".").collect();
    if path.starts_with(b"/") || parts.iter().any(|p| *p == b"..") {
        let shown = String::from_utf8_lossy(path);
        return Err(Error::new(ErrorKind::Spec, format!("refusing to write {}: it leaves the target directory", shown)));
    }
    Ok(parts)
}

/// Refuses a path (its components) outside the name the reader was asked
/// for (`WriteOptions.name`), before anything of its record is written.
fn asked(opts: &WriteOptions, parts: &[&[u8]], path: &[u8]) -> Result<(), Error> {
    let name = match &opts.name {
        Some(n) => components(n)?,
        None => return Ok(()),
    };
    if parts.len() >= name.len() && parts[..name.len()] == name[..] {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Spec,
        format!(
            "refusing to write {}: the copy stream may hold only {} and what is below it",
            String::from_utf8_lossy(path),
            String::from_utf8_lossy(opts.name.as_deref().unwrap_or_default())
        ),
    ))
}

/// The open parent directory of `parts` (created as needed, never through a symlink) and the last name.
fn parent_of<'p>(root: c_int, parts: &[&'p [u8]], shown: &str) -> Result<(Fd, &'p [u8]), Error> {
    open_parent(root, parts, shown, true)
}

/// [`parent_of`], creating missing directories only when `create`.
fn open_parent<'p>(root: c_int, parts: &[&'p [u8]], shown: &str, create: bool) -> Result<(Fd, &'p [u8]), Error> {
    let mut current = Fd(dup(root)?);
    for part in &parts[..parts.len() - 1] {
        let next = match fs::openat(current.0, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0) {
            Ok(fd) => fd,
            Err(ENOENT) if create => {
                match fs::mkdirat(current.0, part, 0o755) {
                    Ok(()) | Err(EEXIST) => {}
                    Err(e) => return Err(step(shown, "creating the parent directories of", e)),
                }
                fs::openat(current.0, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).map_err(|e| step(shown, "opening the parents of", e))?
            }
            Err(ELOOP) | Err(ENOTDIR) => {
                return Err(Error::new(
                    ErrorKind::Setup,
                    format!("refusing to write {}: {} is a symlink or not a directory", shown, String::from_utf8_lossy(part)),
                ))
            }
            Err(e) => return Err(step(shown, "opening the parents of", e)),
        };
        current = next;
    }
    Ok((current, parts[parts.len() - 1]))
}

/// `root`: the target directory, open and as named (an error's path).
fn create(parent: &Fd, name: &[u8], r: &Record, opts: &WriteOptions, input: &mut dyn BufRead, (root, dir): (c_int, &Path)) -> Result<(), Error> {
    let shown = r.shown();
    if r.kind == Kind::Dir {
        match fs::mkdirat(parent.0, name, 0o700) {
            Ok(()) => {}
            // An existing directory is merged into; anything else in the way is replaced.
            Err(EEXIST) => {
                if fs::openat(parent.0, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).is_err() {
                    fs::unlinkat(parent.0, name, 0).map_err(|e| step(&shown, "replacing", e))?;
                    fs::mkdirat(parent.0, name, 0o700).map_err(|e| step(&shown, "creating", e))?;
                }
            }
            Err(e) => return Err(step(&shown, "creating", e)),
        }
        return Ok(());
    }
    if r.kind == Kind::File {
        // Written beside what it replaces and renamed over it once whole: a failed copy (a full disk, a stream
        // cut short) leaves the old file as it was, and no half-written one as if copied.
        if is_dir(parent, name) {
            return Err(not_over_dir(&shown));
        }
        // A signal's handler removes it meanwhile (pending.rs).
        let tmp = super::pending::temp_name();
        super::pending::hold(parent.0);
        let written = write_file(parent, tmp, r, opts, input, dir)
            .and_then(|()| fs::renameat(parent.0, tmp, parent.0, name).map_err(|e| step(&shown, "replacing", e)));
        if written.is_err() {
            let _ = fs::unlinkat(parent.0, tmp, 0);
        }
        super::pending::release();
        written?;
        let _ = fs::lutimesat(parent.0, name, r.mtime);
        return Ok(());
    }
    match fs::unlinkat(parent.0, name, 0) {
        Ok(()) | Err(ENOENT) => {}
        Err(EISDIR) | Err(EPERM) if is_dir(parent, name) => return Err(not_over_dir(&shown)),
        Err(e) => return Err(step(&shown, "replacing", e)),
    }
    match r.kind {
        Kind::File => unreachable!(),
        Kind::Symlink => fs::symlinkat(&r.link, parent.0, name).map_err(|e| step(&shown, "creating", e))?,
        Kind::Hardlink => {
            let target = components(&r.link)?;
            if target.is_empty() {
                return Err(Error::new(ErrorKind::Spec, format!("hard link {} has no target", shown)));
            }
            let (tparent, tname) = parent_of(root, &target, &String::from_utf8_lossy(&r.link))?;
            fs::linkat(tparent.0, tname, parent.0, name).map_err(|e| step(&shown, "linking", e))?;
            return Ok(());
        }
        Kind::Char | Kind::Block if opts.guarded() => return Ok(()),
        Kind::Char | Kind::Block | Kind::Fifo => {
            let ty = match r.kind {
                Kind::Char => S_IFCHR,
                Kind::Block => S_IFBLK,
                _ => S_IFIFO,
            };
            // Device nodes need privileges a container's root (or a user) rarely has: left out then, as a rootless tar does.
            match fs::mknodat(parent.0, name, ty | r.mode, r.major, r.minor) {
                Ok(()) => {}
                Err(EPERM) => return Ok(()),
                Err(e) => return Err(step(&shown, "creating", e)),
            }
        }
        Kind::Whiteout if opts.markers => fs::mknodat(parent.0, name, S_IFCHR, 0, 0).map_err(|e| step(&shown, "creating the whiteout", e))?,
        Kind::Whiteout => return Err(Error::new(ErrorKind::Spec, format!("cannot write whiteout {}", shown))),
        Kind::Dir => unreachable!(),
    }
    if opts.archive && r.kind != Kind::File {
        give_owner(parent, name, r, opts, dir)?;
    }
    let _ = fs::lutimesat(parent.0, name, r.mtime);
    Ok(())
}

/// `archive`: `name` (in `parent`, below the target directory `dir`) gets
/// the record's owner. One the user namespace does not map (EINVAL: an id
/// past a rootless user's range) fails the write, as docker's and podman's
/// (buildah's copier) do: left as it was, the file would silently be the
/// container's root's (`COPY --chown=70000`, an `ADD`ed tar's owners, `cp
/// -a`). The host's own files (`cp -a` out of a container) keep the owners
/// the user may give, as a tar run by the user does.
fn give_owner(parent: &Fd, name: &[u8], r: &Record, opts: &WriteOptions, dir: &Path) -> Result<(), Error> {
    let (uid, gid) = opts.owner(r);
    match fs::lchownat(parent.0, name, uid, gid) {
        Err(EINVAL) if !opts.host => {
            // Which of the two it is: the uid alone (-1 leaves the gid).
            let uid_unmapped = fs::lchownat(parent.0, name, uid, u32::MAX) == Err(EINVAL);
            Err(unmapped_owner(&dir.join(r.shown()), (uid, gid), uid_unmapped, opts.ids.as_ref()))
        }
        _ => Ok(()),
    }
}

/// The error of an owner the user namespace does not map, naming the file,
/// the id, and where the namespace's ids are known (`tsbox-runtime copy`),
/// them and what gives it more.
fn unmapped_owner(path: &Path, (uid, gid): (u32, u32), uid_unmapped: bool, ids: Option<&Owners>) -> Error {
    let (kind, id, maps) = if uid_unmapped { ("uid", uid, ids.map(|o| &o.uids)) } else { ("gid", gid, ids.map(|o| &o.gids)) };
    let mut message = format!("cannot give {} the owner {}:{}: {} {} is not mapped in the container's user namespace", path.display(), uid, gid, kind, id);
    match maps {
        Some(m) if m.len() == 1 && m[0].size == 1 => message.push_str(&format!(
            ", which has {} {} only (this user has no /etc/subuid and /etc/subgid range: `tsbox info` names a free one and the command that adds it)",
            kind, m[0].container_id
        )),
        Some(m) if !m.is_empty() => message.push_str(&format!(
            ", whose {}s are {} (host {}s {}): rootless, a container's ids past 0 are the user's /etc/subuid and /etc/subgid range, which must be wider for this one",
            kind,
            spans(m.iter().map(|m| (m.container_id, m.size))),
            kind,
            spans(m.iter().map(|m| (m.host_id, m.size)))
        )),
        // The vm guest's agent: its containers' ids are the guest's (a Mac user's have no /etc/subuid to widen).
        _ => {}
    }
    Error { kind: ErrorKind::Setup, errno: Some(EINVAL.0), message }
}

/// Id spans as text, `0-65536`, `1000, 100000-165535`: adjoining ones merged, in order.
fn spans(ranges: impl Iterator<Item = (u32, u32)>) -> String {
    let mut sorted: Vec<(u64, u64)> = ranges.map(|(start, size)| (start as u64, start as u64 + size as u64 - 1)).collect();
    sorted.sort();
    let mut merged: Vec<(u64, u64)> = Vec::new();
    for (start, end) in sorted {
        match merged.last_mut() {
            Some(last) if last.1 + 1 == start => last.1 = end,
            _ => merged.push((start, end)),
        }
    }
    merged.iter().map(|&(a, b)| if a == b { a.to_string() } else { format!("{}-{}", a, b) }).collect::<Vec<_>>().join(", ")
}

fn not_over_dir(shown: &str) -> Error {
    Error::new(ErrorKind::Setup, format!("cannot overwrite directory {} with a non-directory", shown))
}

/// A regular file's body, owner, mode and extended attributes, as `name` (a temporary name the caller renames).
fn write_file(parent: &Fd, name: &[u8], r: &Record, opts: &WriteOptions, input: &mut dyn BufRead, dir: &Path) -> Result<(), Error> {
    let shown = &r.shown();
    let flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW;
    let file = match fs::openat(parent.0, name, flags, 0o600) {
        // One a killed copy of the same pid left: ours to replace.
        Err(EEXIST) => fs::unlinkat(parent.0, name, 0).and_then(|()| fs::openat(parent.0, name, flags, 0o600)),
        other => other,
    }
    .map_err(|e| step(shown, "creating", e))?;
    copy_body(input, file.0, r, shown)?;
    if opts.archive {
        give_owner(parent, name, r, opts, dir)?;
    }
    // After chown, which clears setuid bits.
    let mode = if opts.guarded() { r.mode & !SET_ID_BITS } else { r.mode };
    fs::fchmod(file.0, mode).map_err(|e| step(shown, "setting the mode of", e))?;
    // After chown and the body's writes, which clear a file capability.
    set_xattrs(file.0, r, opts)
}

/// A file's or directory's extended attributes, as an unpack applies a
/// layer's (src/image/unpack.ts): the record carries only those a layer may
/// ([`super::record::carried`]); a copy to the host that is not `-a` keeps
/// none that is a privilege (only `user.*`). What the file system or the
/// writer's privileges refuse is left out, as a rootless tar does.
fn set_xattrs(fd: c_int, r: &Record, opts: &WriteOptions) -> Result<(), Error> {
    for (name, value) in &r.xattrs {
        if opts.guarded() && !name.starts_with("user.") {
            continue;
        }
        match fs::fsetxattr(fd, name, value) {
            Ok(()) | Err(EPERM) | Err(EACCES) | Err(ENOTSUP) | Err(ERANGE) | Err(E2BIG) | Err(EINVAL) => {}
            Err(e) => return Err(step(&r.shown(), &format!("setting {} of", name), e)),
        }
    }
    Ok(())
}

fn is_dir(parent: &Fd, name: &[u8]) -> bool {
    fs::openat(parent.0, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).is_ok()
}

/// A sparse record's holes stay holes, and blocks of zeros in its data
/// become holes too (as `cp --sparse=auto` makes them): a container's sparse
/// file (`truncate -s 100G`) copies as one, instead of filling the disk with
/// its apparent size — also when it came through a tar, which has no holes.
fn copy_body(input: &mut dyn BufRead, out: c_int, r: &Record, shown: &str) -> Result<(), Error> {
    // Borrowed, never closed here: the caller owns `out`.
    let mut file = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(out) });
    let whole = [(0, r.size)];
    let mut buf = vec![0u8; 64 * 1024];
    // Where the last write ended: short of the size, the file needs its length set.
    let mut written_to = 0u64;
    for &(offset, len) in r.data.as_deref().unwrap_or(&whole) {
        file.seek(SeekFrom::Start(offset)).map_err(|e| io_step(shown, "seeking in", e))?;
        let mut left = len;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            // Whole blocks (a pipe hands out less at a time), so zeros are seen as blocks.
            input.read_exact(&mut buf[..want]).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::setup(format!("the copy stream ended inside {}", shown)),
                _ => Error::setup(format!("reading the copy stream: {}", e)),
            })?;
            if buf[..want].iter().all(|b| *b == 0) {
                file.seek(SeekFrom::Current(want as i64)).map_err(|e| io_step(shown, "seeking in", e))?;
            } else {
                fd::write_all(out, &buf[..want]).map_err(|e| step(shown, "writing", e))?;
                written_to = offset + len - left + want as u64;
            }
            left -= want as u64;
        }
    }
    if written_to < r.size {
        // A hole at the end has no write to give the file its length.
        file.set_len(r.size).map_err(|e| io_step(shown, "writing", e))?;
    }
    Ok(())
}

fn io_step(path: &str, what: &str, e: std::io::Error) -> Error {
    step(path, what, Errno(e.raw_os_error().unwrap_or(0)))
}

fn skip(input: &mut dyn BufRead, size: u64) -> Result<(), Error> {
    std::io::copy(&mut input.take(size), &mut std::io::sink()).map_err(|e| Error::setup(format!("reading the copy stream: {}", e)))?;
    Ok(())
}

fn dup(fd: c_int) -> Result<c_int, Error> {
    fs::openat(fd, ".", O_RDONLY | O_DIRECTORY, 0)
        .map(|f| {
            let raw = f.0;
            std::mem::forget(f);
            raw
        })
        .map_err(|e| Error::errno("opening the target directory", e))
}

fn step(path: &str, what: &str, e: Errno) -> Error {
    Error::errno(format!("{} {}", what, path), e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::read::{self, ReadOptions};
    use crate::json::Json;
    use crate::paths::tests::TempDir;
    use std::fs;
    use std::io::Cursor;

    fn write_to(dir: &Path, stream: &[u8]) -> Result<(), Error> {
        write(dir, &WriteOptions { archive: false, markers: false, owners: None, ids: None, host: false, name: None }, &mut Cursor::new(stream.to_vec()))
    }

    #[test]
    fn round_trip_through_read_and_write() {
        let t = TempDir::new("copy");
        let src = t.0.join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), "data").unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("link")).unwrap();
        fs::hard_link(src.join("sub/f"), src.join("hard")).unwrap();
        let mut stream = Vec::new();
        read::read(&src, &ReadOptions { name: Some("copy".into()), ..ReadOptions::default() }, &mut stream).unwrap();
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        write_to(&dst, &stream).unwrap();
        assert_eq!(fs::read_to_string(dst.join("copy/sub/f")).unwrap(), "data");
        assert_eq!(fs::read_link(dst.join("copy/link")).unwrap(), Path::new("sub/f"));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(dst.join("copy/hard")).unwrap().ino(), fs::metadata(dst.join("copy/sub/f")).unwrap().ino());
    }

    /// Names are bytes: a file, a directory and a symlink (and its target)
    /// whose names are not UTF-8, or hold a newline or a backslash, come out
    /// with the same bytes; a `..` made of bytes is still refused.
    #[test]
    fn names_that_are_not_utf8_keep_their_bytes() {
        use std::ffi::OsStr;
        let t = TempDir::new("copy-bytes");
        let src = t.0.join("src");
        let name = |b: &[u8]| OsStr::from_bytes(b).to_owned();
        fs::create_dir_all(src.join(name(b"d\xe9t\xe9"))).unwrap();
        fs::write(src.join(name(b"d\xe9t\xe9")).join(name(b"a\xffb\n\\c")), "x").unwrap();
        std::os::unix::fs::symlink(name(b"../\xfe"), src.join(name(b"l\x80"))).unwrap();
        let mut stream = Vec::new();
        read::read(&src, &ReadOptions { name: Some("copy".into()), ..ReadOptions::default() }, &mut stream).unwrap();
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        write_to(&dst, &stream).unwrap();
        let copy = dst.join("copy");
        assert_eq!(fs::read_to_string(copy.join(name(b"d\xe9t\xe9")).join(name(b"a\xffb\n\\c"))).unwrap(), "x");
        assert_eq!(fs::read_link(copy.join(name(b"l\x80"))).unwrap().as_os_str().as_bytes(), b"../\xfe");
        let e = write_to(&dst, b"{\"pathHex\":\"2e2e2fff\",\"type\":\"dir\"}\n").unwrap_err();
        assert!(e.message.contains("leaves the target directory"), "{}", e.message);
    }

    /// A tree nested deeper than PATH_MAX (as a container may make one, a
    /// `cd` at a time) is read whole and written back: each name is opened
    /// relative to its directory (before, ENAMETOOLONG failed diff, export,
    /// commit and cp). An xattr on the bottom file comes along.
    #[test]
    fn a_tree_deeper_than_path_max_round_trips() {
        use crate::sys::fs::{fgetxattr, fsetxattr, mkdirat, openat};
        let t = TempDir::new("copy-deep");
        let src = t.0.join("src");
        fs::create_dir_all(&src).unwrap();
        let level = [b'd'; 200];
        let walk = |top: &Path, make: bool| {
            let mut dir = openat(AT_FDCWD, top.as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).unwrap();
            for _ in 0..30 {
                if make {
                    mkdirat(dir.0, &level[..], 0o755).unwrap();
                }
                dir = openat(dir.0, &level[..], O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).unwrap();
            }
            dir
        };
        let bottom = walk(&src, true);
        let f = openat(bottom.0, "f", O_WRONLY | O_CREAT, 0o644).unwrap();
        crate::sys::fd::write_all(f.0, b"bottom").unwrap();
        let xattr = fsetxattr(f.0, "user.deep", b"yes").is_ok(); // (a file system without user xattrs: not checked)
        let mut stream = Vec::new();
        read::read(&src, &ReadOptions { name: Some("copy".into()), ..ReadOptions::default() }, &mut stream).unwrap();
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        write_to(&dst, &stream).unwrap();
        let copied = openat(walk(&dst.join("copy"), false).0, "f", O_RDONLY, 0).unwrap();
        assert_eq!(crate::sys::fd::read_to_end(copied.0).unwrap(), b"bottom");
        if xattr {
            assert_eq!(fgetxattr(copied.0, "user.deep").as_deref(), Some(&b"yes"[..]));
        }
        // Without content (diff): every level and the file are listed.
        let mut listing = Vec::new();
        read::read(&src, &ReadOptions { name: Some(String::new()), content: false, ..ReadOptions::default() }, &mut listing).unwrap();
        assert_eq!(listing.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 31);
        // Past 16 KiB of path (each level keeps its own: memory grew with the square of the depth), refused.
        let more = t.0.join("more");
        fs::create_dir_all(&more).unwrap();
        let mut dir = openat(AT_FDCWD, more.as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).unwrap();
        for _ in 0..90 {
            mkdirat(dir.0, &level[..], 0o755).unwrap();
            dir = openat(dir.0, &level[..], O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).unwrap();
        }
        let e = read::read(&more, &ReadOptions { content: false, ..ReadOptions::default() }, &mut std::io::sink()).unwrap_err();
        assert!(e.message.contains("a path longer than 16384 bytes"), "{}", e.message);
    }

    /// A deep tree of short names (1500 levels, 3 KB of path) holds no
    /// descriptor per level: it is read whole under a 1024-descriptor limit,
    /// as the vm guest's agent has; one deeper than whole paths ever reached
    /// (2048 levels) is refused with a clear error, before the walk's stack
    /// runs out. Limit and stack are the process's: the test runs itself
    /// again in a child process.
    #[test]
    fn deep_trees_of_short_names_hold_no_descriptor_per_level() {
        use crate::sys::fs::{mkdirat, openat};
        const CHILD: &str = "TSBOX_TEST_DEEP_NARROW_DIR";
        let quiet = || ReadOptions { name: Some(String::new()), content: false, ..ReadOptions::default() };
        if let Some(top) = std::env::var_os(CHILD) {
            crate::sys::cred::setrlimit(7, 1024, 1024).unwrap();
            let mut listing = Vec::new();
            read::read(&Path::new(&top).join("narrow"), &quiet(), &mut listing).unwrap();
            assert_eq!(listing.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count(), 1501, "1500 levels and the file");
            let e = read::read(&Path::new(&top).join("deeper"), &quiet(), &mut std::io::sink()).unwrap_err();
            assert!(e.message.contains("nested deeper than 2048 directories"), "{}", e.message);
            return;
        }
        let t = TempDir::new("copy-narrow");
        let mut deepest = t.0.join("narrow");
        for _ in 0..1500 {
            deepest.push("d");
        }
        fs::create_dir_all(&deepest).unwrap();
        fs::write(deepest.join("f"), "x").unwrap();
        fs::create_dir_all(t.0.join("deeper")).unwrap();
        let mut dir = openat(AT_FDCWD, t.0.join("deeper").as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).unwrap();
        for _ in 0..2100 {
            mkdirat(dir.0, "d", 0o755).unwrap();
            dir = openat(dir.0, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0).unwrap();
        }
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "copy::write::tests::deep_trees_of_short_names_hold_no_descriptor_per_level", "--test-threads=1"])
            .env(CHILD, &t.0)
            // The helper reads on its main thread (8 MiB of stack); a test thread has 2 MiB, a debug build's frames are large.
            .env("RUST_MIN_STACK", "67108864")
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&child.stdout), String::from_utf8_lossy(&child.stderr));
        assert!(child.status.success() && said.contains("1 passed"), "{}", said);
    }

    /// Written on the host without `-a`, a record's device node and set-id
    /// bits (an image's `/dev/sda`, a setuid-root program) are not the
    /// copier's: left out and cleared; with `-a` (or in a container) kept.
    #[test]
    fn host_writes_grant_no_privileges() {
        use std::os::unix::fs::{FileTypeExt, PermissionsExt};
        let t = TempDir::new("copy-host");
        let mut stream = Vec::new();
        stream.extend_from_slice(b"{\"path\":\"suid\",\"type\":\"file\",\"mode\":3565,\"uid\":0,\"gid\":0,\"mtime\":0,\"size\":2}\nhi");
        stream.extend_from_slice(b"{\"path\":\"disk\",\"type\":\"block\",\"mode\":438,\"uid\":0,\"gid\":0,\"mtime\":0,\"major\":7,\"minor\":200}\n");
        stream.extend_from_slice(b"{\"path\":\"pipe\",\"type\":\"fifo\",\"mode\":420,\"uid\":0,\"gid\":0,\"mtime\":0}\n");
        let root = crate::sys::cred::geteuid() == 0;
        for (name, host, archive) in [("host", true, false), ("archive", true, true), ("container", false, false)] {
            let dst = t.0.join(name);
            fs::create_dir_all(&dst).unwrap();
            write(&dst, &WriteOptions { archive, markers: false, owners: None, ids: None, host, name: None }, &mut Cursor::new(stream.clone())).unwrap();
            let mode = fs::metadata(dst.join("suid")).unwrap().permissions().mode() & 0o7777;
            let guarded = host && !archive;
            assert_eq!(mode, if guarded { 0o755 } else { 0o6755 }, "{}", name);
            assert!(fs::symlink_metadata(dst.join("pipe")).unwrap().file_type().is_fifo(), "{}", name);
            let disk = fs::symlink_metadata(dst.join("disk"));
            // (without privileges no node is made anyway)
            assert_eq!(disk.map(|m| m.file_type().is_block_device()).unwrap_or(false), root && !guarded, "{}", name);
        }
    }

    /// Zeros become holes: a sparse file copies sparse, with the same bytes
    /// (data between holes, and a hole at the end, which gives the length).
    #[test]
    fn zeros_become_holes() {
        use std::io::{Seek, SeekFrom, Write};
        use std::os::unix::fs::MetadataExt;
        let t = TempDir::new("copy-sparse");
        let src = t.0.join("src");
        fs::create_dir_all(&src).unwrap();
        let mut f = fs::File::create(src.join("sparse")).unwrap();
        f.seek(SeekFrom::Start(10 << 20)).unwrap();
        f.write_all(b"middle").unwrap();
        f.set_len(30 << 20).unwrap();
        drop(f);
        let mut stream = Vec::new();
        read::read(&src.join("sparse"), &ReadOptions::default(), &mut stream).unwrap();
        // The holes are not in the stream (a file system that cannot tell sends them as zeros).
        let sparse_aware = fs::metadata(src.join("sparse")).unwrap().blocks() * 512 < 1 << 20;
        assert!(!sparse_aware || stream.len() < 1 << 20, "a {} byte stream", stream.len());
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        write_to(&dst, &stream).unwrap();
        let (a, b) = (fs::read(src.join("sparse")).unwrap(), fs::read(dst.join("sparse")).unwrap());
        assert!(a == b, "same bytes");
        let blocks = fs::metadata(dst.join("sparse")).unwrap().blocks();
        assert!(blocks * 512 < 1 << 20, "30 MiB apparent, {} blocks allocated", blocks);
    }

    /// test/fixtures/contract/copy-records.json: sparse records write the
    /// bytes at their offsets and holes elsewhere; bad extents are refused.
    #[test]
    fn contract_copy_records() {
        let fx = crate::contract::fixture("copy-records.json");
        let stream_of = |entries: &[Json]| {
            let mut s = Vec::new();
            for e in entries {
                s.extend_from_slice(e.get("header").unwrap().to_string().as_bytes());
                s.push(b'\n');
                s.extend_from_slice(e.get("body").and_then(Json::as_str).unwrap_or("").as_bytes());
            }
            s
        };
        let t = TempDir::new("copy-contract");
        write_to(&t.0, &stream_of(fx.get("entries").unwrap().as_array().unwrap())).unwrap();
        let files = match fx.get("files").unwrap() {
            Json::Object(members) => members.clone(),
            _ => panic!("files"),
        };
        for (path, f) in files {
            let size = f.get("size").and_then(Json::as_number).and_then(|n| n.as_u64()).unwrap() as usize;
            let mut want = vec![0u8; size];
            for b in f.get("bytes").unwrap().as_array().unwrap() {
                let b = b.as_array().unwrap();
                let (at, text) = (b[0].as_number().and_then(|n| n.as_u64()).unwrap() as usize, b[1].as_str().unwrap());
                want[at..at + text.len()].copy_from_slice(text.as_bytes());
            }
            assert!(fs::read(t.0.join(&path)).unwrap() == want, "{}", path);
            // The xattrs the file gets (security.* and trusted.* only as root), and none other.
            let root = crate::sys::cred::geteuid() == 0;
            let want: Vec<(String, Vec<u8>)> = match f.get("xattrs") {
                Some(Json::Object(m)) => m.iter().map(|(k, v)| (k.clone(), crate::copy::record::from_hex(v.as_str().unwrap()).unwrap())).collect(),
                _ => Vec::new(),
            };
            let got = crate::sys::fs::llistxattr(&t.0.join(&path));
            for (name, value) in &want {
                if root || name.starts_with("user.") {
                    assert_eq!(crate::sys::fs::lgetxattr(&t.0.join(&path), name).as_ref(), Some(value), "{} {}", path, name);
                }
            }
            for name in got {
                let name = String::from_utf8(name).unwrap();
                assert!(want.iter().any(|(k, _)| *k == name) || name.starts_with("security.selinux"), "{} got {}", path, name);
            }
        }
        for bad in fx.get("refused").unwrap().as_array().unwrap() {
            let dir = t.0.join("refused");
            fs::create_dir_all(&dir).unwrap();
            let header = Json::object(vec![("header", bad.clone()), ("body", Json::from(""))]);
            let e = write_to(&dir, &stream_of(&[header])).unwrap_err();
            let why = if bad.get("xattrs").is_some() { "bad copy record (xattrs)" } else { "bad copy record (data)" };
            assert!(e.message.contains(why), "{}", e.message);
            assert_eq!(fs::read_dir(&dir).unwrap().count(), 0, "nothing written");
        }
    }

    /// A file's and a directory's xattrs survive read → write (a committed
    /// layer's `setcap`, `user.*`); overlay's markers of an upper dir do not
    /// (they become the record's own whiteout/opaque), and a copy to the host
    /// that is not `-a` keeps no privilege (a capability) but `user.*`.
    #[test]
    fn carries_xattrs_but_not_overlay_markers() {
        use crate::sys::fs::{fsetxattr, lgetxattr};
        let root = crate::sys::cred::geteuid() == 0;
        let t = TempDir::new("copy-xattrs");
        let src = t.0.join("src");
        fs::create_dir_all(src.join("d")).unwrap();
        fs::write(src.join("d/ping"), "x").unwrap();
        let open = |p: &Path| crate::sys::fs::openat(AT_FDCWD, p.as_os_str().as_bytes(), O_RDONLY, 0).unwrap();
        let (dir, file) = (open(&src.join("d")), open(&src.join("d/ping")));
        if fsetxattr(file.0, "user.k", b"v").is_err() {
            return; // a file system without user xattrs
        }
        // cap_net_raw+ep, v2
        let cap: [u8; 20] = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        if root {
            fsetxattr(file.0, "security.capability", &cap).unwrap();
        }
        fsetxattr(dir.0, "user.d", b"\xff\x00").unwrap();
        fsetxattr(dir.0, "user.overlay.opaque", b"y").unwrap();
        let mut stream = Vec::new();
        read::read(&src, &ReadOptions { name: Some(String::new()), markers: true, ..ReadOptions::default() }, &mut stream).unwrap();
        let text = String::from_utf8_lossy(&stream).into_owned();
        assert!(!text.contains("overlay"), "{}", text);
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        write_to(&dst, &stream).unwrap();
        assert_eq!(lgetxattr(&dst.join("d/ping"), "user.k"), Some(b"v".to_vec()));
        assert_eq!(lgetxattr(&dst.join("d"), "user.d"), Some(b"\xff\x00".to_vec()));
        assert_eq!(lgetxattr(&dst.join("d"), "user.overlay.opaque"), None);
        if root {
            assert_eq!(lgetxattr(&dst.join("d/ping"), "security.capability"), Some(cap.to_vec()));
        }
        let host = t.0.join("host");
        fs::create_dir_all(&host).unwrap();
        write(&host, &WriteOptions { archive: false, markers: false, owners: None, ids: None, host: true, name: None }, &mut Cursor::new(stream)).unwrap();
        assert_eq!(lgetxattr(&host.join("d/ping"), "user.k"), Some(b"v".to_vec()));
        assert_eq!(lgetxattr(&host.join("d/ping"), "security.capability"), None);
    }

    /// test/fixtures/contract/copy-records.json `scoped`: told the name the
    /// reader was asked for, a write takes only records that are it or
    /// below it (hard link targets too); one outside fails the copy with
    /// nothing written (a hostile guest's `.bashrc` next to `cp`'s DEST).
    #[test]
    fn contract_copy_records_scoped() {
        let fx = crate::contract::fixture("copy-records.json");
        let scoped = fx.get("scoped").unwrap();
        let t = TempDir::new("copy-scoped");
        for (i, case) in scoped.get("cases").unwrap().as_array().unwrap().iter().enumerate() {
            let name = case.get("name").and_then(Json::as_str).unwrap().to_string();
            let opts = WriteOptions { archive: false, markers: false, owners: None, ids: None, host: true, name: Some(name.clone().into_bytes()) };
            let fresh = |what: &str| {
                let dir = t.0.join(format!("{}-{}", i, what));
                fs::create_dir_all(&dir).unwrap();
                fs::write(dir.join(".bashrc"), "mine").unwrap();
                dir
            };
            let mut stream = Vec::new();
            for e in case.get("written").unwrap().as_array().unwrap() {
                stream.extend_from_slice(e.get("header").unwrap().to_string().as_bytes());
                stream.push(b'\n');
                stream.extend_from_slice(e.get("body").and_then(Json::as_str).unwrap().as_bytes());
            }
            let dir = fresh("written");
            write(&dir, &opts, &mut Cursor::new(stream)).unwrap();
            for bad in case.get("refused").unwrap().as_array().unwrap() {
                let dir = fresh("refused");
                let e = write(&dir, &opts, &mut Cursor::new(format!("{}\n", bad.to_string()).into_bytes())).unwrap_err();
                assert!(e.message.contains("refusing to write"), "{:?}: {}", name, e.message);
                let left: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
                assert_eq!(left, vec![std::ffi::OsString::from(".bashrc")], "{:?}: {}", name, bad.to_string());
                assert_eq!(fs::read_to_string(dir.join(".bashrc")).unwrap(), "mine");
                fs::remove_dir_all(&dir).unwrap();
            }
        }
        assert_eq!(fs::read_to_string(t.0.join("0-written/out/g")).unwrap(), "hi");
        assert_eq!(fs::read_to_string(t.0.join("1-written/a/f")).unwrap(), "hi");
    }

    /// The records after an asked name's own: one outside it stops the write
    /// there, and what is outside was never touched (the host's `.bashrc`).
    #[test]
    fn a_record_outside_the_asked_name_stops_the_write() {
        let t = TempDir::new("copy-outside");
        fs::write(t.0.join(".bashrc"), "mine").unwrap();
        let stream = b"{\"path\":\"result.txt\",\"type\":\"file\",\"mode\":420,\"size\":2}\nok{\"path\":\".bashrc\",\"type\":\"file\",\"mode\":420,\"size\":3}\nbad";
        let opts = WriteOptions { archive: false, markers: false, owners: None, ids: None, host: true, name: Some(b"result.txt".to_vec()) };
        let e = write(&t.0, &opts, &mut Cursor::new(stream.to_vec())).unwrap_err();
        assert!(e.message.contains("refusing to write .bashrc: the copy stream may hold only result.txt"), "{}", e.message);
        assert_eq!(fs::read_to_string(t.0.join(".bashrc")).unwrap(), "mine");
        // Without the name (a container's own writes) the same stream is written whole.
        write_to(&t.0, stream).unwrap();
        assert_eq!(fs::read_to_string(t.0.join(".bashrc")).unwrap(), "bad");
    }

    /// `--op xattrs` sets the records' xattrs on files already there, and
    /// creates nothing, follows no symlink and takes no record of another type.
    #[test]
    fn sets_xattrs_of_existing_files_only() {
        use crate::sys::fs::lgetxattr;
        let t = TempDir::new("copy-existing-xattrs");
        let d = t.0.join("layer");
        fs::create_dir_all(d.join("bin")).unwrap();
        fs::write(d.join("bin/ping"), "x").unwrap();
        std::os::unix::fs::symlink("/etc", d.join("etc")).unwrap();
        let set = |lines: &str| set_xattrs_of_existing(&d, &mut Cursor::new(lines.as_bytes().to_vec()));
        if set("{\"path\":\"bin/ping\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.k\":\"76\"}}\n").is_err() || lgetxattr(&d.join("bin/ping"), "user.k").is_none() {
            return; // a file system without user xattrs
        }
        assert_eq!(lgetxattr(&d.join("bin/ping"), "user.k"), Some(b"v".to_vec()));
        assert_eq!(fs::read(d.join("bin/ping")).unwrap(), b"x", "the body is not touched");
        let refused = |line: &str, why: &str| {
            let e = set(line).unwrap_err();
            assert!(e.message.contains(why), "{}: {}", line, e.message);
        };
        refused("{\"path\":\"bin/none\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.k\":\"76\"}}\n", "opening bin/none");
        refused("{\"path\":\"etc/passwd\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.k\":\"76\"}}\n", "is a symlink");
        refused("{\"path\":\"etc\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.k\":\"76\"}}\n", "opening etc");
        refused("{\"path\":\"bin\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.k\":\"76\"}}\n", "not a file");
        refused("{\"path\":\"new/f\",\"type\":\"file\",\"size\":0,\"xattrs\":{\"user.k\":\"76\"}}\n", "opening the parents of new/f");
        assert!(!d.join("new").exists() && !d.join("bin/none").exists(), "nothing created");
    }

    /// An owner the namespace does not map: the message names the file, the
    /// id that is not mapped, the ids there are and where more come from.
    #[test]
    fn names_an_unmapped_owner_and_the_range() {
        let m = |c, h, s| crate::spec::IdMapping { container_id: c, host_id: h, size: s };
        let range = Owners { uids: vec![m(1, 100000, 65536), m(0, 1001, 1)], gids: vec![m(0, 1001, 1), m(1, 100000, 65536)] };
        let e = unmapped_owner(Path::new("/app/f"), (70000, 70000), true, Some(&range));
        assert_eq!(e.errno, Some(EINVAL.0));
        assert_eq!(
            e.message,
            "cannot give /app/f the owner 70000:70000: uid 70000 is not mapped in the container's user namespace, whose uids are 0-65536 \
             (host uids 1001, 100000-165535): rootless, a container's ids past 0 are the user's /etc/subuid and /etc/subgid range, which must be wider for this one"
        );
        let e = unmapped_owner(Path::new("/f"), (0, 70000), false, Some(&range));
        assert!(e.message.starts_with("cannot give /f the owner 0:70000: gid 70000 is not mapped in the container's user namespace, whose gids are 0-65536 (host gids"), "{}", e.message);
        let single = Owners { uids: vec![m(0, 1001, 1)], gids: vec![m(0, 1001, 1)] };
        let e = unmapped_owner(Path::new("/f"), (1000, 1000), true, Some(&single));
        assert!(e.message.ends_with("uid 1000 is not mapped in the container's user namespace, which has uid 0 only (this user has no /etc/subuid and /etc/subgid range: `tsbox info` names a free one and the command that adds it)"), "{}", e.message);
        let e = unmapped_owner(Path::new("/f"), (7, 7), true, None);
        assert_eq!(e.message, "cannot give /f the owner 7:7: uid 7 is not mapped in the container's user namespace");
        assert_eq!(spans(vec![(5, 1), (0, 2), (2, 3), (10, 1)].into_iter()), "0-5, 10");
    }

    /// `cp -a` out of a container: the host's files keep what owners the user
    /// may give (none other than its own, unprivileged) and the copy goes on.
    #[test]
    fn a_host_write_keeps_the_owners_it_may_give() {
        let t = TempDir::new("copy-host-owner");
        let stream = b"{\"path\":\"f\",\"type\":\"file\",\"mode\":420,\"uid\":70000,\"gid\":70000,\"size\":2}\nok";
        let opts = WriteOptions { archive: true, markers: false, owners: None, ids: None, host: true, name: None };
        write(&t.0, &opts, &mut Cursor::new(stream.to_vec())).unwrap();
        use std::os::unix::fs::MetadataExt;
        let want = if crate::sys::cred::geteuid() == 0 { 70000 } else { crate::sys::cred::geteuid() };
        assert_eq!(fs::metadata(t.0.join("f")).unwrap().uid(), want);
    }

    /// A stream cut inside a file (the reader failed) leaves no half-written file.
    #[test]
    fn a_cut_stream_leaves_no_partial_file() {
        let t = TempDir::new("copy-cut");
        let src = t.0.join("src");
        fs::create_dir_all(&src).unwrap();
        fs::write(src.join("f"), vec![7u8; 200_000]).unwrap();
        let mut stream = Vec::new();
        read::read(&src.join("f"), &ReadOptions::default(), &mut stream).unwrap();
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        let err = write_to(&dst, &stream[..stream.len() - 1000]).unwrap_err();
        assert!(err.message.contains("ended inside"), "{}", err.message);
        assert!(!dst.join("f").exists());
    }

    /// `cp -L` of a link to a file, and to a directory: what it points to,
    /// under the link's name (a file's bytes came out as zeros).
    #[test]
    fn follows_the_named_symlink_only() {
        let t = TempDir::new("copy-follow");
        let src = t.0.join("src");
        fs::create_dir_all(src.join("real")).unwrap();
        fs::write(src.join("real/f"), "content\n").unwrap();
        std::os::unix::fs::symlink("f", src.join("real/inner")).unwrap();
        std::os::unix::fs::symlink(src.join("real/f"), src.join("to-file")).unwrap();
        std::os::unix::fs::symlink("real", src.join("to-dir")).unwrap();
        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        for link in ["to-file", "to-dir"] {
            let mut stream = Vec::new();
            read::read(&src.join(link), &ReadOptions { follow: true, ..ReadOptions::default() }, &mut stream).unwrap();
            write_to(&dst, &stream).unwrap();
        }
        assert_eq!(fs::read_to_string(dst.join("to-file")).unwrap(), "content\n");
        assert!(fs::symlink_metadata(dst.join("to-file")).unwrap().file_type().is_file());
        assert_eq!(fs::read_to_string(dst.join("to-dir/f")).unwrap(), "content\n");
        assert_eq!(fs::read_link(dst.join("to-dir/inner")).unwrap(), Path::new("f"), "links below it stay links");
    }

    #[test]
    fn never_writes_outside_or_through_a_symlink() {
        let t = TempDir::new("copy-escape");
        let dst = t.0.join("dst");
        let outside = t.0.join("outside");
        fs::create_dir_all(&dst).unwrap();
        fs::create_dir_all(&outside).unwrap();
        let e = write_to(&dst, b"{\"path\":\"../x\",\"type\":\"dir\"}\n").unwrap_err();
        assert!(e.message.contains("leaves the target directory"), "{}", e.message);
        let e = write_to(&dst, b"{\"path\":\"/abs\",\"type\":\"dir\"}\n").unwrap_err();
        assert!(e.message.contains("leaves the target directory"));
        let stream = format!(
            "{{\"path\":\"l\",\"type\":\"symlink\",\"link\":\"{}\"}}\n{{\"path\":\"l/f\",\"type\":\"file\",\"size\":1}}\nx",
            outside.display()
        );
        let e = write_to(&dst, stream.as_bytes()).unwrap_err();
        assert!(e.message.contains("l is a symlink"), "{}", e.message);
        assert!(fs::read_dir(&outside).unwrap().next().is_none());
    }

    /// An upper dir's whiteouts and opaque directories survive read → write
    /// with markers (the vm guest's saved writable layer); without markers a
    /// whiteout is refused. Whiteouts and trusted.* xattrs take root.
    #[test]
    fn restores_an_upper_dirs_markers() {
        if crate::sys::cred::geteuid() != 0 {
            return;
        }
        let t = TempDir::new("copy-upper");
        let src = t.0.join("src");
        fs::create_dir_all(src.join("opaque/kept")).unwrap();
        fs::write(src.join("opaque/kept/f"), "x").unwrap();
        let dir = crate::sys::fs::openat(AT_FDCWD, src.join("opaque").as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).unwrap();
        crate::sys::fs::fsetxattr(dir.0, "trusted.overlay.opaque", b"y").unwrap();
        let top = crate::sys::fs::openat(AT_FDCWD, src.as_os_str().as_bytes(), O_RDONLY | O_DIRECTORY, 0).unwrap();
        crate::sys::fs::mknodat(top.0, "gone", S_IFCHR, 0, 0).unwrap();
        let mut stream = Vec::new();
        read::read(&src, &ReadOptions { name: Some(String::new()), markers: true, ..ReadOptions::default() }, &mut stream).unwrap();

        let refused = t.0.join("refused");
        fs::create_dir_all(&refused).unwrap();
        assert!(write_to(&refused, &stream).unwrap_err().message.contains("cannot write whiteout gone"));

        let dst = t.0.join("dst");
        fs::create_dir_all(&dst).unwrap();
        write(&dst, &WriteOptions { archive: true, markers: true, owners: None, ids: None, host: false, name: None }, &mut Cursor::new(stream)).unwrap();
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let gone = fs::symlink_metadata(dst.join("gone")).unwrap();
        assert!(gone.file_type().is_char_device() && gone.rdev() == 0);
        assert_eq!(crate::sys::fs::lgetxattr(&dst.join("opaque"), "trusted.overlay.opaque"), Some(b"y".to_vec()));
        assert_eq!(crate::sys::fs::lgetxattr(&dst.join("opaque/kept"), "trusted.overlay.opaque"), None);
        assert_eq!(fs::read_to_string(dst.join("opaque/kept/f")).unwrap(), "x");
    }
}
