//! Opening paths the container could have tampered with, without letting the
//! kernel follow a symlink it planted.
//!
//! * Container paths (mount destinations, masked paths, the working
//!   directory) are resolved *inside* the root: an image's `/a -> /../../etc`
//!   lands on `<root>/etc`, `..` stops at the root, never on the host's `/etc`
//!   (like `openat2(RESOLVE_IN_ROOT)`, `filepath-securejoin`).
//! * Bind sources are host paths, but a container that can write a volume
//!   can plant a symlink in it: a symlink is followed only when its owner is
//!   not one of the container's host ids ([`Owners`]).
//! * Magic links (`/proc/PID/fd/N`, `/proc/PID/root`, …) are never followed:
//!   they lead to whatever a descriptor refers to, outside any root.
//!
//! The result is an open `O_PATH` descriptor ([`Resolved`]), and mounts go
//! through its `/proc/self/fd/N`: whatever happens to the path afterwards (a
//! running container renaming a directory of a shared volume), the mount lands
//! on the inode that was checked. `openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS)`
//! does the lookup in one call where the kernel has it (5.6+); the fallback,
//! and the path taken when something must be created, walks one component at a
//! time with `openat(O_PATH|O_NOFOLLOW)` relative to the directory before,
//! reading symlinks itself (`readlinkat`). Neither trusts a path string
//! between two calls.

use crate::sys::consts::*;
use crate::sys::errno::{EAGAIN, EEXIST, ELOOP, ENOENT, ENOTDIR};
use crate::sys::{fd, path as sys_path, Errno};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::mem::ManuallyDrop;
use std::os::raw::c_int;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::FromRawFd;
use std::path::{Component, Path, PathBuf};

/// What to do with missing components.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Fail with NotFound.
    Nothing,
    /// Create missing directories, the last one included (mount points, cwd).
    Dir,
    /// Create missing parent directories and an empty file as the last
    /// component (bind mounts of files, device nodes).
    File,
}

/// Same as Linux's MAXSYMLINKS.
const MAX_SYMLINKS: usize = 40;

/// An `O_PATH` descriptor on a resolved path, closed on drop, and the path it
/// was found at (symlink-free, for messages; never used to reach the file).
#[derive(Debug)]
pub struct Resolved {
    fd: c_int,
    path: PathBuf,
}

impl Resolved {
    /// Takes ownership of `fd`, found at `path`.
    pub fn adopt(fd: c_int, path: PathBuf) -> Resolved {
        Resolved { fd, path }
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `/proc/self/fd/N`: given to mount(2), it names this very inode.
    pub fn proc_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd))
    }

    pub fn metadata(&self) -> io::Result<std::fs::Metadata> {
        metadata(self.fd)
    }
}

impl Drop for Resolved {
    fn drop(&mut self) {
        fd::close(self.fd);
    }
}

/// fstat through std (no struct stat layouts to declare): works on O_PATH.
fn metadata(raw: c_int) -> io::Result<std::fs::Metadata> {
    let file = ManuallyDrop::new(unsafe { File::from_raw_fd(raw) });
    file.metadata()
}

/// Host uids whose files a container's processes could have written: its
/// uid mappings' host ranges, or every uid when it has no user namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owners(Option<Vec<(u32, u32)>>);

impl Owners {
    /// `ranges`: (first host id, count) pairs; None: every uid.
    pub fn new(ranges: Option<Vec<(u32, u32)>>) -> Owners {
        Owners(ranges)
    }

    pub fn everyone() -> Owners {
        Owners(None)
    }

    pub fn contains(&self, uid: u32) -> bool {
        match &self.0 {
            None => true,
            Some(ranges) => ranges
                .iter()
                .any(|&(first, count)| uid >= first && (uid - first) < count),
        }
    }
}

fn err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.0)
}

fn refused(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, message)
}

/// Splits into normal components, keeping `..` (dropped `.` and `/`).
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

