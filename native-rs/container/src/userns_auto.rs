//! `linux.usernsAuto` (a tsbox extension, `--userns=auto`): instead of fixed
//! uid/gid mappings, a pool of subordinate ids (root's `containers` range in
//! /etc/subuid and /etc/subgid, as podman uses) from which this runtime takes
//! a slice of `size` ids that no running container holds, and maps the
//! container's 0..size onto it.
//!
//! "Holds" is an flock on /run/tsbox-userns/<first uid>, taken here and kept
//! by this process (the container's supervisor) until it exits: a crash frees
//! the slice with it, and two live containers can never get the same one,
//! whichever tsbox (data dir, user of sudo) started them. A stopped container
//! keeps its files in its upper dir under those ids, but nothing of it runs:
//! the next container with the slice cannot reach them. Its next run (or a
//! `cp` into it) takes the same slice again — the one its upper dir belongs
//! to — when that is free; when another container holds it meanwhile, the
//! run takes another and moves the writable layer's owners over to it first
//! ([`take`]), so the container's files stay its own.

use crate::error::{Context, Error, ErrorKind};
use crate::json::Json;
use crate::namespaces::NamespaceKind;
use crate::spec::{expected, key, object, IdMapping, Spec, SpecError};
use crate::sys::consts::*;
use crate::sys::{ffi, Errno};
use std::ffi::CString;
use std::fs::{DirBuilder, OpenOptions};
use std::os::raw::c_int;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::IntoRawFd;
use std::path::{Path, PathBuf};

/// Its own top directory (not under /run/tsbox): it must be searchable.
pub const LOCK_DIR: &str = "/run/tsbox-userns";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u32,
    pub count: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UsernsAuto {
    /// Ids per container (container ids 0..size).
    pub size: u32,
    pub uids: Range,
    pub gids: Range,
}

fn range(v: Option<&Json>, path: &str) -> Result<Range, SpecError> {
    let o = object(v, path)?;
    let n = |k: &str| {
        o.get(k)
            .and_then(Json::as_number)
            .and_then(|n| n.as_u32())
            .ok_or_else(|| expected(&key(path, k), "an integer from 0 to 4294967295"))
    };
    let r = Range {
        start: n("start")?,
        count: n("count")?,
    };
    if r.count == 0 || u64::from(r.start) + u64::from(r.count) > u64::from(u32::MAX) {
        return Err(expected(path, "a non-empty range of 32-bit ids"));
    }
    Ok(r)
}

pub fn parse(v: Option<&Json>, path: &str) -> Result<UsernsAuto, SpecError> {
    let o = object(v, path)?;
    let size = o
        .get("size")
        .and_then(Json::as_number)
        .and_then(|n| n.as_u32())
        .filter(|s| *s > 0)
        .ok_or_else(|| expected(&key(path, "size"), "a positive number of ids"))?;
    let auto = UsernsAuto {
        size,
        uids: range(o.get("uids"), &key(path, "uids"))?,
        gids: range(o.get("gids"), &key(path, "gids"))?,
    };
    if auto.slots() == 0 {
        return Err(expected(path, "ranges holding at least one slice of `size` ids"));
    }
    Ok(auto)
}

impl UsernsAuto {
    /// What the spec around it must be: a new user namespace without
    /// mappings of its own, a user inside the slice.
    pub fn check(&self, spec: &Spec) -> Result<(), Error> {
        let fail = |m: &str| Err(Error::new(ErrorKind::Spec, format!("linux.usernsAuto: {}", m)));
        if !spec.creates_namespace(NamespaceKind::User) {
            return fail("needs a new user namespace");
        }
        if !spec.linux.uid_mappings.is_empty() || !spec.linux.gid_mappings.is_empty() {
            return fail("takes the place of uidMappings and gidMappings");
        }
        let user = &spec.process.user;
        if user.uid >= self.size || user.gid >= self.size || user.additional_gids.iter().any(|g| *g >= self.size) {
            return fail("process.user is outside the ids it maps");
        }
        Ok(())
    }

    /// How many slices both pools hold.
    pub fn slots(&self) -> u32 {
        (self.uids.count / self.size).min(self.gids.count / self.size)
    }

