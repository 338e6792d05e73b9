//! Starting a container: the whole sequence of docs/architecture.md "Setup
//! order" in one place. `spawn` is the parent side, `setup` the child side
//! up to execve (through `Syscall`, so its order is unit tested).

use crate::cgroups::{placement, Placement};
use crate::error::{Context, Error, ErrorKind};
use crate::handoff::{self, Pipes};
use crate::host::{self, Host};
use crate::idmap;
use crate::namespaces::{self, NamespaceKind};
use crate::nest::Nest;
use crate::paths::{self, Create, Owners, Source};
use crate::seccomp::Filter;
use crate::spec::{Process, Spec};
use crate::sys::consts::{CLONE_NEWCGROUP, O_CLOEXEC, O_RDONLY};
use crate::sys::process::{self, Forked};
use crate::sys::{cred, Errno};
use crate::syscall::{LinuxSyscall, Syscall};
use crate::{idmapped, masked, mounts, net, network, oom_score, pivot, process_setup, rlimits, rootfs, spare};
use std::os::raw::c_int;
use std::path::{Path, PathBuf};

/// Starts the container process described by `spec` and returns its host pid
/// once its execve has succeeded. `on_clone` runs in the parent right after
/// clone with the child's pid (before anything else, so signals can be
/// forwarded from then on). `cgroup`: the container's, which the process
/// starts in (cgroups/: made, and its files opened, by the caller, with the
/// credentials that may move a process into it).
///
/// Must be called from a single-threaded process: the child runs on a
/// fork-like copy of it and uses std freely.
pub fn spawn(
    spec: &Spec,
    cgroup: Option<&Placement>,
    on_clone: &mut dyn FnMut(i32),
) -> Result<i32, Error> {
    spawn_compiled(spec, cgroup, on_clone, None)
}

/// [`spawn`] from a nest (nest.rs) if there is one that can hold this
/// container's user namespace: then its id maps need no setuid helper. This
/// process stays in the nest afterwards.
pub fn spawn_nested(
    spec: &Spec,
    cgroup: Option<&Placement>,
    on_clone: &mut dyn FnMut(i32),
    nest: Option<&Nest>,
) -> Result<i32, Error> {
    spawn_with(spec, cgroup, on_clone, None, None, nest)
}

/// [`spawn`] with `linux.seccomp` compiled already (`filter`: what
/// `Filter::compile` made of this spec's profile; the vm agent compiles a
/// profile once for all its containers and their execs). None: compiled here.
pub fn spawn_compiled(
    spec: &Spec,
    cgroup: Option<&Placement>,
    on_clone: &mut dyn FnMut(i32),
    filter: Option<&Filter>,
) -> Result<i32, Error> {
    spawn_with(spec, cgroup, on_clone, filter, None, None)
}

/// [`spawn_compiled`] of a spare container (spare.rs): set up now, its
/// process read from `late` once it is. Returns, as a container's start
/// does, after the execve of that process: it waits as long as the spare does.
pub fn spawn_spare(
    spec: &Spec,
    cgroup: Option<&Placement>,
    on_clone: &mut dyn FnMut(i32),
    filter: Option<&Filter>,
    late: c_int,
) -> Result<i32, Error> {
    spawn_with(spec, cgroup, on_clone, filter, Some(late), None)
}

