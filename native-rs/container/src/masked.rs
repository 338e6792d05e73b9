//! maskedPaths and readonlyPaths (step 5), mostly under /proc and /sys.

use crate::error::{Context, Error};
use crate::host::Host;
use crate::mounts::remount_bind;
use crate::paths::{self, Create, Resolved};
use crate::sys::consts::*;
use crate::syscall::Syscall;
use std::io;
use std::path::Path;

/// The path inside root, or None when it does not exist (nothing to hide).
fn existing(root: &Path, path: &str) -> Result<Option<Resolved>, Error> {
    match paths::open_in_root(root, path, Create::Nothing) {
        Ok(p) => Ok(Some(p)),
        Err(e) if e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(20) => Ok(None),
        Err(e) => Err(e).step(|| format!("resolving {}", path)),
    }
}

/// Hides each path: files get /dev/null bound over them, directories an
/// empty read-only tmpfs.
pub fn mask(sys: &dyn Syscall, root: &Path, masked: &[String]) -> Result<(), Error> {
    for path in masked {
        let target = match existing(root, path)? {
            Some(t) => t,
            None => continue,
        };
        let step = || format!("masking {}", path);
        if target.metadata().step(step)?.is_dir() {
            sys.mount(
                Some(Path::new("tmpfs")),
                &target.proc_path(),
                Some("tmpfs"),
                MS_RDONLY,
                None,
            )
            .step(step)?;
        } else {
            sys.mount(
                Some(Path::new("/dev/null")),
                &target.proc_path(),
                None,
                MS_BIND,
                None,
            )
            .step(step)?;
        }
    }
    Ok(())
}

/// Makes each path read-only: a recursive bind onto itself, then a
/// read-only remount of that bind.
pub fn make_readonly(
    sys: &dyn Syscall,
    root: &Path,
    readonly: &[String],
    host: &Host,
) -> Result<(), Error> {
    for path in readonly {
        let target = match existing(root, path)? {
            Some(t) => t,
            None => continue,
        };
        let step = || format!("making {} read-only", path);
        let at = target.proc_path();
        sys.mount(Some(&at), &at, None, MS_BIND | MS_REC, None)
            .step(step)?;
        let verify = |now: &Resolved| sys.verify_mount(now, Some(&target), &target);
        let mounted = paths::reopen_mounted(root, path, &verify).step(step)?;
        remount_bind(
            sys,
            &mounted.proc_path(),
            MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            host,
        )
        .step(step)?;
    }
    Ok(())
}
