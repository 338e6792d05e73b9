//! `rm -rf` of a bundle that a container's process may still be writing
//! (its upper dir, through an overlay mount kept alive by a process of
//! another container or a descriptor): every step goes through a descriptor
//! of the directory it acts in, never a path below the top, so a directory
//! exchanged for a symlink meanwhile is never followed (a path walk would
//! delete the symlink target's files, as the host's user or root). As Go's
//! `os.RemoveAll` (docker, podman) does.
//!
//! Per directory: opened `O_PATH|O_NOFOLLOW|O_DIRECTORY` in its parent, u+rwx
//! granted through `/proc/self/fd/N` if it lacks it (overlay's work/work is
//! mode 000), listed through the same link, each name unlinked in it, then
//! the directory removed in its parent.

use container::sys::consts::{AT_FDCWD, AT_REMOVEDIR, O_DIRECTORY, O_NOFOLLOW, O_PATH};
use container::sys::errno::{EISDIR, ELOOP, ENOENT, ENOTDIR, ENOTEMPTY};
use container::sys::fs::{openat, renameat, unlinkat, Fd};
use container::sys::{process, Errno};
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::raw::c_int;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Directories open at once (two descriptors each): a deeper one is moved
/// up to the top and deleted from there by the top's next pass.
const MAX_DEPTH: usize = 64;
/// Tries at a directory that keeps getting new entries while it is emptied.
const RETRIES: usize = 16;
/// Passes over the top: each deletes up to MAX_DEPTH levels of a deep chain.
const TOP_PASSES: usize = 4096;

/// Called with the parent descriptor and name of each directory just opened,
/// before it is listed: where a test exchanges it for a symlink.
pub type Opened<'a> = dyn FnMut(c_int, &OsStr) + 'a;

/// Deletes `top` (the caller's own path, e.g. `containers/.removing-…`) and
/// everything below it; gone already is fine. Keeps going past what it
/// cannot delete and reports the first failure.
pub fn remove_tree(top: &Path) -> io::Result<()> {
    remove_tree_with(top, &mut |_, _| {})
}

pub fn remove_tree_with(top: &Path, opened: &mut Opened) -> io::Result<()> {
    let fd = match openat(AT_FDCWD, top.as_os_str().as_bytes(), O_PATH | O_DIRECTORY | O_NOFOLLOW, 0) {
        Ok(fd) => fd,
        Err(ENOENT) => return Ok(()),
        Err(ENOTDIR) | Err(ELOOP) => return ignore_missing(fs::remove_file(top)),
        Err(e) => return Err(e.into()),
    };
    grant_access(&fd);
    let mut walk = Walk { top: fd.0, moved: 0, failed: None, opened };
    for _ in 0..RETRIES {
        // Until a pass lists nothing: directories moved up (too deep), or moved
        // here by a writer racing the walk, are the top's entries by then.
        for _ in 0..TOP_PASSES {
            if !walk.clear(&fd, 0) || walk.failed.is_some() {
                break;
            }
        }
        match fs::remove_dir(top) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(ENOTEMPTY.0) && walk.failed.is_none() => {}
            Err(e) => return Err(walk.failed.map_or(e, io::Error::from)),
        }
    }
    Err(walk.failed.unwrap_or(ENOTEMPTY).into())
}

struct Walk<'a, 'b> {
    top: c_int,
    /// Directories moved up to the top so far (names them uniquely).
    moved: usize,
    failed: Option<Errno>,
    opened: &'a mut Opened<'b>,
}

impl Walk<'_, '_> {
    fn fail(&mut self, e: Errno) {
        self.failed.get_or_insert(e);
    }