fn spawn_with(
    spec: &Spec,
    cgroup: Option<&Placement>,
    on_clone: &mut dyn FnMut(i32),
    filter: Option<&Filter>,
    late: Option<c_int>,
    nest: Option<&Nest>,
) -> Result<i32, Error> {
    // Existing namespaces (linux.namespaces[].path) are joined by the parent,
    // so the child inherits them; user first, mount last.
    namespaces::join_existing(spec)?;

    // A root path free of symlinks: resolution and pivot work on it literally.
    let mut spec = spec.clone();
    spec.root.path = std::fs::canonicalize(&spec.root.path)
        .step(|| format!("root.path {}", spec.root.path.display()))?;
    // The network's /etc files first: they are bind sources, checked in
    // prepare (the keeper fills in the addresses later, in place).
    if let Some(net) = &spec.network {
        net::files::write_all(net, &[])?;
    }
    let prepared = prepare(&mut spec, filter)?;
    crate::trace::mark("launch: prepared");
    let mut host = Host::detect(&spec);
    host.cgroup_view = cgroup.map(|p| p.view().to_vec()).unwrap_or_default();
    crate::trace::mark("launch: host detected");
    let pipes = Pipes::open()?;
    let flags = namespaces::clone_flags(&spec);
    crate::trace::mark("launch: pipes open");

    // With networks to join, the network keeper (net/keeper.rs) clones the
    // container from the namespaces the bridges live in, writes its id maps
    // and attaches it; it stays to serve published ports and tears the
    // network down at the end. Without, the /etc files above are all.
    let keeper_net = spec.network.as_ref().filter(|n| !n.attach.is_empty());
    // Everything above saw files as the host does; from here on we may be
    // the nest's root. (The keeper writes its maps from its holder's.)
    let nested = match nest.filter(|_| keeper_net.is_none()) {
        Some(n) => match n.enter_for(&spec) {
            Ok(entered) => entered,
            Err(e) => {
                pipes.close();
                return Err(e);
            }
        },
        None => None,
    };

    // 1. New namespaces, all at once: the user namespace is created first by
    //    the kernel and owns the others, which is what lets an unprivileged
    //    user create them. The child starts in its cgroup where the kernel
    //    can (clone3 on v2); otherwise it is moved there below, and makes its
    //    cgroup namespace itself once it is there. The keeper always clones
    //    plainly (the cgroup's descriptors are ours).
    let (forked, moved) = match keeper_net {
        Some(net) => {
            let child_pipes = pipes.clone();
            let keeper_flags = if cgroup.is_some() { flags & !CLONE_NEWCGROUP } else { flags };
            host.unshare_cgroupns = cgroup.is_some() && flags & CLONE_NEWCGROUP != 0;
            let (spec, prepared, host) = (&spec, &prepared, &host);
            let child = move || child_pipes.into_child().exec_prepared(|sync_r| child_setup(spec, prepared, host, cgroup, sync_r, late));
            match net::keeper::start(spec, net, keeper_flags, &pipes, child) {
                Ok(pid) => (Ok(Forked::Parent(pid)), cgroup.is_some()),
                Err(e) => {
                    pipes.close();
                    return Err(e);
                }
            }
        }
        None => {
            let (forked, moved) = clone_into(flags, cgroup);
            host.unshare_cgroupns = moved && flags & CLONE_NEWCGROUP != 0;
            (forked, moved)
        }
    };
    let pid = match forked {
        Ok(Forked::Child) => {
            crate::trace::mark("child: cloned");
            pipes.into_child().exec_prepared(|sync_r| child_setup(&spec, &prepared, &host, cgroup, sync_r, late))
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => {
            pipes.close();
            return Err(clone_error(&spec, e));
        }
    };
    on_clone(pid);
    crate::trace::mark("launch: cloned");
    let parent = pipes.into_parent();
    // 2. Into its v2 cgroup (unless it started there; v1's it enters itself
    //    once released: placement.rs), the child's id maps,
    //    written from outside its user namespace (from the nest directly;
    //    by the keeper, which has done so already); then the child is
    //    released. The sync pipe stays open until the verdict: the child
    //    checks it to know we are still alive right before execve.
    let placed = match (cgroup, moved) {
        (Some(p), true) => p.add(pid),
        _ => Ok(()),
    };
    let ready = placed
        .and_then(|()| match (&nested, keeper_net) {
            (_, Some(_)) => Ok(()),
            // Root in the nest, we write them directly.
            (Some(n), None) => idmap::write_both(pid, &n.uid_mappings, &n.gid_mappings, true),
            (None, None) => idmap::write_mappings(pid, &spec),
        })
        // The child's alone, never ours (nor the keeper's): oom_score.rs.
        .and_then(|()| oom_score::apply_to(pid, spec.process.oom_score_adj))
        .and_then(|()| {
            rlimits::preset(pid, &spec.process.rlimits);
            parent.release()
        });
    crate::trace::mark("launch: released");
    let verdict = parent.verdict(pid, ready);
    crate::trace::mark("launch: verdict");
    verdict.map(|()| pid).map_err(|e| {
        if keeper_net.is_some() {
            // The keeper takes the network down once it sees the container gone.
            process::reap_all_children();
        }
        e
    })
}

/// The child, released by the parent (its id maps written): steps 3–7.
/// Returns the process to execve: the spec's, or a spare's from `late`.
fn child_setup(
    spec: &Spec,
    prepared: &Prepared,
    host: &Host,
    cgroup: Option<&Placement>,
    sync_r: c_int,
    late: Option<c_int>,
) -> Result<Process, Error> {
    handoff::wait_for_release(sync_r);
    crate::trace::mark("child: released");
    // Into its v1 cgroups (placement.rs: by itself, it is cheaper), before its cgroup namespace is made.
    if let Some(p) = cgroup {
        p.enter()?;
    }
    let mut host = host.clone();
    host.setgroups_denied = host::setgroups_denied();
    // Until its execve this is our code in the container's PID namespace,
    // which may be shared with other containers (a linux.namespaces path):
    // its /proc/PID/exe must stay closed to them (CVE-2019-5736). Not
    // earlier: an unprivileged parent writes our uid_map, which non-dumpable
    // would give to root.
    cred::set_dumpable(false).step(|| "making the container process non-dumpable")?;
    if spec.linux.userns_auto.is_some() {
        let mut spec = spec.clone();
        idmapped::become_container_root(&mut spec)?;
        return setup_then_process(&LinuxSyscall, &spec, prepared, &host, late);
    }
    setup_then_process(&LinuxSyscall, spec, prepared, &host, late)
}

fn setup_then_process(sys: &dyn Syscall, spec: &Spec, prepared: &Prepared, host: &Host, late: Option<c_int>) -> Result<Process, Error> {
    let from = match late {
        None => return setup(sys, spec, prepared, host).map(|()| spec.process.clone()),
        Some(fd) => fd,
    };
    setup_container(sys, spec, prepared, host)?;
    let process = spare::receive(from, &spec.process)?;
    // Its working directory, made as `setup` makes the spec's (inside the root, "/" now).
    make_cwd(Path::new("/"), &process.cwd)?;
    process_setup::apply(sys, &process, host, prepared.filter.as_ref())?;
    Ok(process)
}

/// What the parent prepares before clone for the child's [`setup`].
#[derive(Debug, Default)]
pub struct Prepared {
    /// The spec's bind sources as `mounts::check_sources` found them, by
    /// mount index (with idmapped clones under --userns=auto).
    pub sources: Vec<Option<Source>>,
    /// The compiled `linux.seccomp`.
    pub filter: Option<Filter>,
    /// Idmapped clones of the image layers and the directories to attach them
    /// on, which the spec's overlay names as its lower layers (--userns=auto).
    pub lowers: Vec<(c_int, PathBuf)>,
    /// The mount namespace of the container whose IPC namespace this one
    /// joins, when the spec takes a mount from it (mounts::PEER_MOUNT).
    pub peer_mnt: Option<c_int>,
}

/// The parent's copies of the descriptors go with it (the child has its own
/// from the clone): a long-lived helper or monitor launches many containers.
impl Drop for Prepared {
    fn drop(&mut self) {
        for (tree, _) in &self.lowers {
            crate::sys::fd::close(*tree);
        }
        if let Some(fd) = self.peer_mnt {
            crate::sys::fd::close(fd);
        }
    }
}

/// In the parent, before clone: the id slice of --userns=auto, bind sources
/// checked where file owners are seen as the host sees them (paths::Owners;
/// the child reopens and compares), the seccomp program, idmapped mounts.
fn prepare(spec: &mut Spec, compiled: Option<&Filter>) -> Result<Prepared, Error> {
    if let Some(auto) = spec.linux.userns_auto {
        // The lock stays open until this supervisor exits: the slice is the container's while it runs.
        let _lock = crate::userns_auto::take(&auto, spec)?;
    }
    crate::sysctl::check(&spec.linux.sysctl, |kind| spec.creates_namespace(kind))?;
    let mut sources = mounts::check_sources(&spec.mounts, &symlink_planters(spec))?;
    crate::trace::mark("launch: sources checked");
    let filter = match (&spec.linux.seccomp, compiled) {
        (Some(_), Some(f)) => Some(f.clone()),
        (profile, _) => profile.as_ref().map(Filter::compile).transpose()?,
    };
    crate::trace::mark("launch: filter compiled");
    let lowers = if spec.linux.userns_auto.is_some() {
        idmapped::prepare(spec, &mut sources)?
    } else {
        Vec::new()
    };
    let peer_mnt = match spec.mounts.iter().any(|m| m.kind == mounts::PEER_MOUNT) {
        true => Some(open_peer_mnt(spec)?),
        false => None,
    };
    Ok(Prepared {
        sources,
        filter,
        lowers,
        peer_mnt,
    })
}

/// The mount namespace beside the IPC namespace the spec joins
/// (`/proc/PID/ns/ipc` → `/proc/PID/ns/mnt`), opened while /proc is the host's.
fn open_peer_mnt(spec: &Spec) -> Result<c_int, Error> {
    let ipc = spec.linux.namespaces.iter().find(|ns| ns.kind == NamespaceKind::Ipc).and_then(|ns| ns.path.as_ref());
    let mnt = ipc.and_then(|p| p.parent()).map(|dir| dir.join("mnt"));
    let mnt = mnt.ok_or_else(|| Error::new(ErrorKind::Spec, "a peer mount needs the IPC namespace of a container to join"))?;
    crate::sys::fd::open_path(&mnt, O_RDONLY | O_CLOEXEC, 0).step(|| format!("opening {}", mnt.display()))
}

/// Whose files this container's processes can write: the host side of its
/// uid mappings, everybody without a user namespace of its own.
pub(crate) fn symlink_planters(spec: &Spec) -> Owners {
    if !spec.creates_namespace(NamespaceKind::User) {
        return Owners::everyone();
    }
    let ranges = spec.linux.uid_mappings.iter().map(|m| (m.host_id, m.size));
    Owners::new(Some(ranges.collect()))
}

/// The clone of step 1: into the cgroup with clone3 where the kernel has
/// it; else a plain clone, without the cgroup namespace when there is a
/// cgroup to move the child into first. `moved`: the caller must move it.
fn clone_into(flags: c_int, placement: Option<&Placement>) -> (Result<Forked, Errno>, bool) {
    let p = match placement {
        Some(p) => p,
        None => return (process::clone_fork(flags), false),
    };
    if let Some(fd) = p.clone_fd() {
        match process::clone3_into_cgroup(flags, fd) {
            Err(e) if placement::clone3_cannot_place(e) => {}
            done => return (done, false),
        }
    }
    (process::clone_fork(flags & !CLONE_NEWCGROUP), true)
}

pub fn clone_error(spec: &Spec, e: Errno) -> Error {
    match crate::userns_refusal::hint(e).filter(|_| spec.creates_namespace(NamespaceKind::User)) {
        Some(why) => Error::errno(format!("creating a user namespace ({})", why), e),
        None => Error::errno("creating the container's namespaces", e),
    }
}

/// Child side, steps 3–7 of the setup order, ending right before execve.
pub fn setup(sys: &dyn Syscall, spec: &Spec, prepared: &Prepared, host: &Host) -> Result<(), Error> {
    setup_container(sys, spec, prepared, host)?;
    process_setup::apply(sys, &spec.process, host, prepared.filter.as_ref())
}

/// The process's working directory under `root`, made if missing, never through a symlink out of it.
fn make_cwd(root: &Path, cwd: &str) -> Result<(), Error> {
    paths::open_in_root(root, cwd, Create::Dir)
        .map(|_| ())
        .step(|| format!("creating the working directory {}", cwd))
}

/// The image's layers idmapped by the parent (--userns=auto, idmapped.rs),
/// attached where the spec's overlay names them; after make_rslave.
pub fn attach_lowers(sys: &dyn Syscall, lowers: &[(c_int, PathBuf)]) -> Result<(), Error> {
    for (tree, dir) in lowers {
        let at = paths::open_source(&dir.display().to_string(), &Owners::everyone())
            .step(|| format!("attaching an idmapped layer on {}", dir.display()))?;
        sys.move_mount(*tree, &at)
            .step(|| format!("attaching an idmapped layer on {}", dir.display()))?;
    }
    Ok(())
}

/// Steps 3–7 but the process's own set-up: what a spare container does ahead.
fn setup_container(sys: &dyn Syscall, spec: &Spec, prepared: &Prepared, host: &Host) -> Result<(), Error> {
    let root = &spec.root.path;

    // 2b. The cgroup namespace, rooted at the cgroup the parent moved us into.
    if host.unshare_cgroupns {
        sys.unshare(CLONE_NEWCGROUP)
            .step(|| "creating the cgroup namespace")?;
    }

    // 2c. Kernel parameters of its own namespaces, through the host's /proc
    //     still mounted here (the container's /proc/sys is read-only).
    crate::sysctl::apply(sys, &spec.linux.sysctl)?;

    // 3. Nothing below may propagate to the host's mounts. Then the image
    //    (its layers idmapped first under --userns=auto).
    rootfs::make_rslave(sys)?;
    attach_lowers(sys, &prepared.lowers)?;
    rootfs::mount_root(sys, &spec.root, host)?;
    crate::trace::mark("child: root mounted");

    // 4. The spec's mounts, destinations resolved inside the root so a
    //    symlink in the image cannot send a mount onto the host; sources
    //    are the files the parent checked.
    mounts::mount_all(sys, root, &spec.mounts, &prepared.sources, host, spec.process.terminal, prepared.peer_mnt)?;
    // The cwd is created the same way (it may lie in a volume just mounted).
    make_cwd(root, &spec.process.cwd)?;

    crate::trace::mark("child: mounts done");
    // 5. Hide what the container must not see or change (under /proc, /sys).
    masked::mask(sys, root, &spec.linux.masked_paths)?;
    masked::make_readonly(sys, root, &spec.linux.readonly_paths, host)?;

    // 6. Into the new root; the host's tree is detached, unreachable after.
    pivot::pivot_root(sys, root)?;
    crate::trace::mark("child: pivoted");
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
    crate::trace::mark("child: process setup");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;
    use crate::spec::tests::sample_json;
    use crate::sys::consts::*;
    use crate::syscall::RecordingSyscall;
    use crate::sys::errno::{EINVAL, EPERM};
    use std::fs;
    use std::path::Path;

    fn sample(rootfs: &Path, vol: &Path) -> Spec {
        let mut spec = Spec::parse(&sample_json()).unwrap();
        spec.root.path = rootfs.to_path_buf();
        spec.mounts[2].source = vol.display().to_string();
        spec
    }

    fn sources(spec: &Spec) -> Vec<Option<Source>> {
        mounts::check_sources(&spec.mounts, &symlink_planters(spec)).unwrap()
    }

    fn unfiltered(spec: &Spec) -> Prepared {
        let mut prepared = Prepared::default();
        prepared.sources = sources(spec);
        prepared
    }

    fn host() -> Host {
        Host {
            in_user_ns: true,
            setgroups_denied: true,
            last_cap: 40,
            unshare_cgroupns: false,
            cgroup_view: Vec::new(),
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
        let filter = Filter::compile(spec.linux.seccomp.as_ref().unwrap()).unwrap();
        let prepared = Prepared {
            sources: sources(&spec),
            filter: Some(filter.clone()),
            lowers: Vec::new(),
            peer_mnt: None,
        };
        setup(&sys, &spec, &prepared, &host()).unwrap();

        let nosuid_ro_bind = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_STRICTATIME;
        let ro_path =
            MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_STRICTATIME;
        let vol_shown = vol.display().to_string();
        let want: Vec<String> = vec![
            format!("mount none -> / flags={:#x}", MS_REC | MS_SLAVE),
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
            "cloexec_from 3".into(),
            "setsid".into(),
            "enter_dir /work/dir".into(),
            "umask 22".into(),
            "setrlimit 7 1024 4096".into(),
            "keepcaps 1".into(),
            "join_session_keyring".into(),
            // setgroups is denied (single mapping): not called.
            "setresgid 0".into(),
            "setresuid 0".into(),
            "capset e=0x1 p=0x1 i=0x0".into(),
            "ambient_clear".into(),
            "no_new_privs".into(),
            "pdeathsig 9".into(),
            // With no_new_privs: the filter last, right before execve.
            format!("seccomp {} instructions flags=0", filter.program.len()),
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

    /// The sample spec without its mounts, over a fresh rootfs (and volume dir).
    fn without_mounts(tag: &str) -> (TempDir, std::path::PathBuf, Spec) {
        let t = TempDir::new(tag);
        let rootfs = t.0.join("rootfs");
        let vol = t.0.join("vol");
        fs::create_dir_all(&rootfs).unwrap();
        fs::create_dir_all(&vol).unwrap();
        let mut spec = sample(&rootfs, &vol);
        spec.mounts.clear();
        (t, rootfs, spec)
    }

    /// Moved into its cgroup by the parent (v1), the child makes its cgroup
    /// namespace first, so it is rooted at the container's cgroup.
    #[test]
    fn cgroup_namespace_after_the_move() {
        let (_t, rootfs, spec) = without_mounts("cgns");
        let mut h = host();
        h.unshare_cgroupns = true;
        let sys = RecordingSyscall::new(&rootfs);
        setup(&sys, &spec, &unfiltered(&spec), &h).unwrap();
        let calls = sys.calls();
        assert_eq!(calls[0], "unshare cgroup");
        assert!(calls[1].starts_with("mount none -> / "), "{:?}", calls);
        let sys = RecordingSyscall::new(&rootfs);
        setup(&sys, &spec, &unfiltered(&spec), &host()).unwrap();
        assert!(!sys.calls().iter().any(|c| c.starts_with("unshare")));
    }

    #[test]
    fn overlay_fallbacks() {
        let (_t, rootfs, mut spec) = without_mounts("fallback");

        // Two layers: no fallback, a clear error.
        let sys = RecordingSyscall::new(&rootfs);
        sys.fail_when("type=overlay", EPERM);
        let e = setup(&sys, &spec, &unfiltered(&spec), &host()).unwrap_err();
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
        setup(&sys, &spec, &unfiltered(&spec), &host()).unwrap();
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
        setup(&sys, &spec, &unfiltered(&spec), &host()).unwrap();
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