    pub fn mappings(&self, slot: u32) -> (Vec<IdMapping>, Vec<IdMapping>) {
        let map = |r: Range| {
            vec![IdMapping {
                container_id: 0,
                host_id: r.start + slot * self.size,
                size: self.size,
            }]
        };
        (map(self.uids), map(self.gids))
    }

    /// The slice whose first id is `uid`, if the pool has one there.
    pub fn slot_of(&self, uid: u32) -> Option<u32> {
        let offset = uid.checked_sub(self.uids.start)?;
        let slot = offset / self.size;
        (offset % self.size == 0 && slot < self.slots()).then(|| slot)
    }

    /// Takes `preferred` when it is free, else the first free slice. The
    /// lock is the returned descriptor (close-on-exec): kept open, it holds
    /// the slice until this process exits.
    pub fn claim(&self, preferred: Option<u32>) -> Result<(u32, c_int), Error> {
        // Searchable (0711), not listable: the containers' roots reach their
        // mount points below it (idmapped.rs).
        DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(LOCK_DIR)
            .and_then(|()| std::fs::set_permissions(LOCK_DIR, std::fs::Permissions::from_mode(0o711)))
            .map_err(|e| Error::setup(format!("--userns=auto: creating {}: {}", LOCK_DIR, e)))?;
        let others = (0..self.slots()).filter(|s| Some(*s) != preferred);
        for slot in preferred.into_iter().chain(others) {
            let first = self.uids.start + slot * self.size;
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .mode(0o600)
                .custom_flags(O_CLOEXEC)
                .open(Path::new(LOCK_DIR).join(first.to_string()))
                .map_err(|e| Error::setup(format!("--userns=auto: opening a lock in {}: {}", LOCK_DIR, e)))?;
            let fd = file.into_raw_fd();
            if unsafe { ffi::flock(fd, LOCK_EX | LOCK_NB) } == 0 {
                return Ok((slot, fd));
            }
            let e = Errno::last();
            crate::sys::fd::close(fd);
            if e != crate::sys::errno::EAGAIN {
                return Err(Error::errno("--userns=auto: locking an id range", e));
            }
        }
        Err(Error::new(
            ErrorKind::Setup,
            format!(
                "--userns=auto: all {} id ranges of {} ids are taken by running containers",
                self.slots(),
                self.size
            ),
        ))
    }
}

/// The spec's slice for a run (or a view of a stopped container): the one
/// its writable layer belongs to when that is free, else another, to which
/// the layer's owners move first. Sets the spec's mappings; returns the lock
/// (see [`UsernsAuto::claim`]).
pub fn take(auto: &UsernsAuto, spec: &mut Spec) -> Result<c_int, Error> {
    auto.check(spec)?;
    let layer: Vec<PathBuf> = spec.root.overlay.iter().flat_map(|ov| vec![ov.upper.clone(), ov.work.clone()]).collect();
    let last = layer.first().and_then(|upper| std::fs::metadata(upper).ok()).and_then(|m| auto.slot_of(m.uid()));
    let (slot, lock) = auto.claim(last)?;
    let (uids, gids) = auto.mappings(slot);
    if let Some(old) = last.filter(|old| *old != slot) {
        let (from_uids, from_gids) = auto.mappings(old);
        let shift = Shift {
            uid: (from_uids[0].host_id, uids[0].host_id),
            gid: (from_gids[0].host_id, gids[0].host_id),
            size: auto.size,
        };
        for dir in &layer {
            if let Err(e) = shift.tree(dir) {
                crate::sys::fd::close(lock);
                return Err(e);
            }
        }
    }
    spec.linux.uid_mappings = uids;
    spec.linux.gid_mappings = gids;
    Ok(lock)
}

/// Owners in one slice moved to the same place in another: `(from, to)` first ids.
struct Shift {
    uid: (u32, u32),
    gid: (u32, u32),
    size: u32,
}

impl Shift {
    fn id(&self, id: u32, (from, to): (u32, u32)) -> u32 {
        if id >= from && id - from < self.size {
            to + (id - from)
        } else {
            id
        }
    }