    /// One pass over the open directory `dir` (at `depth` below the top):
    /// every entry listed is deleted. Whether it listed any.
    fn clear(&mut self, dir: &Fd, depth: usize) -> bool {
        let at = dir.proc_path();
        let list = match fs::read_dir(&at) {
            Ok(l) => l,
            Err(e) => {
                self.fail(Errno::from_io(&e).unwrap_or(ENOENT));
                return false;
            }
        };
        let mut listed = false;
        for entry in list {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.fail(Errno::from_io(&e).unwrap_or(ENOENT));
                    break;
                }
            };
            listed = true;
            let name = entry.file_name();
            if entry.file_type().map_or(false, |t| t.is_dir()) {
                self.remove_dir(dir.0, &name, depth);
            } else {
                self.remove_file(dir.0, &name, depth);
            }
        }
        listed
    }

    /// `name` in `dir`, which was no directory when it was listed.
    fn remove_file(&mut self, dir: c_int, name: &OsStr, depth: usize) {
        match unlinkat(dir, name.as_bytes(), 0) {
            Ok(()) | Err(ENOENT) => {}
            // Became a directory meanwhile (or d_type was wrong).
            Err(EISDIR) => self.remove_dir(dir, name, depth),
            Err(e) => self.fail(e),
        }
    }

    /// The directory `name` in `dir` (at `depth`), emptied through a
    /// descriptor of its own, then removed.
    fn remove_dir(&mut self, dir: c_int, name: &OsStr, depth: usize) {
        for _ in 0..RETRIES {
            let child = match openat(dir, name.as_bytes(), O_PATH | O_DIRECTORY | O_NOFOLLOW, 0) {
                Ok(fd) => fd,
                Err(ENOENT) => return,
                // Exchanged for a symlink or file meanwhile: that is deleted, never followed.
                Err(ENOTDIR) | Err(ELOOP) => return self.unlink_swapped(dir, name),
                Err(e) => return self.fail(e),
            };
            // Before a move up too: renaming a directory into another parent
            // writes its `..` (EACCES without u+w, as src/remove-tree.ts knows).
            grant_access(&child);
            if depth + 1 > MAX_DEPTH {
                return self.move_to_top(dir, name);
            }
            (self.opened)(dir, name);
            self.clear(&child, depth + 1);
            drop(child);
            match unlinkat(dir, name.as_bytes(), AT_REMOVEDIR) {
                Ok(()) | Err(ENOENT) => return,
                Err(ENOTDIR) => return self.unlink_swapped(dir, name),
                // New entries appeared, or the listing missed some: empty it again.
                Err(ENOTEMPTY) if self.failed.is_none() => {}
                // Something below could not be deleted (reported already): retrying
                // would retry every level above it too, RETRIES^depth times.
                Err(ENOTEMPTY) => return,
                Err(e) => return self.fail(e),
            }
        }
        self.fail(ENOTEMPTY)
    }

    fn unlink_swapped(&mut self, dir: c_int, name: &OsStr) {
        match unlinkat(dir, name.as_bytes(), 0) {
            Ok(()) | Err(ENOENT) => {}
            Err(e) => self.fail(e),
        }
    }

    /// Too deep to open here: renamed (whatever it is now) into the top,
    /// whose next pass deletes it with MAX_DEPTH levels to spare.
    fn move_to_top(&mut self, dir: c_int, name: &OsStr) {
        self.moved += 1;
        let aside = format!(".tsbox-deep-{}-{}", process::own_pid(), self.moved);
        match renameat(dir, name.as_bytes(), self.top, aside.as_bytes()) {
            Ok(()) | Err(ENOENT) => {}
            Err(e) => self.fail(e),
        }
    }
}

/// u+rwx on an opened directory that lacks it (a layer's 0555 dirs, overlay's
/// work/work at 000, a container's `chmod -R a-w`), through `/proc/self/fd/N`:
/// the directory itself, whatever was renamed since.
fn grant_access(dir: &Fd) {
    let at = dir.proc_path();
    if let Ok(meta) = fs::metadata(&at) {
        let mode = meta.permissions().mode();
        if mode & 0o700 != 0o700 {
            let _ = fs::set_permissions(&at, fs::Permissions::from_mode((mode & 0o7777) | 0o700));
        }
    }
}

