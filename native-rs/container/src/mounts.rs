//! The spec's `mounts`: OCI option parsing and mounting each entry inside
//! the new root (step 4 of the setup order).

use crate::dev;
use crate::error::{Context, Error, ErrorKind};
use crate::host::Host;
use crate::paths::{self, Create, Owners, Resolved, Source};
use crate::spec::Mount;
use crate::sys::consts::*;
use crate::mountinfo;
use crate::sys::errno::{EINVAL, ENOSYS, EPERM};
use crate::sys::Errno;
use crate::syscall::Syscall;
use std::os::raw::{c_int, c_ulong};
use std::os::unix::io::AsRawFd;
use std::path::Path;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// mount(2) flags, MS_BIND/MS_REC included.
    pub flags: c_ulong,
    /// MS_PRIVATE/MS_SHARED/… (+MS_REC), applied by a second mount call.
    pub propagation: c_ulong,
    /// `MOUNT_ATTR_*` for the mount and every mount below it (runc's `rro`),
    /// applied after the mount.
    pub recursive_attrs: u64,
    /// Everything else, for the filesystem (`mode=755`, `size=65536k`, …).
    pub data: Vec<String>,
    /// `idmap` (crun's and podman's name): with `--userns=auto`, a bind shown
    /// through the container's mapping (idmapped.rs); without it, the source's
    /// owners as the container's namespace maps the host's (root's are nobody).
    pub idmap: bool,
}

const ATIME_FLAGS: c_ulong = MS_NOATIME | MS_NODIRATIME | MS_RELATIME | MS_STRICTATIME;

/// OCI option → (clear the flag instead of setting it, flag).
fn flag_option(name: &str) -> Option<(bool, c_ulong)> {
    Some(match name {
        "defaults" => (false, 0),
        "ro" => (false, MS_RDONLY),
        "rw" => (true, MS_RDONLY),
        "suid" => (true, MS_NOSUID),
        "nosuid" => (false, MS_NOSUID),
        "dev" => (true, MS_NODEV),
        "nodev" => (false, MS_NODEV),
        "exec" => (true, MS_NOEXEC),
        "noexec" => (false, MS_NOEXEC),
        "sync" => (false, MS_SYNCHRONOUS),
        "async" => (true, MS_SYNCHRONOUS),
        "dirsync" => (false, MS_DIRSYNC),
        "remount" => (false, MS_REMOUNT),
        "mand" => (false, MS_MANDLOCK),
        "nomand" => (true, MS_MANDLOCK),
        "atime" => (true, MS_NOATIME),
        "noatime" => (false, MS_NOATIME),
        "diratime" => (true, MS_NODIRATIME),
        "nodiratime" => (false, MS_NODIRATIME),
        "relatime" => (false, MS_RELATIME),
        "norelatime" => (true, MS_RELATIME),
        "strictatime" => (false, MS_STRICTATIME),
        "nostrictatime" => (true, MS_STRICTATIME),
        "lazytime" => (false, MS_LAZYTIME),
        "nolazytime" => (true, MS_LAZYTIME),
        "silent" => (false, MS_SILENT),
        "loud" => (true, MS_SILENT),
        "bind" => (false, MS_BIND),
        "rbind" => (false, MS_BIND | MS_REC),
        _ => return None,
    })
}

fn propagation_option(name: &str) -> Option<c_ulong> {
    Some(match name {
        "private" => MS_PRIVATE,
        "rprivate" => MS_PRIVATE | MS_REC,
        "shared" => MS_SHARED,
        "rshared" => MS_SHARED | MS_REC,
        "slave" => MS_SLAVE,
        "rslave" => MS_SLAVE | MS_REC,
        "unbindable" => MS_UNBINDABLE,
        "runbindable" => MS_UNBINDABLE | MS_REC,
        _ => return None,
    })
}

/// Options with no meaning here (SELinux relabeling, podman's tmpcopyup).
fn ignored_option(name: &str) -> bool {
    matches!(name, "z" | "Z" | "tmpcopyup" | "notmpcopyup")
}

