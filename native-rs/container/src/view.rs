//! A container's files as `/` of the calling process, for copying in and
//! out (`tsbox cp`, `export`, `diff`, `commit`): the running container's own
//! namespaces joined ([`crate::join::enter`]), or, for one that is not
//! running, its layers mounted in a fresh user + mount namespace with its id
//! maps, which dies with the operation. Either way paths resolve inside the
//! container's root only, and files are created as its root user (whatever
//! id the caller came in as: `user::become_root`).

use crate::error::{Context, Error};
use crate::host::{self, Host};
use crate::idmap;
use crate::mounts;
use crate::namespaces::NamespaceKind;
use crate::paths;
use crate::pivot;
use crate::rootfs;
use crate::spec::{Mount, Spec};
use crate::sys::consts::*;
use crate::sys::process::{self, ExitStatus, Forked};
use crate::sys::{cred, fd};
use crate::syscall::{LinuxSyscall, Syscall};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The container as it runs: its overlay (read-write) and its volumes and bind mounts.
    Merged,
    /// Its file system alone, read-only: the upper dir over the image's layers, no mounts.
    Layers,
    /// Its upper dir as it is, whiteouts and all, read-only.
    Upper,
}

impl View {
    /// A view by the name the front end gives it (`--view`, the vm agent's `copy.view`); none names `merged`.
    pub fn from_name(name: Option<&str>) -> Result<View, String> {
        match name {
            None | Some("merged") => Ok(View::Merged),
            Some("layers") => Ok(View::Layers),
            Some("upper") => Ok(View::Upper),
            Some(v) => Err(format!("view {}: expected merged, layers or upper", v)),
        }
    }
}

/// Runs `op` in a child whose `/` is `view` of the stopped container
/// described by `spec`; returns the child's exit code (`op`'s error is
/// reported by `report` in the child, which returns the code to exit with).
pub fn run(spec: &Spec, view: View, op: &mut dyn FnMut() -> Result<(), Error>, report: &dyn Fn(&Error) -> i32) -> Result<i32, Error> {
    let mut spec = spec.clone();
    spec.root.path = std::fs::canonicalize(&spec.root.path).step(|| format!("root.path {}", spec.root.path.display()))?;
    // A container that joined another's user namespace (--network/--pid/--ipc
    // container:X) ran with the id maps its spec carries, X's: its view makes
    // a user namespace of its own from them (rootless, a mount namespace needs one).
    if !spec.linux.uid_mappings.is_empty() && !spec.linux.gid_mappings.is_empty() {
        for ns in spec.linux.namespaces.iter_mut().filter(|ns| ns.kind == NamespaceKind::User) {
            ns.path = None;
            ns.container = None;
        }
    }
    let host = Host::detect(&spec);
    // Bind sources checked here, where owners are seen as the host sees them
    // (a symlink a container planted in a volume is not followed: launch.rs).
    let planters = crate::launch::symlink_planters(&spec);
    spec.mounts = data_mounts(&spec);
    let mut sources = match view {
        View::Merged => mounts::check_sources(&spec.mounts, &planters)?,
        _ => Vec::new(),
    };
    // --userns=auto: the slice its writable layer belongs to, and the image
    // and volumes idmapped into it, as its runs have them (launch.rs).
    let (lock, lowers) = match spec.linux.userns_auto {
        Some(auto) => {
            let lock = crate::userns_auto::take(&auto, &mut spec)?;
            match crate::idmapped::prepare(&mut spec, &mut sources) {
                Ok(lowers) => (Some(lock), lowers),
                Err(e) => {
                    fd::close(lock);
                    return Err(e);
                }
            }
        }
        None => (None, Vec::new()),
    };
    let result = in_child(&mut spec, view, &sources, host, &lowers, op, report);
    for (tree, _) in &lowers {
        fd::close(*tree);
    }
    if let Some(lock) = lock {
        fd::close(lock);
    }
    result
}

