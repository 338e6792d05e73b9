//! Idmapped mounts (Linux 5.12+, overlayfs over them 5.19+) for a container
//! whose ids are a slice of subordinate ids (`userns_auto`): the image's
//! layers and the mounts marked `idmap` (tsbox's volumes and /etc files, a
//! bind the user asked so for), owned by the host's ids, are shown to it
//! through its own mapping, so its root owns what the host's root owns there,
//! without chowning a copy of each layer per container.
//!
//! Any other bind is not: through an idmapped mount the container's root
//! would act as the host's root on the host's files (chown them to any id up
//! to 65535, plant a set-uid-root program that the host's users then run),
//! which `--userns=auto` is there to prevent. It sees their owners as its
//! namespace maps the host's (root's are nobody), as docker's userns-remap
//! and podman's `--userns=auto` show binds.
//!
//! Made by the parent, which has the privilege the kernel asks for
//! (CAP_SYS_ADMIN over the file system's user namespace): a detached clone of
//! the tree (open_tree), marked idmapped with a user namespace that has the
//! container's mapping (a short-lived child's), handed to the container
//! process through clone's copy of the descriptor table, and attached there
//! (move_mount) inside the container's own mount namespace.

use crate::error::{Context, Error};
use crate::idmap;
use crate::mounts;
use crate::paths::Source;
use crate::spec::Spec;
use crate::userns_auto;
use crate::sys::consts::*;
use crate::sys::process::{self, Forked};
use crate::sys::{fd, mount};
use std::os::raw::c_int;
use std::os::unix::io::IntoRawFd;
use std::path::{Path, PathBuf};

/// A user namespace with the spec's mappings, as an open ns file: a child
/// created in it waits until the maps are written and the file opened.
pub fn userns_fd(spec: &Spec) -> Result<c_int, Error> {
    let (r, w) = fd::pipe().step(|| "creating a pipe")?;
    let pid = match process::clone_fork(CLONE_NEWUSER) {
        Ok(Forked::Child) => {
            fd::close(w);
            let mut byte = [0u8; 1];
            let _ = fd::read(r, &mut byte); // EOF: the parent is done
            process::exit_now(0);
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            fd::close(r);
            fd::close(w);
            return Err(Error::errno("creating a user namespace for idmapped mounts", e));
        }
    };
    fd::close(r);
    // A real descriptor (not O_PATH): mount_setattr takes no other.
    let opened = idmap::write_mappings(pid, spec).and_then(|()| {
        std::fs::File::open(format!("/proc/{}/ns/user", pid))
            .map(IntoRawFd::into_raw_fd)
            .step(|| "opening the idmapping's user namespace")
    });
    fd::close(w);
    let _ = process::wait(pid);
    opened
}

/// A detached clone of `path` (with what is mounted below it when
/// `recursive`), idmapped through `userns`. Close-on-exec.
pub fn clone_idmapped(path: &Path, userns: c_int, recursive: bool) -> Result<c_int, Error> {
    let step = || format!("an idmapped mount of {} (needs Linux 5.12 and a file system that supports it)", path.display());
    let tree = mount::open_tree_clone(path, recursive).step(step)?;
    if let Err(e) = mount::setattr(tree, MOUNT_ATTR_IDMAP, Some(userns), recursive) {
        fd::close(tree);
        return Err(Error::errno(step(), e));
    }
    Ok(tree)
}

/// --userns=auto, in the parent. The container's root (a subordinate id)
/// may not even look up paths in root's data dir, so nothing it needs before
/// pivot_root is reached by such a path: the root mount point and the
/// directories the idmapped layers are attached on move to
/// /run/tsbox-userns/<slice>.{root,lower/N} (searchable, per slice), the
/// writable layer is given to it and named by descriptors opened here
/// (/proc/self/fd/N, which clone passes on), and each checked bind source is
/// a clone made here, idmapped where the mount says `idmap`. Returns the
/// layers to attach.
pub fn prepare(spec: &mut Spec, sources: &mut [Option<Source>]) -> Result<Vec<(c_int, PathBuf)>, Error> {
    let (uid, gid) = (spec.linux.uid_mappings[0].host_id, spec.linux.gid_mappings[0].host_id);
    let userns = userns_fd(spec)?;
    let result = (|| {
        let slice = Path::new(userns_auto::LOCK_DIR).join(uid.to_string());
        let mount_point = slice.with_extension("root");
        std::fs::create_dir_all(&mount_point).step(|| format!("creating {}", mount_point.display()))?;
        spec.root.path = mount_point;
        let mut lowers = Vec::new();
        if let Some(ov) = spec.root.overlay.as_mut() {
            own(&ov.upper, uid, gid)?;
            own(&ov.work, uid, gid)?;
            for (i, lower) in ov.lower.iter_mut().enumerate() {
                let dir = slice.with_extension("lower").join(i.to_string());
                std::fs::create_dir_all(&dir).step(|| format!("creating {}", dir.display()))?;
                lowers.push((clone_idmapped(lower, userns, false)?, dir.clone()));
                *lower = dir;
            }
        }
        for (m, source) in spec.mounts.iter().zip(sources.iter_mut()) {
            if let Some(src) = source {
                let opts = mounts::parse_options(&m.options);
                let recursive = opts.flags & MS_REC != 0;
                let tree = if opts.idmap {
                    clone_idmapped(&src.path, userns, recursive)?
                } else {
                    mount::open_tree_clone(&src.path, recursive).map_err(|e| Error::errno(format!("cloning the mount of {}", src.path.display()), e))?
                };
                if !src.is(tree) {
                    fd::close(tree);
                    return Err(Error::setup(format!("{} changed after it was checked", src.path.display())));
                }
                src.detached = Some(tree);
            }
        }
        Ok(lowers)
    })();
    fd::close(userns);
    result
}

/// --userns=auto, in the child once its maps are written. Until now its
/// credentials are still the host's root (a clone keeps them; only its view
/// changed), an id its own namespace does not map: files it created would
/// have no owner there, so it becomes the container's root (the slice's
/// first id) for the rest of the set-up. Before that, it opens the writable
/// layer's directories, which the container's root could not look up in
/// root's data dir, and names them to overlayfs as /proc/self/fd/N (in its
/// own mount namespace, as overlayfs wants).
pub fn become_container_root(spec: &mut Spec) -> Result<(), Error> {
    if let Some(ov) = spec.root.overlay.as_mut() {
        for dir in [&mut ov.upper, &mut ov.work] {
            let d = crate::sys::path::open_path(dir, O_DIRECTORY)
                .map_err(|e| Error::errno(format!("opening {}", dir.display()), e))?;
            *dir = PathBuf::from(format!("/proc/self/fd/{}", d));
        }
    }
    crate::user::become_root()
}

/// The container's root owns its writable layer (only the top directories
/// exist before its first run).
fn own(dir: &Path, uid: u32, gid: u32) -> Result<(), Error> {
    let d = crate::sys::path::open_path(dir, O_DIRECTORY).map_err(|e| Error::errno(format!("opening {}", dir.display()), e))?;
    // fchown takes no O_PATH descriptor: reopen it for reading.
    let file = std::fs::File::open(format!("/proc/self/fd/{}", d));
    fd::close(d);
    let file = file.step(|| format!("opening {}", dir.display()))?;
    use std::os::unix::io::AsRawFd;
    crate::sys::Errno::check(unsafe { crate::sys::ffi::fchown(file.as_raw_fd(), uid, gid) })
        .map(drop)
        .map_err(|e| Error::errno(format!("giving {} to the container's root", dir.display()), e))
}
