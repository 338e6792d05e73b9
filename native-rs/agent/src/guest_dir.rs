//! A container's directory in the guest: /run/tsbox/<cid>, on the one tmpfs
//! all containers share (CONTAINERS_DIR), holding the root mount point and the
//! overlay's upper and work dirs (overlayfs cannot use 9p as its upper layer),
//! and the image's overlay on the root.

use crate::sys;
use container::spec::IdMapping;
use container::sys::consts::{MNT_DETACH, MS_BIND, MS_NODEV, MS_NOEXEC, MS_NOSUID};
use container::sys::mount;
use container::syscall::LinuxSyscall;
use container::Spec;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Where the guest keeps its networks' state (src/backends/vm/guest-spec.ts puts them there).
pub const NETWORKS_DIR: &str = "/run/tsbox-net";

/// The containers' dirs (src/backends/vm/core/guest-spec.ts: GUEST_RUN_DIR).
pub const CONTAINERS_DIR: &str = "/run/tsbox";

/// The size of the tmpfs on CONTAINERS_DIR, which every container's writable
/// layer is written to: one bound for all, in guest memory. A tmpfs each,
/// 50% of the guest apiece, let two containers writing 110 MB wedge the
/// guest or have its OOM killer kill every container's init (memory no
/// process maps is no process's to free); now the one that writes too much
/// gets ENOSPC. README's vm notes say so.
pub const CONTAINERS_SIZE: &str = "50%";

/// Mounts CONTAINERS_DIR's tmpfs (the guest's init, once).
pub fn mount_containers_tmpfs() -> Result<(), String> {
    let dir = Path::new(CONTAINERS_DIR);
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {}", dir.display(), e))?;
    let opts = format!("mode=0755,size={}", CONTAINERS_SIZE);
    mount::mount(Some(Path::new("tmpfs")), dir, Some("tmpfs"), 0, Some(&opts))
        .map_err(|e| format!("mounting a tmpfs on {}: {}", dir.display(), e.description()))
}

/// Makes the container's dir (a bind of itself: `cleanup` detaches it and the
/// overlay on its root at once) and the dirs the spec names, which must lie in it.
pub fn prepare(dir: &Path, spec: &Spec) -> Result<(), String> {
    if !dir.starts_with(CONTAINERS_DIR) {
        return Err(format!("{} is not under {}", dir.display(), CONTAINERS_DIR));
    }
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
    let owned = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("setting the mode of {}: {}", dir.display(), e))
        .and_then(|()| sys::chown(dir, uid, gid).map_err(|e| format!("chown {}: {}", dir.display(), e.description())));
    if let Err(m) = owned {
        let _ = std::fs::remove_dir_all(dir);
        return Err(m);
    }
    if let Err(e) = mount::mount(Some(dir), dir, None, MS_BIND, None) {
        let _ = std::fs::remove_dir_all(dir);
        return Err(format!("binding {} onto itself: {}", dir.display(), e.description()));
    }
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
    // The container's /etc files (its network's `dir`, in here) on a small tmpfs of their own: on the shared
    // one, a container that filled it made every other container's start, and `network connect`, fail writing
    // them (ENOSPC). `cleanup`'s detach takes it with the rest.
    if let Some(net) = spec.network.as_ref().filter(|n| n.dir.starts_with(dir)) {
        let made = std::fs::create_dir_all(&net.dir).map_err(|e| format!("creating {}: {}", net.dir.display(), e)).and_then(|()| {
            let opts = format!("mode=0755,uid={},gid={},size={}", uid, gid, NET_FILES_SIZE);
            mount::mount(Some(Path::new("tmpfs")), &net.dir, Some("tmpfs"), MS_NODEV | MS_NOSUID | MS_NOEXEC, Some(&opts))
                .map_err(|e| format!("mounting a tmpfs on {}: {}", net.dir.display(), e.description()))
        });
        if let Err(m) = made {
            cleanup(dir);
            return Err(m);
        }
    }
    Ok(())
}

/// The size of a container's /etc files' tmpfs (hosts, resolv.conf, hostname and their temp copies).
const NET_FILES_SIZE: &str = "4m";

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

/// Detaches the dir's bind with the overlay on its root, then removes what the
/// container wrote from the shared tmpfs: never through a mount still there.
pub fn cleanup(dir: &Path) {
    let _ = mount::umount2(dir, MNT_DETACH);
    if !has_mounts(dir) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Whether anything is mounted at or under `dir` (in our mount namespace).
fn has_mounts(dir: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines().filter_map(|l| l.split(' ').nth(4)).any(|at| Path::new(at).starts_with(dir))
}
