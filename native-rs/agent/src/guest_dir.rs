//! A container's directory in the guest: a tmpfs at /run/tsbox/<cid> holding
//! the root mount point and the overlay's upper and work dirs (overlayfs
//! cannot use 9p as its upper layer), and the image's overlay on the root.

use crate::sys;
use container::spec::IdMapping;
use container::sys::consts::{MNT_DETACH, MS_NODEV};
use container::sys::mount;
use container::syscall::LinuxSyscall;
use container::Spec;
use std::path::Path;

/// Where the guest keeps its networks' state (src/backends/vm/guest-spec.ts puts them there).
pub const NETWORKS_DIR: &str = "/run/tsbox-net";

/// Mounts the tmpfs and makes the dirs the spec names, which must lie in it.
pub fn prepare(dir: &Path, spec: &Spec) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {}", dir.display(), e))?;
    // Owned by the user namespace's root (the host user's id), as the bundle
    // dir is on the host: overlay does its work there with that user's ids.
    let root_id = |maps: &[IdMapping]| {
        maps.iter()
            .find(|m| m.container_id == 0)
            .map_or(0, |m| m.host_id)
    };
    let (uid, gid) = (
        root_id(&spec.linux.uid_mappings),
        root_id(&spec.linux.gid_mappings),
    );
    let opts = format!("mode=700,uid={},gid={}", uid, gid);
    mount::mount(Some(Path::new("tmpfs")), dir, Some("tmpfs"), 0, Some(&opts))
        .map_err(|e| format!("mounting a tmpfs on {}: {}", dir.display(), e.description()))?;
    let mut wanted: Vec<&Path> = vec![spec.root.path.as_path()];
    if let Some(ov) = &spec.root.overlay {
        wanted.push(ov.upper.as_path());
        wanted.push(ov.work.as_path());
    }
    // Networks' shared state (leases, lock, DNS) outside the container's
    // dir: the keeper works with the container root's file-system ids.
    if let Some(net) = &spec.network {
        for att in &net.attach {
            if !att.dir.starts_with(NETWORKS_DIR) {
                cleanup(dir);
                return Err(format!("network dir {} is not under {}", att.dir.display(), NETWORKS_DIR));
            }
            std::fs::create_dir_all(&att.dir).map_err(|e| format!("creating {}: {}", att.dir.display(), e))?;
            let _ = sys::chown(&att.dir, uid, gid);
        }
    }
    for p in wanted {
        if !p.starts_with(dir) {
            cleanup(dir);
            return Err(format!(
                "{} is not inside the container's guest directory {}",
                p.display(),
                dir.display()
            ));
        }
        std::fs::create_dir_all(p).map_err(|e| format!("creating {}: {}", p.display(), e))?;
        let _ = sys::chown(p, uid, gid);
    }
    Ok(())
}

/// The image's overlay, mounted here by the guest's real root; the container
/// gets it as a plain root directory (the spec's overlay is taken out):
/// overlayfs inside a user namespace refuses 9p lower layers, and the guest
/// itself is the boundary to the host (its upper layer lives in guest memory).
pub fn mount_overlay_root(spec: &mut Spec) -> Result<(), String> {
    let ov = match spec.root.overlay.take() {
        Some(ov) => ov,
        None => return Ok(()),
    };
    // nodev: a device node in an image (say c 229 1, the agent's own link)
    // must not reach a guest device; the guest's root mounts this, so no user
    // namespace makes it nodev for us. The data is the host's (past a page
    // of layers, ~100 of /mnt/host/l-…, each a descriptor's number).
    container::rootfs::mount_overlay_at(&LinuxSyscall, &spec.root.path, MS_NODEV, &ov)
    .map_err(|e| {
        format!(
            "mounting the image's overlay on {}: {}",
            spec.root.path.display(),
            e.description()
        )
    })
}

pub fn cleanup(dir: &Path) {
    let _ = mount::umount2(dir, MNT_DETACH);
    let _ = std::fs::remove_dir_all(dir);
}