/// A symlink on procfs whose target is not a plain relative name ("self" →
/// "1", "mounts" → "self/mounts") is a magic link: its target text means
/// nothing, the kernel would jump to what a process holds open.
fn is_magic_link(link: c_int, target: &OsStr) -> bool {
    let plain = target
        .as_bytes()
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"/_-.".contains(b));
    let relative = !target.as_bytes().starts_with(b"/");
    !(plain && relative) && sys_path::fs_type(link).map_or(true, |t| t == PROC_SUPER_MAGIC)
}

/// Opens `path` inside `root` (a trusted, symlink-free host directory).
pub fn open_in_root(root: &Path, path: &str, create: Create) -> io::Result<Resolved> {
    let root_fd = sys_path::open_path(root, O_DIRECTORY).map_err(err)?;
    let result = open_beneath(root_fd, root, path, create);
    fd::close(root_fd);
    result
}

fn open_beneath(root_fd: c_int, root: &Path, path: &str, create: Create) -> io::Result<Resolved> {
    if sys_path::have_openat2() {
        for _ in 0..3 {
            let how = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
            match sys_path::openat2(root_fd, Path::new(path), O_PATH, how) {
                Ok(fd) => {
                    let shown = std::fs::read_link(format!("/proc/self/fd/{}", fd))
                        .unwrap_or_else(|_| root.join(path.trim_start_matches('/')));
                    return Ok(Resolved { fd, path: shown });
                }
                // A rename somewhere on the way: the kernel asks to retry.
                Err(EAGAIN) => continue,
                // Missing parts to create, or a link to explain: the walk does both.
                Err(ENOENT) | Err(ELOOP) => break,
                Err(e) => return Err(err(e)),
            }
        }
    }
    Walk::new(root_fd, root, Some(create)).run(path)
}

/// Opens the host path `path` for a bind mount. A symlink on the way is
/// followed only when `planters` cannot have made it (see [`Owners`]).
pub fn open_source(path: &str, planters: &Owners) -> io::Result<Resolved> {
    if !path.starts_with('/') {
        return Err(err(crate::sys::errno::EINVAL));
    }
    if sys_path::have_openat2() {
        let how = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
        match sys_path::openat2(AT_FDCWD, Path::new(path), O_PATH, how) {
            Ok(fd) => {
                return Ok(Resolved {
                    fd,
                    path: PathBuf::from(path),
                })
            }
            Err(ELOOP) => {} // a symlink: the walk decides whether to follow it
            Err(e) => return Err(err(e)),
        }
    }
    let host_root = sys_path::open_path(Path::new("/"), O_DIRECTORY).map_err(err)?;
    let mut walk = Walk::new(host_root, Path::new("/"), None);
    walk.planters = Some(planters);
    let result = walk.run(path);
    fd::close(host_root);
    result
}

/// A bind source as the parent found it, in the host's view of file owners
/// (inside the container's user namespace, an unmapped owner and a mapped
/// one can look alike): its symlink-free path and identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    dev: u64,
    ino: u64,
    /// A detached clone of it, idmapped where the mount asks (idmapped.rs), to
    /// attach instead of a bind mount, when the container's ids are a slice
    /// of subordinate ids.
    pub detached: Option<c_int>,
}

impl Source {
    /// In the parent, before clone: [`open_source`], then the path the kernel
    /// reports for what was opened.
    pub fn check(path: &str, planters: &Owners) -> io::Result<Source> {
        let opened = open_source(path, planters)?;
        let md = opened.metadata()?;
        let real = std::fs::read_link(opened.proc_path())?;
        Ok(Source {
            path: real,
            dev: md.dev(),
            ino: md.ino(),
            detached: None,
        })
    }

    /// Is the file `fd` refers to (e.g. a detached clone's root) this source?
    pub fn is(&self, fd: c_int) -> bool {
        metadata(fd).map_or(false, |m| (m.dev(), m.ino()) == (self.dev, self.ino))
    }