pub fn parse_options(options: &[String]) -> MountOptions {
    let mut out = MountOptions::default();
    for o in options {
        if let Some((clear, flag)) = flag_option(o) {
            if clear {
                out.flags &= !flag;
            } else {
                out.flags |= flag;
            }
        } else if let Some(p) = propagation_option(o) {
            out.propagation |= p;
        } else if o == "rro" {
            out.recursive_attrs |= MOUNT_ATTR_RDONLY;
        } else if o == "idmap" {
            out.idmap = true;
        } else if !ignored_option(o) {
            out.data.push(o.clone());
        }
    }
    out
}

/// Changes the per-mount flags of the bind mount at `target` to `flags`,
/// carrying over what the mount already has that we may not drop: in a user
/// namespace, nosuid/nodev/noexec/atime (and ro) of mounts inherited from
/// the host are locked, and a remount without them fails with EPERM.
pub fn remount_bind(
    sys: &dyn Syscall,
    target: &Path,
    flags: c_ulong,
    host: &Host,
) -> Result<(), Errno> {
    let current = sys.mount_flags(target)?;
    let mut keep = current & (MS_NOSUID | MS_NODEV | MS_NOEXEC);
    if flags & ATIME_FLAGS == 0 {
        // No atime flag at all reads back as strictatime.
        keep |= match current & ATIME_FLAGS {
            0 => MS_STRICTATIME,
            atime => atime,
        };
    }
    if host.in_user_ns {
        keep |= current & MS_RDONLY;
    }
    sys.mount(
        None,
        target,
        None,
        MS_REMOUNT | MS_BIND | flags | keep,
        None,
    )
}

/// In the parent, before clone: every bind source checked in the host's view
/// (`planters`: whose symlinks are not followed, see `paths::Owners`), by
/// mount index.
pub fn check_sources(mounts: &[Mount], planters: &Owners) -> Result<Vec<Option<Source>>, Error> {
    mounts
        .iter()
        .map(|m| {
            check_proc_destination(m)?;
            let opts = parse_options(&m.options);
            if !is_bind(m, &opts) {
                return Ok(None);
            }
            let step = || format!("bind-mounting {} on {}", m.source, m.destination);
            let source = Source::check(&m.source, planters).step(step)?;
            check_propagation(m, &opts, &source).step(step)?;
            Ok(Some(source))
        })
        .collect()
}

/// A bind that is to receive the host's later mounts below its source
/// (slave) needs a source on a mount that receives them (shared or slave);
/// one that is to be shared, a shared one. Docker refuses the others with
/// these words (daemon/oci_linux.go ensureShared, ensureSharedOrSlave)
/// rather than make a mount that silently propagates nothing.
fn check_propagation(m: &Mount, opts: &MountOptions, source: &Source) -> std::io::Result<()> {
    let wants_shared = opts.propagation & MS_SHARED != 0;
    if !wants_shared && opts.propagation & MS_SLAVE == 0 {
        return Ok(());
    }
    let refused = |text: String| std::io::Error::new(std::io::ErrorKind::PermissionDenied, text);
    let opened = paths::open_source(&source.path.display().to_string(), &Owners::everyone())?;
    if !source.is(opened.fd()) {
        return Err(refused(format!("{} changed after it was checked", source.path.display())));
    }
    let id = mountinfo::mount_id(opened.fd())?;
    let all = mountinfo::read()?;
    let mount = all.iter().rev().find(|e| e.id == id).ok_or_else(|| refused(format!("{}: its mount is not in mountinfo", source.path.display())))?;
    let (ok, kind) = if wants_shared {
        (mount.shared(), "shared")
    } else {
        (mount.shared() || mount.slave(), "shared or slave")
    };
    if ok {
        return Ok(());
    }
    Err(refused(format!(
        "path {} is mounted on {} but it is not a {} mount",
        m.source,
        mount.mount_point.display(),
        kind
    )))
}

