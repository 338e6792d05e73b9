//! The container's `/` before pivot (step 3) and its read-only remount after.

use crate::error::{Context, Error};
use crate::host::Host;
use crate::mounts::remount_bind;
use crate::spec::{Overlay, Root};
use crate::sys::consts::*;
use crate::sys::errno::{EINVAL, EPERM};
use crate::sys::Errno;
use crate::syscall::Syscall;
use std::os::raw::c_ulong;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Our mount namespace starts as a copy of the host's, its shared mounts in
/// the host's peer groups. Made a slave of them (runc's default
/// rootfsPropagation, `rslave`) before anything is mounted: nothing we mount
/// or unmount below (the detach of the old root included) propagates to the
/// host, while the host's mounts still reach a bind that asks for them
/// (`-v SRC:DST:rslave`). A mount the spec makes shared gets a peer group
/// of its own, in this namespace only.
pub fn make_rslave(sys: &dyn Syscall) -> Result<(), Error> {
    sys.mount(None, Path::new("/"), None, MS_REC | MS_SLAVE, None)
        .step(|| "making / rslave")
}

/// Mounts the image at `root.path`: overlayfs of the layers, or a bind
/// mount of `root.path` onto itself, so it is a mount point pivot_root takes.
pub fn mount_root(sys: &dyn Syscall, root: &Root, host: &Host) -> Result<(), Error> {
    match &root.overlay {
        Some(ov) => mount_overlay(sys, root, ov, host),
        None => sys
            .mount(Some(&root.path), &root.path, None, MS_BIND | MS_REC, None)
            .step(|| format!("bind-mounting {} onto itself", root.path.display())),
    }
}

/// After pivot_root. Only the per-mount flag changes, so the locked
/// nosuid/nodev flags of a user-namespace mount are carried over.
pub fn remount_root_readonly(sys: &dyn Syscall, host: &Host) -> Result<(), Error> {
    remount_bind(sys, Path::new("/"), MS_RDONLY, host).step(|| "remounting / read-only")
}

fn mount_overlay(sys: &dyn Syscall, root: &Root, ov: &Overlay, host: &Host) -> Result<(), Error> {
    // The overlay is mounted here, inside the user namespace: that is what
    // makes it possible without privilege (kernel 5.11+). There, trusted.*
    // xattrs are off limits, so `userxattr` keeps overlay metadata in user.*;
    // kernels that predate it reject the option with EINVAL: retry without.
    let attempts: &[bool] = if host.in_user_ns {
        &[true, false]
    } else {
        &[false]
    };
    // A --rm container's (or a build step's) upper dir is not kept as it
    // is: `volatile` spares its file system a sync (a journal commit and a
    // cache flush) when the container's exit unmounts it. Kernels before
    // 5.10 reject it (EINVAL): retry without.
    let volatile: &[bool] = if ov.volatile {
        clear_volatile_mark(ov);
        &[true, false]
    } else {
        &[false]
    };
    let mut last = EINVAL;
    'tries: for &userxattr in attempts {
        for &volatile in volatile {
            match try_overlay(sys, root, ov, Options { userxattr, volatile }) {
                Ok(()) => return Ok(()),
                Err(e) => last = e,
            }
            if last != EINVAL {
                break 'tries;
            }
        }
    }
    // A read-only container of a single-layer image needs no overlay at all.
    if (last == EINVAL || last == EPERM) && ov.lower.len() == 1 && root.readonly {
        eprintln!(
            "tsbox: overlayfs unavailable ({}), using a bind mount of the image",
            last
        );
        return sys
            .mount(Some(&ov.lower[0]), &root.path, None, MS_BIND | MS_REC, None)
            .step(|| {
                format!(
                    "bind-mounting {} on {}",
                    ov.lower[0].display(),
                    root.path.display()
                )
            });
    }
    match last {
        EINVAL if upper_on_overlayfs(ov) => Err(Error::errno(
            format!(
                "mounting the container's overlay: its upper dir {} is on overlayfs (tsbox's data dir inside a container?), which cannot hold one: set TSBOX_DATA_DIR to a directory on another file system (a volume, tmpfs)",
                ov.upper.display()
            ),
            last,
        )),
        EINVAL | EPERM | crate::sys::errno::EACCES => {
            Err(Error::errno("permission denied mounting overlay", last))
        }
        e => Err(Error::errno(
            format!("mounting overlay on {}", root.path.display()),
            e,
        )),
    }
}

