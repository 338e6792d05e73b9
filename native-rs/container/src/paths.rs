//! Resolving container paths inside the new root before `pivot_root`.
//!
//! The rootfs comes from an image, so any symlink in it is hostile: a mount
//! destination `/a` where `/a -> /../../etc` must land on `<root>/etc`, never
//! on the host's `/etc`. We walk the path one component at a time with lstat,
//! expand symlinks ourselves relative to the root, and clamp `..` at the root
//! (like `filepath-securejoin` / `openat2(RESOLVE_IN_ROOT)`). The returned
//! host path contains no symlinks, so the mount that follows cannot be
//! redirected (the container is not running yet, so nothing inside it can
//! race us).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::fs::{self, DirBuilder, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
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

fn err(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

/// Splits into normal components, keeping `..` (dropped `.` and `/`).
fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        _ => None,
    })
}

/// Returns `root` joined with `path` resolved inside `root`.
pub fn resolve_in_root(root: &Path, path: &str, create: Create) -> io::Result<PathBuf> {
    let mut resolved: Vec<OsString> = Vec::new();
    let mut pending: VecDeque<OsString> = components(Path::new(path)).collect();
    let mut links = 0;

    while let Some(name) = pending.pop_front() {
        if name == OsStr::new("..") {
            resolved.pop(); // at the root this is a no-op: `..` of / is /
            continue;
        }
        let current: PathBuf = root.join(resolved.iter().collect::<PathBuf>()).join(&name);
        let last = pending.is_empty();
        match fs::symlink_metadata(&current) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(err(40)); // ELOOP
                }
                let target = fs::read_link(&current)?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for c in components(&target).collect::<Vec<_>>().into_iter().rev() {
                    pending.push_front(c);
                }
            }
            Ok(md) => {
                if !last && !md.is_dir() {
                    return Err(err(20)); // ENOTDIR
                }
                resolved.push(name);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && create != Create::Nothing => {
                if last && create == Create::File {
                    create_file(&current)?;
                } else {
                    create_dir(&current)?;
                }
                resolved.push(name);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(root.join(resolved.iter().collect::<PathBuf>()))
}

/// mkdir never follows a symlink at the last component; EEXIST means someone
/// made it meanwhile, which the next lstat will examine.
fn create_dir(path: &Path) -> io::Result<()> {
    match DirBuilder::new().mode(0o755).create(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// O_CREAT|O_EXCL does not follow symlinks either.
fn create_file(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(path)
    {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map(drop),
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
            let _ = fs::remove_dir_all(&self.0);
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

    #[test]
    fn absolute_symlink_escape_stays_inside() {
        let t = setup();
        let r = &t.0;
        assert_eq!(
            resolve_in_root(r, "/a", Create::Nothing).unwrap(),
            r.join("etc")
        );
        assert_eq!(
            resolve_in_root(r, "/a/passwd", Create::Nothing).unwrap(),
            r.join("etc/passwd")
        );
    }

    #[test]
    fn dotdot_chains_clamp_at_root() {
        let t = setup();
        let r = &t.0;
        assert_eq!(
            resolve_in_root(r, "/../../../etc", Create::Nothing).unwrap(),
            r.join("etc")
        );
        assert_eq!(
            resolve_in_root(r, "../usr/../etc/./passwd", Create::Nothing).unwrap(),
            r.join("etc/passwd")
        );
        assert_eq!(
            resolve_in_root(r, "/usr/lib/up/lib", Create::Nothing).unwrap(),
            r.join("usr/lib")
        );
        assert_eq!(
            resolve_in_root(r, "/usr/rel", Create::Nothing).unwrap(),
            r.join("usr/lib")
        );
        assert_eq!(
            resolve_in_root(r, "/", Create::Nothing).unwrap(),
            r.to_path_buf()
        );
    }

    #[test]
    fn creates_inside_root_only() {
        let t = setup();
        let r = &t.0;
        // The dangling link's target is created inside the root.
        let p = resolve_in_root(r, "/dangling", Create::Dir).unwrap();
        assert_eq!(p, r.join("nonexistent/deeper"));
        assert!(p.is_dir());
        let f = resolve_in_root(r, "/a/new/file.txt", Create::File).unwrap();
        assert_eq!(f, r.join("etc/new/file.txt"));
        assert!(f.is_file());
        assert!(!Path::new("/etc/new/file.txt").exists());
    }

    #[test]
    fn errors() {
        let t = setup();
        let r = &t.0;
        let code = |p: &str, c| resolve_in_root(r, p, c).unwrap_err().raw_os_error();
        assert_eq!(
            resolve_in_root(r, "/missing", Create::Nothing)
                .unwrap_err()
                .kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(code("/loop1", Create::Nothing), Some(40));
        assert_eq!(code("/etc/passwd/x", Create::Dir), Some(20));
    }

    #[test]
    fn normalizes() {
        assert_eq!(normalize("/dev/"), "/dev");
        assert_eq!(normalize("//dev/./pts"), "/dev/pts");
        assert_eq!(normalize("/"), "/");
    }
}
