//! Starting a container: the whole sequence of docs/architecture.md "Setup
//! order" in one place. `spawn` is the parent side, `setup` the child side
//! up to execve (through `Syscall`, so its order is unit tested).

use crate::error::{Context, Error};
use crate::exec;
use crate::host::{self, Host};
use crate::idmap;
use crate::namespaces::{self, NamespaceKind};
use crate::paths::{self, Create};
use crate::spec::Spec;
use crate::sys::consts::SIGKILL;
use crate::sys::errno::{EINVAL, ENOSPC, EPERM, EUSERS};
use crate::sys::process::{self, Forked};
use crate::sys::{cred, fd, signal, Errno};
use crate::syscall::{LinuxSyscall, Syscall};
use crate::{caps, masked, mounts, network, pivot, rlimits, rootfs, terminal, user};
use std::os::raw::c_int;
use std::path::Path;

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
    let host = Host::detect(&spec);

    // sync: parent → child "maps are written, go on"; its EOF before that
    // byte means the parent died. error: child → parent, CLOEXEC, so a
    // successful execve closes it and the parent reads EOF.
    let (sync_r, sync_w) = fd::pipe().step(|| "creating a pipe")?;
    let (err_r, err_w) = match fd::pipe().step(|| "creating a pipe") {
        Ok(p) => p,
        Err(e) => {
            fd::close(sync_r);
            fd::close(sync_w);
            return Err(e);
        }
    };

    // 1. New namespaces, all at once: the user namespace is created first by
    //    the kernel and owns the others, which is what lets an unprivileged
    //    user create them.
    let pid = match process::clone_fork(namespaces::clone_flags(&spec)) {
        Ok(Forked::Child) => {
            fd::close(sync_w);
            fd::close(err_r);
            child(&spec, host, sync_r, err_w)
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            [sync_r, sync_w, err_r, err_w]
                .iter()
                .for_each(|&fd| fd::close(fd));
            return Err(clone_error(&spec, e));
        }
    };
    on_clone(pid);
    fd::close(sync_r);
    fd::close(err_w);
    let result = parent(&spec, pid, sync_w, err_r);
    fd::close(sync_w);
    fd::close(err_r);
    result.map(|()| pid)
}

fn clone_error(spec: &Spec, e: Errno) -> Error {
    if spec.creates_namespace(NamespaceKind::User) && [EPERM, EINVAL, ENOSPC, EUSERS].contains(&e) {
        Error::errno(
            "creating a user namespace (are unprivileged user namespaces enabled?)",
            e,
        )
    } else {
        Error::errno("creating the container's namespaces", e)
    }
}

fn parent(spec: &Spec, pid: i32, sync_w: c_int, err_r: c_int) -> Result<(), Error> {
    let abort = |e: Error| {
        let _ = process::kill(pid, SIGKILL);
        let _ = process::wait(pid);
        Err(e)
    };
    // 2. The child's id maps, written from outside its user namespace.
    if let Err(e) = idmap::write_mappings(pid, spec) {
        return abort(e);
    }
    // Release the child. The write end stays open until the verdict: the
    // child checks it to know we are still alive right before execve.
    if let Err(e) = fd::write_all(sync_w, b"1").step(|| "releasing the container process") {
        return abort(e);
    }
    let report = match fd::read_to_end(err_r).step(|| "waiting for the container process") {
        Ok(r) => r,
        Err(e) => return abort(e),
    };
    if report.is_empty() {
        return Ok(()); // EOF: execve succeeded and closed the pipe
    }
    let _ = process::wait(pid);
    let text = String::from_utf8_lossy(&report);
    Err(Error::from_json(&text)
        .unwrap_or_else(|| Error::setup(format!("container setup failed: {}", text))))
}

/// The child: never returns. Any failure is sent on the error pipe as JSON
/// and ends the process with the error's exit code.
fn child(spec: &Spec, mut host: Host, sync_r: c_int, err_w: c_int) -> ! {
    // Dispositions and the mask survive execve (Rust ignores SIGPIPE; the
    // runtime blocks forwarded signals around clone): start clean.
    signal::reset_all();
    let err = child_until_exec(spec, &mut host, sync_r);
    let _ = fd::write_all(err_w, err.to_json().to_string().as_bytes());
    process::exit_now(err.exit_code())
}

/// Returns only with the error that stopped it.
fn child_until_exec(spec: &Spec, host: &mut Host, sync_r: c_int) -> Error {
    // Die with the helper from the very start; re-armed before execve since
    // the uid switch clears it.
    if let Err(e) = cred::set_pdeathsig(SIGKILL).step(|| "setting the parent-death signal") {
        return e;
    }
    // Wait for the id maps. EOF instead of the byte: the parent is gone (it
    // may have died before our PDEATHSIG was set) and nobody waits for us.
    let mut byte = [0u8; 1];
    if fd::read(sync_r, &mut byte) != Ok(1) {
        process::exit_now(1);
    }
    host.setgroups_denied = host::setgroups_denied();

    if let Err(e) = setup(&LinuxSyscall, spec, host) {
        return e;
    }
    // If the parent died before PDEATHSIG was re-armed, nothing would kill
    // us: it holds the sync pipe open for as long as it lives.
    if fd::peer_closed(sync_r) {
        process::exit_now(1);
    }
    // Nothing of the helper's (status fd, pipes) may reach the container.
    if let Err(e) = fd::cloexec_from(3).step(|| "closing inherited file descriptors") {
        return e;
    }
    exec::exec(&spec.process)
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
    sys.chdir(Path::new(&spec.process.cwd))
        .step(|| format!("entering the working directory {}", spec.process.cwd))?;
    if spec.process.terminal {
        terminal::attach(sys, spec.process.console_size)?;
    }
    // Limits while we still hold CAP_SYS_RESOURCE to raise hard limits.
    rlimits::apply(sys, &spec.process.rlimits)?;
    // Capabilities: bounding set while we hold CAP_SETPCAP; KEEPCAPS so the
    // permitted set survives a switch away from uid 0; then the final sets.
    // No `capabilities` in the spec means none at all.
    let caps = spec.process.capabilities.unwrap_or_default();
    caps::limit_bounding(sys, caps.bounding, host.last_cap)?;
    sys.set_keepcaps(true)
        .step(|| "keeping capabilities across the uid switch")?;
    user::switch(sys, &spec.process.user, host.setgroups_denied)?;
    caps::apply(sys, &caps, host.last_cap)?;
    if spec.process.no_new_privileges {
        sys.set_no_new_privs().step(|| "setting no_new_privs")?;
    }
    // The uid switch cleared the parent-death signal.
    sys.set_pdeathsig(SIGKILL)
        .step(|| "setting the parent-death signal")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;
    use crate::spec::tests::sample_json;
    use crate::sys::consts::*;
    use crate::syscall::RecordingSyscall;
    use std::fs;

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