/// A volatile mount leaves `work/incompat/volatile` (holding a `dirty`
/// file) in its work dir, and overlayfs refuses to mount that work dir again
/// while it is there (its upper dir may have lost writes in a crash). A
/// volatile upper dir is disposable either way, so a restart of a --rm
/// container clears the mark (outside the Syscall seam: a missing mark is the usual
/// case and changes nothing; only the kernel writes in the work dir).
fn clear_volatile_mark(ov: &Overlay) {
    let _ = std::fs::remove_dir_all(ov.work.join("work").join("incompat").join("volatile"));
}

/// The usual cause of EINVAL: an upper dir on overlayfs (read outside the
/// Syscall seam: it only words the error).
fn upper_on_overlayfs(ov: &Overlay) -> bool {
    std::fs::File::open(&ov.upper)
        .ok()
        .and_then(|f| crate::sys::path::fs_type(f.as_raw_fd()).ok())
        == Some(OVERLAYFS_SUPER_MAGIC)
}

/// A read-only overlay of `layers` (topmost first) at `target`: a stopped or
/// running container's file system as it stands (its upper dir as the top
/// layer), without taking its upper and work dirs (`tsbox export`).
pub fn mount_layers_readonly(sys: &dyn Syscall, target: &Path, layers: &[PathBuf], host: &Host) -> Result<(), Error> {
    let attempts: &[bool] = if host.in_user_ns { &[true, false] } else { &[false] };
    let mut last = EINVAL;
    for &userxattr in attempts {
        match overlay_mount(sys, target, MS_RDONLY, layers, None, Options { userxattr, volatile: false }) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        if last != EINVAL {
            break;
        }
    }
    Err(Error::errno(format!("mounting the layers on {}", target.display()), last))
}

/// Mount data longer than a page is rejected; a long layer list is then
/// given relative to the layers' common parent, which becomes our cwd
/// (overlayfs resolves the paths relative to the mounter's cwd).
const MAX_DATA: usize = 4000;

/// The image's overlay `ov` at `target`, mounted with `flags` by a real root
/// (the vm guest agent's container root: no user namespace, so no
/// userxattr): its data made here too, so an image of more layers than a
/// page of mount data names mounts in the guest as on the host.
/// (Its upper dir is in the guest's memory: nothing to sync, so never volatile.)
pub fn mount_overlay_at(sys: &dyn Syscall, target: &Path, flags: c_ulong, ov: &Overlay) -> Result<(), Errno> {
    let options = Options { userxattr: false, volatile: false };
    overlay_mount(sys, target, flags, &ov.lower, Some((&ov.upper, &ov.work)), options)
}

/// What an overlay's mount data says beside its directories.
#[derive(Clone, Copy)]
struct Options {
    /// Overlay metadata in user.* xattrs (a user namespace's mount).
    userxattr: bool,
    volatile: bool,
}

fn try_overlay(sys: &dyn Syscall, root: &Root, ov: &Overlay, options: Options) -> Result<(), Errno> {
    overlay_mount(sys, &root.path, 0, &ov.lower, Some((&ov.upper, &ov.work)), options)
}

