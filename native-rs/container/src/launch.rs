//! Starting a container: the whole sequence of docs/architecture.md "Setup
//! order" in one place. `spawn` is the parent side, `setup` the child side
//! up to execve (through `Syscall`, so its order is unit tested).

use crate::error::{Context, Error};
use crate::handoff::Pipes;
use crate::host::{self, Host};
use crate::idmap;
use crate::namespaces::{self, NamespaceKind};
use crate::paths::{self, Create};
use crate::spec::Spec;
use crate::sys::errno::{EINVAL, ENOSPC, EPERM, EUSERS};
use crate::sys::process::{self, Forked};
use crate::sys::{fd, Errno};
use crate::syscall::{LinuxSyscall, Syscall};
use crate::{masked, mounts, net, network, pivot, process_setup, rootfs};
use std::os::raw::c_int;

/// Starts the container process described by `spec` and returns its host pid
/// once its execve has succeeded. `on_clone` runs in the parent right after
/// clone with the child's pid (before anything else, so signals can be
/// forwarded from then on).
///
/// Must be called from a single-threaded process: the child runs on a
/// fork-like copy of it and uses std freely.
pub fn spawn(spec: &Spec, on_clone: &mut dyn FnMut(i32)) -> Result<i32, Error> {
    // Existing namespaces (linux.namespaces[].path) are joined by the parent,
    // so the child inherits them; user first, mount last.
    namespaces::join_existing(spec)?;

    // A root path free of symlinks: resolution and pivot work on it literally.
    let mut spec = spec.clone();
    spec.root.path = std::fs::canonicalize(&spec.root.path)
        .step(|| format!("root.path {}", spec.root.path.display()))?;
    let mut host = Host::detect(&spec);
    let pipes = Pipes::open()?;
    let flags = namespaces::clone_flags(&spec);

    // --- networking (net/) ------------------------------------------------
    // With networks to join, the network keeper clones the container from the
    // namespaces the bridges live in, writes its id maps and attaches it; it
    // stays to serve published ports and tears the network down at the end.
    // Without, only the /etc files are written here.
    let keeper_net = spec.network.as_ref().filter(|n| !n.attach.is_empty());
    if let Some(net) = spec.network.as_ref().filter(|n| n.attach.is_empty()) {
        if let Err(e) = net::files::write_all(net, &[]) {
            pipes.close();
            return Err(e);
        }
    }
    if let Some(net) = keeper_net {
        let child_pipes = pipes.clone();
        let child = || {
            child_pipes.into_child().exec_after(&spec.process, |sync_r| {
                wait_for_id_maps(sync_r);
                host.setgroups_denied = host::setgroups_denied();
                setup(&LinuxSyscall, &spec, &host)
            })
        };
        let pid = match net::keeper::start(&spec, net, flags, &pipes, child) {
            Ok(pid) => pid,
            Err(e) => {
                pipes.close();
                return Err(e);
            }
        };
        on_clone(pid);
        let parent = pipes.into_parent();
        let ready = parent.release();
        return parent.verdict(pid, ready).map(|()| pid).map_err(|e| {
            // The keeper takes the network down once it sees the container gone.
            process::reap_all_children();
            e
        });
    }
    // ----------------------------------------------------------------------

    // 1. New namespaces, all at once: the user namespace is created first by
    //    the kernel and owns the others, which is what lets an unprivileged
    //    user create them.
    let pid = match process::clone_fork(flags) {
        Ok(Forked::Child) => pipes.into_child().exec_after(&spec.process, |sync_r| {
            wait_for_id_maps(sync_r);
            host.setgroups_denied = host::setgroups_denied();
            setup(&LinuxSyscall, &spec, &host)
        }),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            pipes.close();
            return Err(clone_error(&spec, e));
        }
    };
    on_clone(pid);
    let parent = pipes.into_parent();
    // 2. The child's id maps, written from outside its user namespace; then
    //    the child is released. The sync pipe stays open until the verdict:
    //    the child checks it to know we are still alive right before execve.
    let ready = idmap::write_mappings(pid, &spec).and_then(|()| parent.release());
    parent.verdict(pid, ready).map(|()| pid)
}

pub(crate) fn clone_error(spec: &Spec, e: Errno) -> Error {
    if spec.creates_namespace(NamespaceKind::User) && [EPERM, EINVAL, ENOSPC, EUSERS].contains(&e) {
        Error::errno(
            "creating a user namespace (are unprivileged user namespaces enabled?)",
            e,
        )
    } else {
        Error::errno("creating the container's namespaces", e)
    }
}

/// EOF instead of the parent's byte: it is gone (it may have died before our
/// PDEATHSIG was set) and nobody waits for us.
fn wait_for_id_maps(sync_r: c_int) {
    let mut byte = [0u8; 1];
    if fd::read(sync_r, &mut byte) != Ok(1) {
        process::exit_now(1);
    }
}