#[allow(clippy::too_many_arguments)]
fn in_child(
    spec: &mut Spec,
    view: View,
    sources: &[Option<paths::Source>],
    mut host: Host,
    lowers: &[(std::os::raw::c_int, std::path::PathBuf)],
    op: &mut dyn FnMut() -> Result<(), Error>,
    report: &dyn Fn(&Error) -> i32,
) -> Result<i32, Error> {
    let (sync_r, sync_w) = fd::pipe().step(|| "creating a pipe")?;
    let flags = if spec.creates_namespace(NamespaceKind::User) { CLONE_NEWUSER | CLONE_NEWNS } else { CLONE_NEWNS };
    match process::clone_fork(flags) {
        Ok(Forked::Child) => {
            fd::close(sync_w);
            // Dies with the helper; waits for the id maps.
            let _ = cred::set_pdeathsig(SIGKILL);
            let mut byte = [0u8; 1];
            if fd::read(sync_r, &mut byte) != Ok(1) {
                process::exit_now(1);
            }
            host.setgroups_denied = host::setgroups_denied();
            // The writable layer named by descriptors before the container's root can no longer reach root's data dir.
            let auto = if spec.linux.userns_auto.is_some() { crate::idmapped::become_container_root(spec) } else { Ok(()) };
            // Its maps name the container's root.
            let as_root = || if spec.linux.uid_mappings.is_empty() { Ok(()) } else { crate::user::become_root() };
            let entered = auto.and_then(|()| enter_view(&LinuxSyscall, spec, view, sources, &host, lowers));
            let code = match entered.and_then(|()| as_root()).and_then(|()| op()) {
                Ok(()) => 0,
                Err(e) => report(&e),
            };
            process::exit_now(code)
        }
        Ok(Forked::Parent(pid)) => {
            fd::close(sync_r);
            // A copy's interrupt is the child's to handle: it holds the file being written.
            crate::copy::pending::pass_interrupts_to(pid);
            let ready = idmap::write_mappings(pid, spec).and_then(|()| fd::write_all(sync_w, b"1").step(|| "releasing the view"));
            fd::close(sync_w);
            let ended = match ready {
                Err(e) => {
                    let _ = process::kill(pid, SIGKILL);
                    let _ = process::wait(pid);
                    Err(e)
                }
                Ok(()) => process::wait(pid).step(|| "waiting for the view").map(|status| match status {
                    ExitStatus::Code(c) => c,
                    ExitStatus::Signal(s) => 128 + s,
                }),
            };
            crate::copy::pending::pass_interrupts_to(0);
            ended
        }
        Err(e) => {
            fd::close(sync_r);
            fd::close(sync_w);
            Err(Error::errno("creating the view's namespaces", e))
        }
    }
}

/// The child's side: private mounts, the idmapped layers attached
/// (`--userns=auto`), the view at the root mount point, pivot.
pub fn enter_view(
    sys: &dyn Syscall,
    spec: &Spec,
    view: View,
    sources: &[Option<paths::Source>],
    host: &Host,
    lowers: &[(std::os::raw::c_int, std::path::PathBuf)],
) -> Result<(), Error> {
    let root = &spec.root.path;
    rootfs::make_rslave(sys)?;
    crate::launch::attach_lowers(sys, lowers)?;
    let ov = spec.root.overlay.as_ref();
    match (view, ov) {
        (View::Merged, _) => {
            rootfs::mount_root(sys, &spec.root, host)?;
            mounts::mount_all(sys, root, &spec.mounts, sources, host, false, None)?;
        }
        (View::Layers, Some(ov)) => {
            let layers: Vec<_> = std::iter::once(ov.upper.clone()).chain(ov.lower.iter().cloned()).collect();
            rootfs::mount_layers_readonly(sys, root, &layers, host)?;
        }
        (View::Upper, Some(ov)) => {
            sys.mount(Some(&ov.upper), root, None, MS_BIND | MS_REC, None)
                .step(|| format!("bind-mounting {}", ov.upper.display()))?;
        }
        // No overlay: the root directory is the container's file system and its own writable layer.
        (_, None) => rootfs::mount_root(sys, &spec.root, host)?,
    }
    pivot::pivot_root(sys, root)?;
    if view != View::Merged || spec.root.readonly {
        rootfs::remount_root_readonly(sys, host)?;
    }
    Ok(())
}