/// Files of /proc a bind mount may replace (runc's list: what lxcfs and
/// friends provide per container).
const PROC_BIND_ALLOWED: [&str; 10] = [
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// /proc is the kernel's: only procfs goes there, and below it only a bind
/// of one of PROC_BIND_ALLOWED. Anything else (an image's `VOLUME /proc`, a
/// tmpfs over /proc/sys) would hide what the masks and read-only paths
/// guard, or put files of the container's choosing where the set-up expects
/// the kernel's (runc's CVE-2019-16884 and CVE-2019-19921 came that way).
fn check_proc_destination(m: &Mount) -> Result<(), Error> {
    let dest = paths::normalize(&m.destination);
    let allowed = if dest == "/proc" {
        m.kind == "proc"
    } else if dest.starts_with("/proc/") {
        is_bind(m, &parse_options(&m.options)) && PROC_BIND_ALLOWED.contains(&dest.as_str())
    } else {
        true
    };
    if allowed {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::Spec,
        format!(
            "cannot mount {} on {}: only the kernel's /proc goes there{}",
            if m.kind == "bind" || m.kind.is_empty() { m.source.as_str() } else { m.kind.as_str() },
            m.destination,
            if dest == "/proc" { "" } else { " (of /proc, only /proc/cpuinfo, meminfo, stat, … may be bind-mounted)" }
        ),
    ))
}

/// Mounts every entry in order. `sources`: from `check_sources`.
/// `terminal`: stdin is the container's terminal, to be shown as
/// /dev/console when /dev is ours. `peer_mnt`: the mount namespace `peer`
/// mounts come from (launch::Prepared).
pub fn mount_all(
    sys: &dyn Syscall,
    root: &Path,
    mounts: &[Mount],
    sources: &[Option<Source>],
    host: &Host,
    terminal: bool,
    peer_mnt: Option<c_int>,
) -> Result<(), Error> {
    mounts.iter().enumerate().try_for_each(|(i, m)| {
        let source = sources.get(i).and_then(|s| s.as_ref());
        let r = if m.kind == PEER_MOUNT {
            mount_from_peer(sys, root, m, peer_mnt)
        } else {
            mount_one(sys, root, m, source, host, terminal)
        };
        crate::trace::mark(&format!("child: mounted {} {}", m.kind, m.destination));
        r
    })
}

/// A bind mount the set-up adds itself (cgroup_view.rs): host directory
/// `source`, opened here, at `destination` with `options`, through the very
/// path the spec's bind mounts take.
pub(crate) fn bind_host_dir(sys: &dyn Syscall, root: &Path, source: &Path, destination: &str, options: &[&str], host: &Host) -> Result<(), Error> {
    let m = Mount {
        destination: destination.to_string(),
        kind: "bind".to_string(),
        source: source.display().to_string(),
        options: options.iter().map(|o| o.to_string()).collect(),
    };
    let checked = Source::check(&m.source, &Owners::everyone()).step(|| format!("opening {}", m.source))?;
    mount_one(sys, root, &m, Some(&checked), host, false)
}

/// A mount of the container whose IPC namespace this one joins (docker's
/// `--ipc container:X` shares X's /dev/shm): `source` is the path as X sees it.
pub const PEER_MOUNT: &str = "peer";