    /// In the container's mount namespace: the same path, now with no
    /// symlink followed at all, and it must still be the same file.
    pub fn reopen(&self) -> io::Result<Resolved> {
        let path = self.path.display().to_string();
        let opened = open_source(&path, &Owners::everyone())?;
        let md = opened.metadata()?;
        if (md.dev(), md.ino()) != (self.dev, self.ino) {
            return Err(refused(format!(
                "{} changed after it was checked",
                path
            )));
        }
        Ok(opened)
    }
}

/// The component-by-component resolution. `create` None means "host path":
/// symlinks are checked against `planters` and never clamped to a root.
struct Walk<'a> {
    root_fd: c_int,
    root: &'a Path,
    create: Option<Create>,
    planters: Option<&'a Owners>,
    /// Open directories from the root down, with their names.
    stack: Vec<(c_int, OsString)>,
}

impl<'a> Walk<'a> {
    fn new(root_fd: c_int, root: &'a Path, create: Option<Create>) -> Walk<'a> {
        Walk {
            root_fd,
            root,
            create,
            planters: None,
            stack: Vec::new(),
        }
    }

    fn current(&self) -> c_int {
        self.stack.last().map_or(self.root_fd, |(fd, _)| *fd)
    }

    fn shown(&self) -> PathBuf {
        let mut p = self.root.to_path_buf();
        p.extend(self.stack.iter().map(|(_, n)| n));
        p
    }

    fn pop(&mut self) {
        if let Some((fd, _)) = self.stack.pop() {
            fd::close(fd);
        }
    }

    fn run(mut self, path: &str) -> io::Result<Resolved> {
        let result = self.resolve(path);
        let out = result.map(|()| {
            let shown = self.shown();
            let fd = match self.stack.pop() {
                Some((fd, _)) => fd,
                None => sys_path::openat(self.root_fd, OsStr::new("."), O_PATH, 0).unwrap_or(-1),
            };
            Resolved { fd, path: shown }
        });
        while !self.stack.is_empty() {
            self.pop();
        }
        match out {
            Ok(r) if r.fd < 0 => Err(io::Error::last_os_error()),
            other => other,
        }
    }

    fn resolve(&mut self, path: &str) -> io::Result<()> {
        let mut pending: VecDeque<OsString> = components(Path::new(path)).collect();
        let mut links = 0;
        let mut created = 0;
        while let Some(name) = pending.pop_front() {
            if name == OsStr::new("..") {
                self.pop(); // at the root a no-op: `..` of / is /
                continue;
            }
            let last = pending.is_empty();
            let opened = sys_path::openat(self.current(), &name, O_PATH | O_NOFOLLOW, 0);
            let fd = match opened {
                Ok(fd) => fd,
                Err(ENOENT) if self.create.map_or(false, |c| c != Create::Nothing) => {
                    created += 1;
                    if created > MAX_SYMLINKS {
                        return Err(err(ENOENT)); // something keeps deleting it
                    }
                    self.make(&name, last)?;
                    pending.push_front(name);
                    continue;
                }
                Err(e) => return Err(err(e)),
            };
            let md = match metadata(fd) {
                Ok(md) => md,
                Err(e) => {
                    fd::close(fd);
                    return Err(e);
                }
            };
            if md.file_type().is_symlink() {
                let target = sys_path::readlink_fd(fd);
                let checked = target.map_err(err).and_then(|t| {
                    self.check_link(fd, &name, &t, md.uid())?;
                    Ok(t)
                });
                fd::close(fd);
                let target = checked?;
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(err(ELOOP));
                }
                if Path::new(&target).is_absolute() {
                    while !self.stack.is_empty() {
                        self.pop();
                    }
                }
                for c in components(Path::new(&target)).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(c);
                }
                continue;
            }
            if !last && !md.is_dir() {
                fd::close(fd);
                return Err(err(ENOTDIR));
            }
            self.stack.push((fd, name));
        }
        Ok(())
    }

    fn check_link(&self, link: c_int, name: &OsStr, target: &OsStr, owner: u32) -> io::Result<()> {
        let here = self.shown().join(name);
        if is_magic_link(link, target) {
            return Err(refused(format!(
                "{} is a link to what a process holds open (a /proc magic link): refused",
                here.display()
            )));
        }
        match self.planters {
            Some(planters) if planters.contains(owner) => Err(refused(format!(
                "{} is a symlink (to {}) owned by uid {}, which a container could have planted: tsbox does not follow it (give the real path)",
                here.display(),
                Path::new(target).display(),
                owner
            ))),
            _ => Ok(()),
        }
    }

    /// mkdirat / O_CREAT|O_EXCL never follow a symlink in the last component;
    /// EEXIST means someone made it meanwhile: the next open examines it.
    fn make(&self, name: &OsStr, last: bool) -> io::Result<()> {
        let dir = self.current();
        let made = if last && self.create == Some(Create::File) {
            sys_path::openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644).map(fd::close)
        } else {
            sys_path::mkdirat(dir, name, 0o755)
        };
        match made {
            Ok(()) | Err(EEXIST) => Ok(()),
            Err(e) => Err(err(e)),
        }
    }
}

