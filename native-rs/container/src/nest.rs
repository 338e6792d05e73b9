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
use crate::sys::consts::{CLONE_NEWUSER, O_CLOEXEC, O_RDONLY, SIGKILL};
use crate::sys::process::{self, Forked};
use crate::sys::{cred, fd};
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
        let (go_r, go_w) = fd::pipe().step(|| "creating a pipe")?;
        let pid = match process::clone_fork(CLONE_NEWUSER) {
            Ok(Forked::Child) => {
                let _ = cred::set_pdeathsig(SIGKILL);
                fd::close(go_w);
                // Until the parent has opened our namespace (its end closes).
                let mut b = [0u8; 1];
                while fd::read(go_r, &mut b).map_or(false, |n| n > 0) {}
                process::exit_now(0)
            }
            Ok(Forked::Parent(pid)) => pid,
            Err(e) => {
                fd::close(go_r);
                fd::close(go_w);
                return Err(Error::errno("creating a user namespace for the id maps", e));
            }
        };
        fd::close(go_r);
        let made = idmap::write_both(pid, uid_mappings, gid_mappings, cred::geteuid() == 0)
            .and_then(|()| {
                let path = format!("/proc/{}/ns/user", pid);
                fd::open_path(Path::new(&path), O_RDONLY | O_CLOEXEC, 0).step(|| format!("opening {}", path))
            });
        fd::close(go_w);
        let _ = process::wait(pid);
        Ok(Nest { fd: made?, uid_mappings: uid_mappings.to_vec(), gid_mappings: gid_mappings.to_vec() })
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