/// An overlay of `lower` (topmost first), writable through `rw` (upper, work)
/// when given, at `target`: the one place its mount data is made, so the
/// container's root and `export`'s read-only view both take any number of
/// layers under a data dir of any length.
fn overlay_mount(
    sys: &dyn Syscall,
    target: &Path,
    flags: c_ulong,
    lower: &[PathBuf],
    rw: Option<(&Path, &Path)>,
    options: Options,
) -> Result<(), Errno> {
    let data = layers_data(lower, rw, None, options);
    if data.len() < MAX_DATA {
        return sys.mount(Some(Path::new("overlay")), target, Some("overlay"), flags, Some(&data));
    }
    // Every directory the data names: the lower ones, then upper and work.
    let all = || lower.iter().map(PathBuf::as_path).chain(rw.into_iter().flat_map(|(u, w)| [u, w]));
    let base = common_parent(all());
    let data = layers_data(lower, rw, Some(&base), options);
    if data.len() < MAX_DATA {
        return mount_in(sys, &base, target, flags, &data);
    }
    // Still more than a page: about 50 layers fit as `layers/sha256/<hex>`,
    // and docker's images may have 127 (the kernel cut the data at the page
    // and its last layer was "No such file or directory"). Each directory is
    // then a descriptor of ours, named by its number in /proc/self/fd.
    let mut dirs = Vec::new();
    for p in all() {
        dirs.push(open_path(p)?);
    }
    let names: Vec<PathBuf> = dirs.iter().map(|f| PathBuf::from(f.as_raw_fd().to_string())).collect();
    let (lower_fds, rw_fds) = names.split_at(lower.len());
    let rw_fds = rw.map(|_| (rw_fds[0].as_path(), rw_fds[1].as_path()));
    let data = layers_data(lower_fds, rw_fds, None, options);
    let result = mount_in(sys, Path::new("/proc/self/fd"), target, flags, &data);
    drop(dirs);
    result
}

/// An overlay mount whose data names its directories relative to `cwd`
/// (overlayfs resolves them from the mounter's working directory).
fn mount_in(sys: &dyn Syscall, cwd: &Path, target: &Path, flags: c_ulong, data: &str) -> Result<(), Errno> {
    sys.chdir(cwd)?;
    let result = sys.mount(Some(Path::new("overlay")), target, Some("overlay"), flags, Some(data));
    sys.chdir(Path::new("/"))?;
    result
}

/// A directory held by an O_PATH descriptor: no read permission needed (a
/// rootless upper dir), only a name to resolve through /proc/self/fd.
fn open_path(p: &Path) -> Result<std::fs::File, Errno> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(O_PATH | O_DIRECTORY)
        .open(p)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(EINVAL.0)))
}