/// Child side, steps 3–7 of the setup order, ending right before execve.
pub fn setup(sys: &dyn Syscall, spec: &Spec, host: &Host) -> Result<(), Error> {
    let root = &spec.root.path;

    // 3. Nothing below may propagate to the host's mounts. Then the image.
    rootfs::make_private(sys)?;
    rootfs::mount_root(sys, &spec.root, host)?;

    // 4. The spec's mounts, destinations resolved inside the root so a
    //    symlink in the image cannot send a mount onto the host.
    mounts::mount_all(sys, root, &spec.mounts, host, spec.process.terminal)?;
    // The cwd is created the same way (it may lie in a volume just mounted).
    paths::resolve_in_root(root, &spec.process.cwd, Create::Dir)
        .step(|| format!("creating the working directory {}", spec.process.cwd))?;

    // 5. Hide what the container must not see or change (under /proc, /sys).
    masked::mask(sys, root, &spec.linux.masked_paths)?;
    masked::make_readonly(sys, root, &spec.linux.readonly_paths, host)?;

    // 6. Into the new root; the host's tree is detached, unreachable after.
    pivot::pivot_root(sys, root)?;
    if spec.root.readonly {
        rootfs::remount_root_readonly(sys, host)?;
    }

    // 7. The process's own environment. Hostname only in our own UTS
    //    namespace (checked when the spec was parsed).
    if let Some(name) = &spec.hostname {
        sys.sethostname(name)
            .step(|| format!("setting the hostname to {}", name))?;
    }
    if spec.creates_namespace(NamespaceKind::Network) {
        network::loopback_up(sys)?;
    }
    process_setup::apply(sys, &spec.process, host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;
    use crate::spec::tests::sample_json;
    use crate::sys::consts::*;
    use crate::syscall::RecordingSyscall;
    use std::fs;
    use std::path::Path;

    fn sample(rootfs: &Path, vol: &Path) -> Spec {
        let mut spec = Spec::parse(&sample_json()).unwrap();
        spec.root.path = rootfs.to_path_buf();
        spec.mounts[2].source = vol.display().to_string();
        spec
    }

    fn host() -> Host {
        Host {
            in_user_ns: true,
            setgroups_denied: true,
            last_cap: 40,
        }
    }

    /// Only the calls that show the order; capbset drops are counted apart.
    fn summary(calls: &[String]) -> Vec<String> {
        calls
            .iter()
            .filter(|c| !c.starts_with("capbset_drop") && !c.starts_with("statvfs"))
            .cloned()
            .collect()
    }

    #[test]
    fn recorded_setup_order() {
        let t = TempDir::new("order");
        let rootfs = t.0.join("rootfs");
        let vol = t.0.join("vol");
        fs::create_dir_all(rootfs.join("proc")).unwrap();
        fs::write(rootfs.join("proc/kcore"), "").unwrap();
        fs::create_dir_all(rootfs.join("proc/sys")).unwrap();
        fs::create_dir_all(&vol).unwrap();
        // A hostile image: the volume's destination is a symlink out of root.
        std::os::unix::fs::symlink("/../../../../etc", rootfs.join("data")).unwrap();

        let spec = sample(&rootfs, &vol);
        let sys = RecordingSyscall::new(&rootfs);
        setup(&sys, &spec, &host()).unwrap();

        let nosuid_ro_bind = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_STRICTATIME;
        let ro_path =
            MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME;
        let vol_shown = vol.display().to_string();
        let want: Vec<String> = vec![
            format!("mount none -> / flags={:#x}", MS_REC | MS_PRIVATE),
            format!("mount overlay -> $ROOT type=overlay flags=0x0 data=lowerdir=/layers/b:/layers/a,upperdir=up,workdir=work,userxattr"),
            format!("mount proc -> $ROOT/proc type=proc flags=0x0"),
            format!("mount tmpfs -> $ROOT/dev type=tmpfs flags={:#x} data=mode=755,size=65536k", MS_NOSUID | MS_STRICTATIME),
            format!("mount /dev/null -> $ROOT/dev/null flags={:#x}", MS_BIND),
            format!("mount /dev/zero -> $ROOT/dev/zero flags={:#x}", MS_BIND),
            format!("mount /dev/full -> $ROOT/dev/full flags={:#x}", MS_BIND),
            format!("mount /dev/random -> $ROOT/dev/random flags={:#x}", MS_BIND),
            format!("mount /dev/urandom -> $ROOT/dev/urandom flags={:#x}", MS_BIND),
            format!("mount /dev/tty -> $ROOT/dev/tty flags={:#x}", MS_BIND),
            format!("mount {} -> $ROOT/etc flags={:#x}", vol_shown, MS_BIND | MS_REC),
            format!("mount none -> $ROOT/etc flags={:#x}", nosuid_ro_bind),
            format!("mount /dev/null -> $ROOT/proc/kcore flags={:#x}", MS_BIND),
            format!("mount $ROOT/proc/sys -> $ROOT/proc/sys flags={:#x}", MS_BIND | MS_REC),
            format!("mount none -> $ROOT/proc/sys flags={:#x}", ro_path),
            "chdir $ROOT".into(),
            "pivot_root . .".into(),
            format!("umount2 . flags={}", MNT_DETACH),
            "chdir /".into(),
            "sethostname box".into(),
            "link_up lo".into(),
            "chdir /work/dir".into(),
            "setrlimit 7 1024 4096".into(),
            "keepcaps 1".into(),
            // setgroups is denied (single mapping): not called.
            "setresgid 0".into(),
            "setresuid 0".into(),
            "capset e=0x1 p=0x1 i=0x0".into(),
            "ambient_clear".into(),
            "no_new_privs".into(),
            "pdeathsig 9".into(),
        ];
        let got = summary(&sys.calls());
        let host_dev = ["null", "zero", "full", "random", "urandom", "tty"]
            .iter()
            .filter(|d| Path::new("/dev").join(d).exists())
            .count();
        assert_eq!(host_dev, 6, "test expects a host /dev");
        assert_eq!(got, want);

        // Every capability but CHOWN (0) and NET_BIND_SERVICE (10) dropped.
        let drops: Vec<String> = sys
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("capbset_drop"))
            .collect();
        assert_eq!(drops.len(), 41 - 2);
        assert!(
            !drops.contains(&"capbset_drop 0".to_string())
                && !drops.contains(&"capbset_drop 10".to_string())
        );

        // Mount points and the cwd were created inside the root only.
        assert!(rootfs.join("etc").is_dir() && rootfs.join("work/dir").is_dir());
        assert!(rootfs.join("dev/null").is_file());
        assert_eq!(
            fs::read_link(rootfs.join("dev/ptmx")).unwrap(),
            Path::new("pts/ptmx")
        );
    }

    #[test]
    fn overlay_fallbacks() {
        let t = TempDir::new("fallback");
        let rootfs = t.0.join("rootfs");
        let vol = t.0.join("vol");
        fs::create_dir_all(&rootfs).unwrap();
        fs::create_dir_all(&vol).unwrap();
        let mut spec = sample(&rootfs, &vol);
        spec.mounts.clear();

        // Two layers: no fallback, a clear error.
        let sys = RecordingSyscall::new(&rootfs);
        sys.fail_when("type=overlay", EPERM);
        let e = setup(&sys, &spec, &host()).unwrap_err();
        assert_eq!(
            e.message,
            "permission denied mounting overlay: Operation not permitted"
        );

        // One layer, read-only root: a bind mount of the layer.
        let ov = spec.root.overlay.as_mut().unwrap();
        ov.lower.truncate(1);
        spec.root.readonly = true;
        let sys = RecordingSyscall::new(&rootfs);
        sys.fail_when("userxattr", EINVAL);
        sys.fail_when("type=overlay", EINVAL);
        setup(&sys, &spec, &host()).unwrap();
        let calls = sys.calls();
        assert!(
            calls[1].ends_with(",userxattr") && !calls[2].ends_with(",userxattr"),
            "{:?}",
            calls
        );
        assert_eq!(
            calls[3],
            format!("mount /layers/b -> $ROOT flags={:#x}", MS_BIND | MS_REC)
        );
        assert!(
            calls
                .iter()
                .any(|c| c.starts_with("mount none -> / flags=") && c != &calls[0]),
            "root remounted ro"
        );
    }

    #[test]
    fn sysfs_falls_back_to_host_bind() {
        let t = TempDir::new("sysfs");
        let rootfs = t.0.join("rootfs");
        fs::create_dir_all(&rootfs).unwrap();
        let mut spec = Spec::parse(&sample_json()).unwrap();
        spec.root.path = rootfs.clone();
        spec.root.overlay = None;
        spec.mounts = vec![crate::spec::Mount {
            destination: "/sys".into(),
            kind: "sysfs".into(),
            source: "sysfs".into(),
            options: vec![
                "nosuid".into(),
                "noexec".into(),
                "nodev".into(),
                "ro".into(),
            ],
        }];
        let sys = RecordingSyscall::new(&rootfs);
        sys.fail_when("type=sysfs", EPERM);
        setup(&sys, &spec, &host()).unwrap();
        let calls = sys.calls();
        assert_eq!(
            calls[1],
            format!("mount $ROOT -> $ROOT flags={:#x}", MS_BIND | MS_REC)
        );
        assert_eq!(
            calls[3],
            format!("mount /sys -> $ROOT/sys flags={:#x}", MS_BIND | MS_REC)
        );
        assert!(
            calls[5].starts_with("mount none -> $ROOT/sys flags="),
            "{:?}",
            calls
        );
    }
}