fn ignore_missing(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tsbox-remove-tree-{}-{}", tag, std::process::id()));
        let _ = remove_tree(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<OsString> {
        let mut n: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        n.sort();
        n
    }

    #[test]
    fn deletes_trees_with_closed_dirs_odd_names_and_deep_chains() {
        let base = scratch("plain");
        let top = base.join("bundle");
        // overlay's work/work: mode 000, with something in it.
        fs::create_dir_all(top.join("work/work/inner")).unwrap();
        fs::write(top.join("work/work/inner/f"), "x").unwrap();
        fs::set_permissions(top.join("work/work/inner"), fs::Permissions::from_mode(0o000)).unwrap();
        fs::set_permissions(top.join("work/work"), fs::Permissions::from_mode(0o000)).unwrap();
        // A name that is not UTF-8, a symlink (to a directory outside: kept), a fifo-free plain file.
        let odd = top.join(OsStr::from_bytes(b"caf\xe9"));
        fs::create_dir_all(&odd).unwrap();
        fs::write(odd.join(OsStr::from_bytes(b"\xff\xfe")), "x").unwrap();
        let outside = base.join("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep"), "precious").unwrap();
        symlink(&outside, top.join("link")).unwrap();
        // 200 levels: more than MAX_DEPTH directories open at once.
        let mut deep = top.join("deep");
        for i in 0..200 {
            deep.push(format!("d{}", i));
        }
        fs::create_dir_all(&deep).unwrap();
        fs::write(deep.join("bottom"), "x").unwrap();

        remove_tree(&top).unwrap();
        assert!(fs::symlink_metadata(&top).is_err(), "the bundle is gone");
        assert_eq!(names(&outside), vec![OsString::from("keep")]);
        // Gone already, or a file or symlink at the top: fine too.
        remove_tree(&top).unwrap();
        symlink(&outside, &top).unwrap();
        remove_tree(&top).unwrap();
        assert!(fs::symlink_metadata(&top).is_err());
        assert_eq!(names(&outside), vec![OsString::from("keep")]);
        remove_tree(&base).unwrap();
    }

    /// A container's deep tree made read-only (`chmod -R a-w`): the levels
    /// past MAX_DEPTH are moved up, which needs u+w on the directory moved
    /// (its `..` is rewritten). Run as a user without CAP_DAC_OVERRIDE (the
    /// rootless case; as root a child drops to nobody), which the modes bind.
    #[test]
    fn deletes_a_deep_read_only_tree() {
        let base = scratch("read-only");
        fs::set_permissions(&base, fs::Permissions::from_mode(0o777)).unwrap();
        let top = base.join("bundle");
        let walk = || -> Result<(), String> {
            let mut deep = top.clone();
            for i in 0..150 {
                deep.push(format!("d{}", i));
            }
            fs::create_dir_all(&deep).map_err(|e| e.to_string())?;
            fs::write(deep.join("bottom"), "x").map_err(|e| e.to_string())?;
            // chmod -R a-w, bottom up.
            for dir in deep.ancestors().take_while(|d| d.starts_with(&top)) {
                fs::set_permissions(dir, fs::Permissions::from_mode(0o555)).map_err(|e| e.to_string())?;
            }
            remove_tree(&top).map_err(|e| e.to_string())?;
            match fs::symlink_metadata(&top) {
                Err(_) => Ok(()),
                Ok(_) => Err("the tree is still there".into()),
            }
        };
        if container::sys::cred::geteuid() != 0 {
            walk().unwrap();
        } else {
            match process::clone_fork(0).unwrap() {
                process::Forked::Child => {
                    let done = container::sys::cred::setresgid(65534)
                        .and_then(|()| container::sys::cred::setresuid(65534))
                        .map_err(|e| format!("{:?}", e))
                        .and_then(|()| walk());
                    if let Err(e) = &done {
                        eprintln!("{}", e);
                    }
                    process::exit_now(if done.is_ok() { 0 } else { 1 })
                }
                process::Forked::Parent(pid) => {
                    let status = process::wait(pid).unwrap();
                    let _ = remove_tree(&base);
                    assert!(matches!(status, process::ExitStatus::Code(0)), "the walk as nobody failed (its stderr says why)");
                    return;
                }
            }
        }
        remove_tree(&base).unwrap();
    }

    /// The race of a container process that exchanges a directory of its
    /// upper dir for a symlink to a host directory once the host has opened
    /// it (snipe.c's, made deterministic): the host still empties the
    /// directory it opened, and the symlink is deleted, not followed.
    #[test]
    fn a_directory_exchanged_for_a_symlink_is_never_followed() {
        let base = scratch("race");
        let top = base.join("bundle");
        let outside = base.join("outside");
        fs::create_dir_all(outside.join("victim/sub")).unwrap();
        for i in 0..4 {
            fs::write(outside.join("victim").join(format!("f{}", i)), "precious").unwrap();
        }
        fs::set_permissions(&outside, fs::Permissions::from_mode(0o750)).unwrap();
        // w/d holds decoys named like the victim's files; d lacks u+w, so the walk chmods it.
        let d = top.join("upper/w/d");
        fs::create_dir_all(d.join("victim/sub")).unwrap();
        for i in 0..4 {
            fs::write(d.join("victim").join(format!("f{}", i)), "decoy").unwrap();
        }
        fs::set_permissions(&d, fs::Permissions::from_mode(0o500)).unwrap();

        let mut swaps = 0;
        remove_tree_with(&top, &mut |_, name: &OsStr| {
            if name == "d" && swaps == 0 {
                swaps += 1;
                // renameat2(RENAME_EXCHANGE)'s effect: the directory moves aside (still in the tree), a symlink takes its name.
                fs::rename(&d, top.join("upper/w/l")).unwrap();
                symlink(&outside, &d).unwrap();
            }
        })
        .unwrap();
        assert_eq!(swaps, 1);
        assert!(fs::symlink_metadata(&top).is_err(), "the bundle is gone");
        assert_eq!(names(&outside), vec![OsString::from("victim")]);
        assert_eq!(names(&outside.join("victim")).len(), 5, "every victim file kept");
        assert!(outside.join("victim/sub").is_dir());
        assert_eq!(fs::metadata(&outside).unwrap().permissions().mode() & 0o7777, 0o750, "no chmod through the symlink");
        remove_tree(&base).unwrap();
    }
}