/// A path as overlayfs's mount data takes it: the data is split on ',' and
/// lowerdir on ':', and a '\\' escapes the next character in both (since
/// Linux 3.18), so a data dir such as `/srv/a,b` or `/home/x:y` mounts.
pub fn escape(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

pub fn overlay_data(ov: &Overlay, base: Option<&Path>, userxattr: bool) -> String {
    let options = Options { userxattr, volatile: ov.volatile };
    layers_data(&ov.lower, Some((&ov.upper, &ov.work)), base, options)
}

/// An overlay's mount data, its paths relative to `base` when given.
fn layers_data(lower: &[PathBuf], rw: Option<(&Path, &Path)>, base: Option<&Path>, options: Options) -> String {
    let rel = |p: &Path| -> PathBuf {
        match base.and_then(|b| p.strip_prefix(b).ok()) {
            Some(r) if !r.as_os_str().is_empty() => r.to_path_buf(),
            _ => p.to_path_buf(),
        }
    };
    let lower: Vec<String> = lower.iter().map(|l| escape(&rel(l))).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = rw {
        data.push_str(&format!(",upperdir={},workdir={}", escape(&rel(upper)), escape(&rel(work))));
    }
    if options.userxattr {
        data.push_str(",userxattr");
    }
    if options.volatile {
        data.push_str(",volatile");
    }
    data
}

/// The deepest directory above every path (the first's parent at most).
fn common_parent<'a>(paths: impl Iterator<Item = &'a Path>) -> PathBuf {
    let mut all = paths;
    let first = all
        .next()
        .map(|p| p.parent().unwrap_or(p).to_path_buf())
        .unwrap_or_default();
    all.fold(first, |acc, p| {
        let mut acc = acc;
        while !p.starts_with(&acc) {
            if !acc.pop() {
                break;
            }
        }
        acc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ov(lower: &[&str]) -> Overlay {
        Overlay {
            lower: lower.iter().map(PathBuf::from).collect(),
            upper: PathBuf::from("/s/c/up"),
            work: PathBuf::from("/s/c/work"),
            volatile: false,
        }
    }

    #[test]
    fn data_string() {
        let o = ov(&["/s/l/b", "/s/l/a:x"]);
        assert_eq!(
            overlay_data(&o, None, true),
            "lowerdir=/s/l/b:/s/l/a\\:x,upperdir=/s/c/up,workdir=/s/c/work,userxattr"
        );
        let commas = Overlay {
            lower: vec![PathBuf::from("/d,1/l/a\\b")],
            upper: PathBuf::from("/d,1/c/up"),
            work: PathBuf::from("/d,1/c/wo:rk"),
            volatile: true,
        };
        assert_eq!(
            overlay_data(&commas, None, false),
            "lowerdir=/d\\,1/l/a\\\\b,upperdir=/d\\,1/c/up,workdir=/d\\,1/c/wo\\:rk,volatile"
        );
        let all = o.lower.iter().chain([&o.upper, &o.work]).map(PathBuf::as_path);
        assert_eq!(common_parent(all), PathBuf::from("/s"));
        assert_eq!(
            overlay_data(&o, Some(Path::new("/s")), false),
            "lowerdir=l/b:l/a\\:x,upperdir=c/up,workdir=c/work"
        );
        // export's read-only view: lower dirs only.
        let lower = [PathBuf::from("/s/c/up"), PathBuf::from("/s/l/a")];
        assert_eq!(layers_data(&lower, None, Some(Path::new("/s")), Options { userxattr: true, volatile: false }), "lowerdir=c/up:l/a,userxattr");
    }

    #[test]
    fn more_layers_than_a_page_holds_even_relative() {
        use crate::syscall::RecordingSyscall;
        let dir = std::env::temp_dir().join(format!("tsbox-rootfs-fds-{}", std::process::id()));
        let layer = |i: usize| dir.join("layers").join(format!("{:064x}", i));
        let lower: Vec<PathBuf> = (0..60).map(layer).collect();
        let (up, work) = (dir.join("c/up"), dir.join("c/work"));
        for p in lower.iter().chain([&up, &work]) {
            std::fs::create_dir_all(p).unwrap();
        }
        let sys = RecordingSyscall::new(Path::new("/target"));
        let mounted = overlay_mount(&sys, Path::new("/target"), 0, &lower, Some((&up, &work)), Options { userxattr: true, volatile: false });
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(mounted, Ok(()));
        let calls = sys.calls();
        assert_eq!(calls.len(), 3, "{:?}", calls);
        assert!(calls[0].ends_with("/proc/self/fd"), "{:?}", calls);
        let data = calls[1].split(" data=").nth(1).unwrap();
        let fds: Vec<&str> = data.trim_start_matches("lowerdir=").split([':', ',']).collect();
        assert_eq!(fds.len(), 60 + 3, "{}", data);
        assert!(fds[..60].iter().all(|f| f.parse::<u32>().is_ok()), "{}", data);
        assert!(data.contains(",upperdir=") && data.contains(",workdir=") && data.ends_with(",userxattr"), "{}", data);
        assert!(data.len() < MAX_DATA);
    }

    #[test]
    fn volatile_when_asked_without_it_on_kernels_that_refuse_it_and_past_the_mark_of_a_last_mount() {
        use crate::syscall::RecordingSyscall;
        let dir = std::env::temp_dir().join(format!("tsbox-rootfs-mark-{}", std::process::id()));
        let mark = dir.join("c/work/work/incompat/volatile");
        std::fs::create_dir_all(&mark).unwrap();
        std::fs::write(mark.join("dirty"), "").unwrap();
        let mut o = ov(&["/s/l/a"]);
        o.work = dir.join("c/work");
        o.volatile = true;
        let root = Root { path: PathBuf::from("/target"), readonly: false, overlay: Some(o.clone()) };
        let host = Host { in_user_ns: false, setgroups_denied: false, last_cap: 40, unshare_cgroupns: false, cgroup_view: Vec::new() };
        let sys = RecordingSyscall::new(Path::new("/target"));
        sys.fail_when(",volatile", EINVAL);
        let mounted = mount_overlay(&sys, &root, &o, &host);
        let cleared = !mark.exists() && dir.join("c/work/work/incompat").exists();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(mounted.is_ok(), "{:?}", mounted.err());
        assert!(cleared, "the last volatile mount's mark goes, and only it");
        let calls = sys.calls();
        assert_eq!(calls.len(), 2, "{:?}", calls);
        assert!(calls[0].ends_with(",volatile"), "{:?}", calls);
        assert!(!calls[1].contains("volatile"), "{:?}", calls);
    }
}