    /// Every entry of `dir` and below it, symlinks themselves (never
    /// followed). A chown clears a file's set-id bits: they are put back.
    fn tree(&self, dir: &Path) -> Result<(), Error> {
        let meta = std::fs::symlink_metadata(dir).step(|| format!("reading {}", dir.display()))?;
        let (uid, gid) = (self.id(meta.uid(), self.uid), self.id(meta.gid(), self.gid));
        if (uid, gid) != (meta.uid(), meta.gid()) {
            let path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| Error::setup(format!("{}: a NUL in the path", dir.display())))?;
            Errno::check(unsafe { ffi::fchownat(AT_FDCWD, path.as_ptr(), uid, gid, AT_SYMLINK_NOFOLLOW) })
                .map_err(|e| Error::errno(format!("--userns=auto: moving {} to the container's new ids", dir.display()), e))?;
            if meta.file_type().is_file() && meta.mode() & 0o6000 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
                    .step(|| format!("restoring the mode of {}", dir.display()))?;
            }
        }
        if meta.file_type().is_dir() {
            for entry in std::fs::read_dir(dir).step(|| format!("reading {}", dir.display()))? {
                let entry = entry.step(|| format!("reading {}", dir.display()))?;
                self.tree(&entry.path())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::paths::tests::TempDir;

    #[test]
    fn a_shift_moves_the_slice_s_owners_and_keeps_set_id_bits() {
        if unsafe { ffi::geteuid() } != 0 {
            return; // chown to other ids: root only
        }
        let t = TempDir::new("shift");
        let (dir, file, link, foreign) = (t.0.join("d"), t.0.join("d/setuid"), t.0.join("d/link"), t.0.join("d/foreign"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(&file, "x").unwrap();
        std::fs::write(&foreign, "y").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
        let chown = |p: &Path, u: u32, g: u32| {
            let c = CString::new(p.as_os_str().as_bytes()).unwrap();
            assert_eq!(unsafe { ffi::fchownat(AT_FDCWD, c.as_ptr(), u, g, AT_SYMLINK_NOFOLLOW) }, 0);
        };
        chown(&dir, 200000, 300000);
        chown(&file, 200000 + 1000, 300000 + 1000);
        chown(&link, 200000 + 7, 300000 + 7);
        chown(&foreign, 5, 6); // outside the slice: left alone
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let shift = Shift { uid: (200000, 400000), gid: (300000, 500000), size: 65536 };
        shift.tree(&dir).unwrap();
        let owner = |p: &Path| std::fs::symlink_metadata(p).map(|m| (m.uid(), m.gid())).unwrap();
        assert_eq!(owner(&dir), (400000, 500000));
        assert_eq!(owner(&file), (401000, 501000));
        assert_eq!(owner(&link), (400007, 500007), "the symlink itself");
        assert_eq!(owner(Path::new("/etc/passwd")), (0, 0), "never its target");
        assert_eq!(owner(&foreign), (5, 6));
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o7777, 0o4755, "chown clears set-id bits: put back");
    }

    #[test]
    fn slices_of_the_pools() {
        let v = json::parse(r#"{"size":65536,"uids":{"start":100000,"count":200000},"gids":{"start":300000,"count":131072}}"#).unwrap();
        let a = parse(Some(&v), "linux.usernsAuto").unwrap();
        assert_eq!(a.slots(), 2);
        let (u, g) = a.mappings(1);
        assert_eq!((u[0].host_id, u[0].size, g[0].host_id), (165536, 65536, 365536));
        assert_eq!((a.slot_of(100000), a.slot_of(165536), a.slot_of(231072)), (Some(0), Some(1), None), "the pools hold two slices");
        assert_eq!((a.slot_of(100001), a.slot_of(99999), a.slot_of(0)), (None, None, None), "only a slice's first id");
        let bad = json::parse(r#"{"size":65536,"uids":{"start":0,"count":10},"gids":{"start":0,"count":10}}"#).unwrap();
        assert!(parse(Some(&bad), "linux.usernsAuto").unwrap_err().to_string().contains("at least one slice"));
    }
}