/// A bind mount cannot reach into another mount namespace, so the mount is
/// cloned from inside X's (open_tree; there our root is X's, so X's
/// symlinks resolve within X, never to the host) and attached here after
/// coming back. Only the child does this, before it pivots: it is
/// single-threaded and shares no fs state, as setns to a mount namespace
/// requires, and it holds every capability in X's user namespace, which it
/// joined.
fn mount_from_peer(sys: &dyn Syscall, root: &Path, m: &Mount, peer_mnt: Option<c_int>) -> Result<(), Error> {
    let step = || format!("mounting the shared container's {} on {}", m.source, m.destination);
    let peer = peer_mnt.ok_or_else(|| Error::new(ErrorKind::Spec, format!("{}: no container to take it from", step())))?;
    let target = paths::open_in_root(root, &m.destination, Create::Dir).step(|| format!("creating mount point {}", m.destination))?;
    let own = std::fs::File::open("/proc/self/ns/mnt").step(step)?;
    sys.setns(peer, CLONE_NEWNS).step(step)?;
    let tree = sys.open_tree_clone(Path::new(&m.source));
    // Back before anything else: the rest of the set-up works in our namespace.
    sys.setns(own.as_raw_fd(), CLONE_NEWNS).step(step)?;
    let tree = tree.step(step)?;
    let attached = sys.move_mount(tree, &target).step(step);
    crate::sys::fd::close(tree);
    attached
}

fn is_bind(m: &Mount, opts: &MountOptions) -> bool {
    m.kind == "bind" || opts.flags & MS_BIND != 0
}

/// Source and destination are opened first (see paths.rs) and mounted
/// through their descriptors, so neither can be swapped for a symlink between
/// the check and the mount.
fn mount_one(
    sys: &dyn Syscall,
    root: &Path,
    m: &Mount,
    checked: Option<&Source>,
    host: &Host,
    terminal: bool,
) -> Result<(), Error> {
    if m.kind == "cgroup" {
        return crate::cgroup_view::mount(sys, root, &m.destination, &host.cgroup_view, host);
    }
    let opts = parse_options(&m.options);
    let bind_step = || format!("bind-mounting {} on {}", m.source, m.destination);
    let source = match (is_bind(m, &opts), checked) {
        // A detached clone was checked against the source by the parent; the
        // container's root could not even look the path up.
        (true, Some(Source { detached: Some(tree), path, .. })) => {
            let copy = crate::sys::fd::dup(*tree).step(bind_step)?;
            Some(Resolved::adopt(copy, path.clone()))
        }
        (true, Some(c)) => Some(c.reopen().step(bind_step)?),
        (true, None) => return Err(Error::setup(format!("{}: the source was not checked", bind_step()))),
        (false, _) => None,
    };
    let detached = checked.and_then(|c| c.detached);
    let create = match &source {
        Some(s) if !s.metadata().step(bind_step)?.is_dir() => Create::File,
        _ => Create::Dir,
    };
    let target = paths::open_in_root(root, &m.destination, create)
        .step(|| format!("creating mount point {}", m.destination))?;
    match (&source, detached) {
        // The parent's clone of the checked source (idmapped where asked), attached here.
        (Some(_), Some(tree)) => sys.move_mount(tree, &target).step(bind_step)?,
        (Some(src), None) => match sys.mount(Some(&src.proc_path()), &target.proc_path(), None, MS_BIND | (opts.flags & MS_REC), None) {
            // The host's mounts are locked together in a user namespace's
            // copy: what one hides may not be uncovered by binding its parent alone.
            Err(EINVAL) if opts.flags & MS_REC == 0 => {
                return Err(Error::errno(
                    format!("{} without the mounts below it (bind-recursive=disabled; a container's user namespace may not uncover what they hide)", bind_step()),
                    EINVAL,
                ))
            }
            other => other.step(bind_step)?,
        },
        (None, _) => mount_fs(sys, root, m, &target, &opts, host)?,
    }
    // What follows acts on the new mount, which the descriptor (on the mount
    // point, under it) does not reach: look the destination up again.
    let extra = opts.flags & !(MS_BIND | MS_REC | MS_REMOUNT);
    let is_dev = m.kind == "tmpfs" && paths::normalize(&m.destination) == "/dev";
    if (source.is_some() && extra != 0) || opts.propagation != 0 || opts.recursive_attrs != 0 || is_dev {
        let verify = |now: &Resolved| sys.verify_mount(now, source.as_ref(), &target);
        let mounted = paths::reopen_mounted(root, &m.destination, &verify)
            .step(|| format!("mounting {}", m.destination))?;
        // A bind mount ignores every other flag: they take a remount.
        if source.is_some() && extra != 0 {
            remount_bind(sys, &mounted.proc_path(), extra, host)
                .step(|| format!("remounting {} with {}", m.destination, m.options.join(",")))?;
        }
        if opts.recursive_attrs != 0 {
            set_tree_attrs(sys, &mounted, opts.recursive_attrs, host, &m.destination)?;
        }
        // After the flags: a mount the host makes below a slave later
        // arrives as it is on the host (docker's `rro` is no different).
        if opts.propagation != 0 {
            sys.mount(None, &mounted.proc_path(), None, opts.propagation, None)
                .step(|| format!("setting propagation of {}", m.destination))?;
        }
        if is_dev {
            // A fresh tmpfs in our own mount namespace: nobody else can reach it.
            dev::populate(sys, mounted.path())?;
            if terminal {
                dev::bind_console(sys, mounted.path())?;
            }
        }
    }
    Ok(())
}

