//! Rootless id maps without a setuid helper per container. An unprivileged
//! user's map of subordinate ids can only be written by newuidmap and
//! newgidmap, two setuid processes per container (≈ 9 ms of a rootless run
//! here, against 0.6 ms for root's direct write). A long-lived process (the
//! warm helper, runtime/src/serve) makes one user namespace with those maps
//! once — the nest — and keeps a descriptor of it. Each run then joins it just
//! before the clone, so the container's own user namespace is the nest's
//! child, and writes the container's maps directly: the same host ids, as
//! ids of the nest, where the run is root (podman's rootless user namespace
//! plays the nest's part, but there every container shares it; here each
//! still has its own, so one container's root has no capability over
//! another's namespaces). The rootless network's keeper does the same
//! in its holder's namespace (net/rootless.rs).

use crate::error::{Context, Error};
use crate::idmap::{self, Method};
use crate::namespaces::NamespaceKind;
use crate::spec::{IdMapping, Spec};
use crate::namespace_process::NamespaceProcess;
use crate::sys::consts::{CLONE_NEWUSER, O_CLOEXEC, O_RDONLY};
use crate::sys::{cred, fd, process};
use std::os::raw::c_int;
use std::path::Path;

/// A user namespace holding a rootless user's id maps.
pub struct Nest {
    fd: c_int,
    uid_mappings: Vec<IdMapping>,
    gid_mappings: Vec<IdMapping>,
}

/// The container's maps as the nest's ids, which the nest's root writes directly.
pub struct Entered {
    pub uid_mappings: Vec<IdMapping>,
    pub gid_mappings: Vec<IdMapping>,
}

impl Nest {
    /// Whether containers of `spec` would need the setuid helpers for their
    /// maps: then a nest with its maps is worth making.
    pub fn worth_it(spec: &Spec) -> bool {
        let privileged = cred::geteuid() == 0;
        can_nest(spec)
            && (idmap::method(&spec.linux.uid_mappings, cred::geteuid(), privileged) == Method::Helper
                || idmap::method(&spec.linux.gid_mappings, cred::getegid(), privileged) == Method::Helper)
    }

    /// A new user namespace with these maps (written by newuidmap and
    /// newgidmap), held by a descriptor only: the process made in it exits.
    pub fn make(uid_mappings: &[IdMapping], gid_mappings: &[IdMapping]) -> Result<Nest, Error> {
        let ns = NamespaceProcess::start(CLONE_NEWUSER, uid_mappings, gid_mappings, || true, "").map_err(Error::setup)?;
        let path = format!("/proc/{}/ns/user", ns.pid);
        let opened = fd::open_path(Path::new(&path), O_RDONLY | O_CLOEXEC, 0).step(|| format!("opening {}", path));
        ns.stop();
        Ok(Nest { fd: opened?, uid_mappings: uid_mappings.to_vec(), gid_mappings: gid_mappings.to_vec() })
    }

    /// A nest another process keeps (tsbox-runtime's nest holder): `fd`
    /// opens its user namespace, whose maps these are.
    pub fn held(fd: c_int, uid_mappings: Vec<IdMapping>, gid_mappings: Vec<IdMapping>) -> Nest {
        Nest { fd, uid_mappings, gid_mappings }
    }

    /// The same nest on descriptor `target` (a forked run closes all others).
    pub fn copy_at(&self, target: c_int) -> Result<Nest, Error> {
        let step = || "keeping the user namespace's descriptor";
        fd::dup_onto(self.fd, target).step(step)?;
        fd::set_cloexec(target).step(step)?;
        Ok(Nest { fd: target, uid_mappings: self.uid_mappings.clone(), gid_mappings: self.gid_mappings.clone() })
    }

    /// Joins the nest if `spec`'s container can be its child: it makes a
    /// user namespace of its own and every host id of its maps is one of
    /// ours. None: not joined, the container's maps go the usual way.
    /// Only from a single-threaded process, right before the clone: from
    /// here on this process is the nest's root (its files are still the
    /// user's, its capabilities only cover the user's ids).
    pub fn enter_for(&self, spec: &Spec) -> Result<Option<Entered>, Error> {
        if !can_nest(spec) {
            return Ok(None);
        }
        let maps = idmap::translate(&spec.linux.uid_mappings, &self.uid_mappings)
            .and_then(|uid| idmap::translate(&spec.linux.gid_mappings, &self.gid_mappings).map(|gid| (uid, gid)));
        let (uid_mappings, gid_mappings) = match maps {
            Ok(m) => m,
            Err(_) => return Ok(None),
        };
        process::setns(self.fd, CLONE_NEWUSER).step(|| "joining the user namespace of the id maps")?;
        Ok(Some(Entered { uid_mappings, gid_mappings }))
    }
}

/// A container that makes a user namespace of its own, with the spec's maps
/// (`--userns=auto` takes a slice of root's ids instead).
fn can_nest(spec: &Spec) -> bool {
    spec.creates_namespace(NamespaceKind::User) && spec.linux.userns_auto.is_none()
}
