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
//! the next container with the slice cannot reach them.

use crate::error::{Error, ErrorKind};
use crate::json::Json;
use crate::namespaces::NamespaceKind;
use crate::spec::{expected, key, object, IdMapping, Spec, SpecError};
use crate::sys::consts::*;
use crate::sys::{ffi, Errno};
use std::fs::{DirBuilder, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::IntoRawFd;
use std::path::Path;

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

    /// Takes the first free slice; the lock stays with this process until it
    /// exits (its descriptor is close-on-exec and never closed).
    pub fn claim(&self) -> Result<u32, Error> {
        // Searchable (0711), not listable: the containers' roots reach their
        // mount points below it (idmapped.rs).
        DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(LOCK_DIR)
            .and_then(|()| std::fs::set_permissions(LOCK_DIR, std::fs::Permissions::from_mode(0o711)))
            .map_err(|e| Error::setup(format!("--userns=auto: creating {}: {}", LOCK_DIR, e)))?;
        for slot in 0..self.slots() {
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
                return Ok(slot); // fd deliberately kept open: the claim
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn slices_of_the_pools() {
        let v = json::parse(r#"{"size":65536,"uids":{"start":100000,"count":200000},"gids":{"start":300000,"count":131072}}"#).unwrap();
        let a = parse(Some(&v), "linux.usernsAuto").unwrap();
        assert_eq!(a.slots(), 2);
        let (u, g) = a.mappings(1);
        assert_eq!((u[0].host_id, u[0].size, g[0].host_id), (165536, 65536, 365536));
        let bad = json::parse(r#"{"size":65536,"uids":{"start":0,"count":10},"gids":{"start":0,"count":10}}"#).unwrap();
        assert!(parse(Some(&bad), "linux.usernsAuto").unwrap_err().to_string().contains("at least one slice"));
    }
}