/// `rro` (the only recursive attribute tsbox's specs carry): mount_setattr
/// where the kernel has it (5.12+), else each mount of the tree remounted
/// read-only, after which none may be left writable.
fn set_tree_attrs(sys: &dyn Syscall, mounted: &Resolved, attrs: u64, host: &Host, destination: &str) -> Result<(), Error> {
    let step = || format!("making {} and the mounts below it read-only", destination);
    match sys.set_tree_attr(mounted, attrs) {
        // EPERM: a seccomp filter (of a runtime around us) that does not know the call.
        Err(ENOSYS) | Err(EPERM) if attrs == MOUNT_ATTR_RDONLY => {}
        other => return other.step(step),
    }
    let below = || -> std::io::Result<Vec<mountinfo::Entry>> {
        let id = mountinfo::mount_id(mounted.fd())?;
        let all = mountinfo::read()?;
        Ok(mountinfo::descendants(&all, id).into_iter().cloned().collect())
    };
    for e in below().step(step)? {
        remount_bind(sys, &e.mount_point, MS_RDONLY, host).step(|| format!("{}: remounting {}", step(), e.mount_point.display()))?;
    }
    match below().step(step)?.iter().find(|e| !e.readonly()) {
        Some(e) => Err(Error::setup(format!("{}: {} is still writable", step(), e.mount_point.display()))),
        None => Ok(()),
    }
}

fn mount_fs(
    sys: &dyn Syscall,
    root: &Path,
    m: &Mount,
    target: &Resolved,
    opts: &MountOptions,
    host: &Host,
) -> Result<(), Error> {
    let source = if m.source.is_empty() {
        m.kind.as_str()
    } else {
        m.source.as_str()
    };
    let attempt = |data: &[String]| {
        let data = data.join(",");
        let data = if data.is_empty() {
            None
        } else {
            Some(data.as_str())
        };
        sys.mount(
            Some(Path::new(source)),
            &target.proc_path(),
            Some(&m.kind),
            opts.flags,
            data,
        )
    };
    let step = || format!("mounting {} on {}", m.kind, m.destination);
    match attempt(&opts.data) {
        Ok(()) => Ok(()),
        // devpts gid=5 fails when gid 5 is not mapped (rootless): use the default.
        Err(EINVAL) if m.kind == "devpts" && opts.data.iter().any(|d| d.starts_with("gid=")) => {
            let data: Vec<String> = opts
                .data
                .iter()
                .filter(|d| !d.starts_with("gid="))
                .cloned()
                .collect();
            attempt(&data).step(step)
        }
        // A fresh sysfs needs a network namespace owned by our user
        // namespace; without one, show the host's read-only instead.
        Err(EPERM) if m.kind == "sysfs" => bind_host_instead(sys, "/sys", root, m, target, opts, host),
        // A fresh proc needs a PID namespace of our own (`--pid host` has none): the host's, as docker shows it.
        Err(EPERM) if m.kind == "proc" => bind_host_instead(sys, "/proc", root, m, target, opts, host),
        // Likewise mqueue needs an IPC namespace of our own.
        Err(EPERM) if m.kind == "mqueue" && Path::new("/dev/mqueue").is_dir() => {
            bind_host_instead(sys, "/dev/mqueue", root, m, target, opts, host)
        }
        Err(EPERM) if m.kind == "mqueue" => Err(Error::errno(
            format!(
                "mounting mqueue on {} (needs an ipc namespace of the container's own)",
                m.destination
            ),
            EPERM,
        )),
        Err(e) => Err(Error::errno(step(), e)),
    }
}