/// Makes `path` (inside the current root) the working directory, through
/// the same resolution, then checks the kernel agrees it is inside the root:
/// getcwd(3) answers "(unreachable)…" for a directory outside it (EXDEV
/// here). A refused magic link is ELOOP, as from openat2.
pub fn enter_dir(path: &str) -> Result<(), Errno> {
    let dir = open_in_root(Path::new("/"), path, Create::Nothing)
        .map_err(|e| Errno::from_io(&e).unwrap_or(ELOOP))?;
    if !dir.metadata().map(|m| m.is_dir()).unwrap_or(false) {
        return Err(ENOTDIR);
    }
    sys_path::fchdir(dir.fd())?;
    match std::env::current_dir() {
        Ok(cwd) if cwd.is_absolute() => Ok(()),
        _ => Err(crate::sys::errno::EXDEV),
    }
}

/// Looks `path` up again once something was mounted on it: a descriptor
/// taken before stays on the mount point, under the new mount. `verify`
/// (Syscall::verify_mount) then checks it is that mount, since a running
/// container sharing a volume could rename things in between.
pub fn reopen_mounted(
    root: &Path,
    path: &str,
    verify: &dyn Fn(&Resolved) -> Result<(), Errno>,
) -> io::Result<Resolved> {
    let now = open_in_root(root, path, Create::Nothing)?;
    match verify(&now) {
        Ok(()) => Ok(now),
        Err(_) => Err(refused(format!(
            "{} changed while it was being mounted",
            path
        ))),
    }
}

/// The check behind Syscall::verify_mount: `now` is the bind's source
/// (`expect`), or a new file system on top of the mount point `under`.
pub fn is_mounted(now: &Resolved, expect: Option<&Resolved>, under: &Resolved) -> bool {
    let id = |r: &Resolved| r.metadata().map(|m| (m.dev(), m.ino())).ok();
    match (id(now), expect) {
        (Some(n), Some(source)) => Some(n) == id(source),
        (Some(n), None) => id(under).map_or(false, |u| u.0 != n.0),
        (None, _) => false,
    }
}

