//! Where this process may create cgroups in a hierarchy. Root (of the
//! initial user namespace) may create anywhere: the hierarchy's root. Any
//! other user only inside a cgroup delegated to it, as systemd's
//! `Delegate=yes` gives: a directory (and its cgroup.procs) it owns, which
//! it is in. The highest such ancestor of its own cgroup is the base.
//! Root of a user namespace inside a container is such a user too.

use super::layout::Hierarchy;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creator {
    pub euid: u32,
    /// euid 0 in the initial user namespace.
    pub privileged: bool,
}

impl Creator {
    pub fn current() -> Creator {
        let euid = crate::sys::cred::geteuid();
        Creator {
            euid,
            privileged: euid == 0 && crate::host::in_initial_user_ns(),
        }
    }
}

/// The base directory, or why there is none.
pub fn base(h: &Hierarchy, who: &Creator) -> Result<PathBuf, String> {
    if who.privileged {
        return Ok(h.mount.clone());
    }
    let mut dir = h.own_dir();
    if !owned(&dir, who.euid) {
        return Err(format!(
            "this user (uid {}) has no delegated cgroup ({} belongs to uid {})",
            who.euid,
            dir.display(),
            owner(&dir).map_or("?".to_string(), |u| u.to_string())
        ));
    }
    // Owned but read-only: a container's /sys/fs/cgroup as its root sees it (uid 0 of an identity map owns it).
    if crate::sys::mount::mount_flags(&dir).map_or(false, |f| f & crate::sys::consts::MS_RDONLY != 0) {
        return Err(format!("{} is mounted read-only (inside a container?)", h.mount.display()));
    }
    while let Some(parent) = dir.parent() {
        if !parent.starts_with(&h.mount) || !owned(parent, who.euid) {
            break;
        }
        dir = parent.to_path_buf();
    }
    Ok(dir)
}

fn owner(p: &Path) -> Option<u32> {
    std::fs::metadata(p).ok().map(|m| m.uid())
}

/// The directory and the file that moves processes in belong to `uid`.
pub fn owned(dir: &Path, uid: u32) -> bool {
    owner(dir) == Some(uid) && owner(&dir.join("cgroup.procs")) == Some(uid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;
    use std::fs;

    #[test]
    fn root_gets_the_mount_and_a_user_its_highest_owned_cgroup() {
        let t = TempDir::new("deleg");
        let mount = t.0.join("memory");
        let own = mount.join("a/b/c");
        fs::create_dir_all(&own).unwrap();
        for d in [&mount, &mount.join("a"), &mount.join("a/b"), &own] {
            fs::write(d.join("cgroup.procs"), "").unwrap();
        }
        let h = Hierarchy {
            controllers: vec!["memory".into()],
            mount: mount.clone(),
            own: "/a/b/c".into(),
        };
        let me = crate::sys::cred::geteuid();
        let root = Creator { euid: 0, privileged: true };
        assert_eq!(base(&h, &root), Ok(mount.clone()));
        // Everything here is ours: the highest owned ancestor is the mount itself.
        let user = Creator { euid: me, privileged: false };
        assert_eq!(base(&h, &user), Ok(mount.clone()));
        // Someone else's cgroup: none.
        let other = Creator { euid: me + 1, privileged: false };
        let e = base(&h, &other).unwrap_err();
        assert!(e.starts_with(&format!("this user (uid {}) has no delegated cgroup", me + 1)), "{}", e);
    }
}