fn bind_host_instead(
    sys: &dyn Syscall,
    host_path: &str,
    root: &Path,
    m: &Mount,
    target: &Resolved,
    opts: &MountOptions,
    host: &Host,
) -> Result<(), Error> {
    let step = || format!("bind-mounting host {} on {}", host_path, m.destination);
    let source = paths::open_source(host_path, &Owners::everyone()).step(step)?;
    sys.mount(
        Some(&source.proc_path()),
        &target.proc_path(),
        None,
        MS_BIND | MS_REC,
        None,
    )
    .step(step)?;
    let verify = |now: &Resolved| sys.verify_mount(now, Some(&source), target);
    let mounted = paths::reopen_mounted(root, &m.destination, &verify).step(step)?;
    let flags = (opts.flags | MS_RDONLY) & !(MS_BIND | MS_REC | MS_REMOUNT);
    remount_bind(sys, &mounted.proc_path(), flags, host).step(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(list: &[&str]) -> MountOptions {
        parse_options(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn keeps_proc_for_the_kernel() {
        let m = |dest: &str, kind: &str, options: &[&str]| Mount {
            destination: dest.to_string(),
            kind: kind.to_string(),
            source: "/src".to_string(),
            options: options.iter().map(|o| o.to_string()).collect(),
        };
        assert!(check_proc_destination(&m("/proc", "proc", &[])).is_ok());
        assert!(check_proc_destination(&m("/proc/cpuinfo", "bind", &["rbind", "ro"])).is_ok());
        assert!(check_proc_destination(&m("/procfs", "tmpfs", &[])).is_ok());
        assert!(check_proc_destination(&m("/srv/proc", "bind", &["rbind"])).is_ok());
        for bad in [
            m("/proc", "bind", &["rbind"]),
            m("/proc/", "tmpfs", &[]),
            m("/proc/sys", "bind", &["rbind"]),
            m("/proc/./sys/../sys/kernel", "tmpfs", &[]),
            m("/proc/cpuinfo", "tmpfs", &[]),
            m("//proc//self", "bind", &["rbind"]),
        ] {
            let e = check_proc_destination(&bad).expect_err(&bad.destination);
            assert!(e.to_string().contains("only the kernel's /proc goes there"), "{}", e);
        }
    }

    #[test]
    fn parses_oci_options() {
        let o = opts(&["nosuid", "strictatime", "mode=755", "size=65536k"]);
        assert_eq!(o.flags, MS_NOSUID | MS_STRICTATIME);
        assert_eq!(o.data, ["mode=755", "size=65536k"]);
        assert_eq!(o.propagation, 0);

        let o = opts(&["rbind", "ro", "rprivate", "z"]);
        assert_eq!(o.flags, MS_BIND | MS_REC | MS_RDONLY);
        assert_eq!(o.propagation, MS_PRIVATE | MS_REC);
        assert!(o.data.is_empty());

        // Later options override earlier ones.
        assert_eq!(
            opts(&["ro", "rw", "noexec", "exec", "nodev"]).flags,
            MS_NODEV
        );
        assert_eq!(
            opts(&["newinstance", "ptmxmode=0666", "mode=0620", "gid=5"])
                .data
                .len(),
            4
        );
    }

    #[test]
    fn a_recursive_read_only_bind_gets_its_flags_then_the_tree_attribute_then_propagation() {
        use crate::paths::tests::TempDir;
        use crate::syscall::RecordingSyscall;
        let t = TempDir::new("rro");
        let (root, src) = (t.0.join("root"), t.0.join("src"));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&src).unwrap();
        let m = Mount {
            destination: "/p".to_string(),
            kind: "bind".to_string(),
            source: src.display().to_string(),
            options: ["rbind", "ro", "rro", "rprivate"].iter().map(|o| o.to_string()).collect(),
        };
        let o = parse_options(&m.options);
        assert_eq!((o.flags, o.recursive_attrs, o.propagation), (MS_BIND | MS_REC | MS_RDONLY, MOUNT_ATTR_RDONLY, MS_PRIVATE | MS_REC));
        let sources = check_sources(std::slice::from_ref(&m), &Owners::everyone()).unwrap();
        let host = Host { in_user_ns: false, setgroups_denied: false, last_cap: 40, unshare_cgroupns: false, cgroup_view: Vec::new() };
        let sys = RecordingSyscall::new(&root);
        mount_all(&sys, &root, std::slice::from_ref(&m), &sources, &host, false, None).unwrap();
        let calls: Vec<String> = sys.calls().into_iter().filter(|c| !c.starts_with("statvfs")).collect();
        assert_eq!(
            calls,
            [
                format!("mount {} -> $ROOT/p flags={:#x}", src.display(), MS_BIND | MS_REC),
                format!("mount none -> $ROOT/p flags={:#x}", MS_REMOUNT | MS_BIND | MS_RDONLY | MS_STRICTATIME),
                format!("mount_setattr $ROOT/p set={:#x} recursive", MOUNT_ATTR_RDONLY),
                format!("mount none -> $ROOT/p flags={:#x}", MS_PRIVATE | MS_REC),
            ]
        );
    }

    #[test]
    fn a_slave_or_shared_bind_needs_a_source_mount_that_propagates() {
        // /proc is a private mount on test hosts (no systemd): docker's refusal.
        for (propagation, kind) in [("rslave", "shared or slave"), ("shared", "shared")] {
            let m = Mount {
                destination: "/p".to_string(),
                kind: "bind".to_string(),
                source: "/proc".to_string(),
                options: vec!["rbind".to_string(), propagation.to_string()],
            };
            let mounted = mountinfo::read().unwrap().into_iter().rev().find(|e| e.mount_point == Path::new("/proc")).unwrap();
            let result = check_sources(std::slice::from_ref(&m), &Owners::everyone());
            match (mounted.shared(), mounted.slave(), result) {
                (false, false, Err(e)) => assert_eq!(e.message, format!("bind-mounting /proc on /p: path /proc is mounted on /proc but it is not a {} mount", kind)),
                (true, _, Ok(_)) => {}
                (false, true, r) => assert_eq!(r.is_ok(), propagation == "rslave"),
                (_, _, r) => panic!("{:?}", r),
            }
        }
    }

    #[test]
    fn remount_keeps_locked_flags() {
        use crate::syscall::RecordingSyscall;
        let host = Host {
            in_user_ns: true,
            setgroups_denied: false,
            last_cap: 40,
            unshare_cgroupns: false,
            cgroup_view: Vec::new(),
        };
        let sys = RecordingSyscall::new(Path::new("/r"))
            .with_mount_flags(MS_NOSUID | MS_NODEV | MS_RELATIME | MS_RDONLY);
        remount_bind(&sys, Path::new("/r/x"), MS_RDONLY, &host).unwrap();
        let want = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_RELATIME;
        assert_eq!(
            sys.calls()[1],
            format!("mount none -> $ROOT/x flags={:#x}", want)
        );

        let sys = RecordingSyscall::new(Path::new("/r"));
        remount_bind(&sys, Path::new("/r/x"), MS_NOEXEC, &host).unwrap();
        assert_eq!(
            sys.calls()[1],
            format!(
                "mount none -> $ROOT/x flags={:#x}",
                MS_REMOUNT | MS_BIND | MS_NOEXEC | MS_STRICTATIME
            )
        );
    }
}