/// The mounts that hold a container's data (volumes, bind mounts), not its
/// kernel file systems or /dev (nor --init's binary there): what `cp` of a
/// stopped container sees, as docker's does.
fn data_mounts(spec: &Spec) -> Vec<Mount> {
    // The network's /etc files are written when the container starts: one
    // that never started (`create`, then `cp` into it) has none to bind yet.
    let unwritten = |m: &Mount| match &spec.network {
        Some(net) => Path::new(&m.source).starts_with(&net.dir) && !Path::new(&m.source).exists(),
        None => false,
    };
    spec.mounts
        .iter()
        .filter(|m| {
            let dest = paths::normalize(&m.destination);
            let bind = m.kind == "bind" || m.options.iter().any(|o| o == "bind" || o == "rbind");
            bind && !unwritten(m) && !["/dev", "/proc", "/sys"].iter().any(|p| dest == *p || dest.starts_with(&format!("{}/", p)))
        })
        .cloned()
        .collect()
}

/// For `--pid`: the running container's namespaces, staying in them, as its root.
pub fn enter_running(pid: i32) -> Result<(), Error> {
    crate::join::enter(pid)?;
    crate::user::become_root()
}

/// Pseudo file systems a running container has mounted: a copy of its `/` does not descend into them.
pub fn pseudo_mounts() -> Vec<std::path::PathBuf> {
    ["/proc", "/sys", "/dev/pts", "/dev/mqueue", "/dev/shm"].iter().map(|p| Path::new(p).to_path_buf()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;
    use crate::spec::tests::sample_json;
    use crate::syscall::RecordingSyscall;
    use std::fs;

    fn setup(view: View) -> Vec<String> {
        let t = TempDir::new("view");
        let rootfs = t.0.join("rootfs");
        let vol = t.0.join("vol");
        fs::create_dir_all(&rootfs).unwrap();
        fs::create_dir_all(&vol).unwrap();
        let mut spec = Spec::parse(&sample_json()).unwrap();
        spec.root.path = rootfs.clone();
        spec.mounts[2].source = vol.display().to_string();
        let host = Host {
            in_user_ns: true,
            setgroups_denied: true,
            last_cap: 40,
            unshare_cgroupns: false,
            cgroup_view: Vec::new(),
        };
        spec.mounts = data_mounts(&spec); // as run() gives enter_view
        let sources = mounts::check_sources(&spec.mounts, &paths::Owners::everyone()).unwrap();
        let sys = RecordingSyscall::new(&rootfs);
        enter_view(&sys, &spec, view, &sources, &host, &[]).unwrap();
        let vol_shown = vol.display().to_string();
        sys.calls()
            .into_iter()
            .filter(|c| !c.starts_with("statvfs"))
            .map(|c| c.replace(&vol_shown, "$VOL"))
            .collect()
    }

    #[test]
    fn merged_view_has_the_overlay_and_data_mounts_only() {
        let calls = setup(View::Merged);
        assert!(calls[1].starts_with("mount overlay -> $ROOT type=overlay"), "{:?}", calls);
        // No proc, no /dev tmpfs: only the bind mount of the volume, then the pivot.
        assert_eq!(
            calls[2],
            format!("mount $VOL -> $ROOT/data flags={:#x}", MS_BIND | MS_REC)
        );
        assert!(!calls.iter().any(|c| c.contains("type=proc") || c.contains("type=tmpfs")));
        assert!(calls.contains(&"pivot_root . .".to_string()));
    }

    #[test]
    fn layers_view_is_a_read_only_overlay_with_the_upper_dir_on_top() {
        let calls = setup(View::Layers);
        assert_eq!(
            calls[1],
            format!(
                "mount overlay -> $ROOT type=overlay flags={:#x} data=lowerdir=up:/layers/b:/layers/a,userxattr",
                MS_RDONLY
            )
        );
        assert!(!calls.iter().any(|c| c.contains("$VOL")), "no volumes in an export");
    }

    #[test]
    fn upper_view_binds_the_upper_dir() {
        let calls = setup(View::Upper);
        assert_eq!(calls[1], format!("mount up -> $ROOT flags={:#x}", MS_BIND | MS_REC));
        let pivot = calls.iter().position(|c| c == "pivot_root . .").unwrap();
        assert!(calls[pivot + 1..].iter().any(|c| c.starts_with("mount none -> / flags=")), "read-only after the pivot");
    }
}