/// `/a/./b//c/` → `/a/b/c`: for comparing destinations such as "/dev/".
pub fn normalize(path: &str) -> String {
    let parts: Vec<&OsStr> = Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let mut out = String::from("/");
    out.push_str(
        &parts
            .iter()
            .map(|p| String::from_utf8_lossy(p.as_bytes()))
            .collect::<Vec<_>>()
            .join("/"),
    );
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A fresh directory under the system temp dir, removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "tsbox-test-{}-{}-{}",
                tag,
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(fs::canonicalize(&p).unwrap())
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            // A tree deeper than the descriptor limit or PATH_MAX (copy's deep-tree tests) defeats std's: rm's walk takes it.
            if fs::remove_dir_all(&self.0).is_err() {
                let _ = std::process::Command::new("rm").arg("-rf").arg(&self.0).status();
            }
        }
    }

    fn setup() -> TempDir {
        let t = TempDir::new("paths");
        let r = &t.0;
        fs::create_dir_all(r.join("etc")).unwrap();
        fs::create_dir_all(r.join("usr/lib")).unwrap();
        fs::write(r.join("etc/passwd"), "").unwrap();
        symlink("/../../etc", r.join("a")).unwrap();
        symlink("../../../../usr", r.join("usr/lib/up")).unwrap();
        symlink("/nonexistent/deeper", r.join("dangling")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        symlink("lib", r.join("usr/rel")).unwrap();
        t
    }

    fn resolve(root: &Path, path: &str, create: Create) -> io::Result<PathBuf> {
        open_in_root(root, path, create).map(|r| r.path().to_path_buf())
    }

    /// Both ways: openat2 where the kernel has it, and the walk.
    fn walk(root: &Path, path: &str, create: Create) -> io::Result<PathBuf> {
        let root_fd = sys_path::open_path(root, O_DIRECTORY).unwrap();
        let r = Walk::new(root_fd, root, Some(create)).run(path);
        fd::close(root_fd);
        r.map(|r| r.path().to_path_buf())
    }

    #[test]
    fn absolute_symlink_escape_stays_inside() {
        let t = setup();
        let r = &t.0;
        for f in [resolve, walk] {
            assert_eq!(f(r, "/a", Create::Nothing).unwrap(), r.join("etc"));
            assert_eq!(
                f(r, "/a/passwd", Create::Nothing).unwrap(),
                r.join("etc/passwd")
            );
        }
    }

    #[test]
    fn dotdot_chains_clamp_at_root() {
        let t = setup();
        let r = &t.0;
        for f in [resolve, walk] {
            assert_eq!(f(r, "/../../../etc", Create::Nothing).unwrap(), r.join("etc"));
            assert_eq!(
                f(r, "../usr/../etc/./passwd", Create::Nothing).unwrap(),
                r.join("etc/passwd")
            );
            assert_eq!(f(r, "/usr/lib/up/lib", Create::Nothing).unwrap(), r.join("usr/lib"));
            assert_eq!(f(r, "/usr/rel", Create::Nothing).unwrap(), r.join("usr/lib"));
            assert_eq!(f(r, "/", Create::Nothing).unwrap(), r.to_path_buf());
        }
    }

    #[test]
    fn creates_inside_root_only() {
        let t = setup();
        let r = &t.0;
        // The dangling link's target is created inside the root.
        let p = resolve(r, "/dangling", Create::Dir).unwrap();
        assert_eq!(p, r.join("nonexistent/deeper"));
        assert!(p.is_dir());
        let f = resolve(r, "/a/new/file.txt", Create::File).unwrap();
        assert_eq!(f, r.join("etc/new/file.txt"));
        assert!(f.is_file());
        assert!(!Path::new("/etc/new/file.txt").exists());
    }

    #[test]
    fn errors() {
        let t = setup();
        let r = &t.0;
        for f in [resolve, walk] {
            let code = |p: &str, c| f(r, p, c).unwrap_err().raw_os_error();
            assert_eq!(
                f(r, "/missing", Create::Nothing).unwrap_err().kind(),
                io::ErrorKind::NotFound
            );
            assert_eq!(code("/loop1", Create::Nothing), Some(40));
            assert_eq!(code("/etc/passwd/x", Create::Dir), Some(20));
        }
    }

    #[test]
    fn magic_links_are_refused() {
        // A container's /proc is a procfs: here the host's stands in for it.
        let proc_root = Path::new("/proc");
        let e = walk(proc_root, "/self/fd/0", Create::Nothing).unwrap_err();
        assert!(e.to_string().contains("magic link"), "{}", e);
        let e = walk(proc_root, "/self/root", Create::Nothing).unwrap_err();
        assert!(e.to_string().contains("magic link"), "{}", e);
        // Plain procfs symlinks are fine.
        assert!(walk(proc_root, "/self/status", Create::Nothing).is_ok());
        assert!(resolve(proc_root, "/self/fd/0", Create::Nothing).is_err());
    }

    #[test]
    fn sources_follow_only_links_no_container_could_plant() {
        let t = setup();
        let r = &t.0;
        let me = unsafe { crate::sys::ffi::getuid() };
        let link = r.join("a").display().to_string();
        let nobody_planted = Owners::new(Some(vec![(me.wrapping_add(1), 1)]));
        // Checked by the parent (following an unplantable link), reopened by the child.
        let checked = Source::check(&format!("{}/passwd", link), &nobody_planted).unwrap();
        assert_eq!(checked.path, Path::new("/etc/passwd"));
        assert!(checked.reopen().is_ok());
        let gone = Source { ino: checked.ino + 1, ..checked.clone() };
        assert!(gone.reopen().unwrap_err().to_string().contains("changed"));
        let ours = Owners::new(Some(vec![(me, 1)]));
        // The link is ours: a container with our uid could have planted it.
        let e = open_source(&format!("{}/passwd", link), &ours).unwrap_err();
        assert!(e.to_string().contains("could have planted"), "{}", e);
        assert!(open_source(&link, &Owners::everyone()).is_err());
        // Owned by someone the container cannot be: followed (to the host's /etc here).
        let ok = open_source(&format!("{}/passwd", link), &nobody_planted).unwrap();
        assert!(ok.metadata().unwrap().is_file());
        // No symlink at all: fine for everyone.
        let plain = open_source(&r.join("etc/passwd").display().to_string(), &ours).unwrap();
        assert_eq!(plain.path(), r.join("etc/passwd"));
        assert!(open_source("relative", &ours).is_err());
    }

    /// test/fixtures/contract/bind-sources.json: the rule (and its wording)
    /// the vm backend's TS check (src/backends/vm/node/bind-source.ts) keeps.
    #[test]
    fn contract_bind_sources() {
        use crate::json::Json;
        let f = crate::contract::fixture("bind-sources.json");
        let t = TempDir::new("bind-sources");
        let root = t.0.display().to_string();
        let me = unsafe { crate::sys::ffi::getuid() };
        let fill = |s: &str| s.replace("{root}", &root).replace("{uid}", &me.to_string());
        let text = |j: &Json, k: &str| j.get(k).and_then(Json::as_str).map(|s| s.to_string());
        for entry in f.get("tree").and_then(Json::as_array).unwrap() {
            if let Some(d) = text(entry, "dir") {
                fs::create_dir_all(t.0.join(d)).unwrap();
            } else if let Some(file) = text(entry, "file") {
                fs::write(t.0.join(file), "").unwrap();
            } else {
                let to = fill(&text(entry, "to").unwrap());
                symlink(to, t.0.join(text(entry, "link").unwrap())).unwrap();
            }
        }
        let refusal = text(&f, "refusal").unwrap();
        for case in f.get("cases").and_then(Json::as_array).unwrap() {
            let source = format!("{}/{}", root, text(case, "source").unwrap());
            let planters = match text(case, "planters").unwrap().as_str() {
                "self" => Owners::new(Some(vec![(me, 1)])),
                "others" => Owners::new(Some(vec![(me.wrapping_add(1), 1)])),
                _ => Owners::everyone(),
            };
            let got = Source::check(&source, &planters);
            if let Some(path) = text(case, "path") {
                assert_eq!(got.unwrap().path, t.0.join(path), "{}", source);
            } else if let Some(r) = case.get("refused") {
                let link = format!("{}/{}", root, text(r, "link").unwrap());
                let expect = fill(&refusal.replace("{link}", &link).replace("{target}", &text(r, "to").unwrap()));
                assert_eq!(got.unwrap_err().to_string(), expect, "{}", source);
            } else {
                let errno = match text(case, "errno").unwrap().as_str() {
                    "ENOENT" => ENOENT,
                    "ENOTDIR" => ENOTDIR,
                    _ => ELOOP,
                };
                assert_eq!(got.unwrap_err().raw_os_error(), Some(errno.0), "{}", source);
            }
        }
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/dev/"), "/dev");
        assert_eq!(normalize("//dev/./pts"), "/dev/pts");
        assert_eq!(normalize("/"), "/");
    }
}
