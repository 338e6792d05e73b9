//! Switching to the new root (step 6).

use crate::error::{Context, Error};
use crate::sys::consts::{MNT_DETACH, MS_REC, MS_SLAVE};
use crate::syscall::Syscall;
use std::path::Path;

/// `pivot_root(".", ".")` (as runc does) needs no put_old directory inside
/// the image: the old root ends up mounted on top of the new one at ".",
/// and a lazy unmount drops it with everything below it, so the host's
/// file system is unreachable from the container. The old root is made
/// rslave again first (as runc does; the namespace was made so before
/// anything was mounted), so the unmount never propagates to the host.
pub fn pivot_root(sys: &dyn Syscall, root: &Path) -> Result<(), Error> {
    sys.chdir(root)
        .step(|| format!("entering {}", root.display()))?;
    sys.pivot_root(Path::new("."), Path::new("."))
        .step(|| format!("pivot_root into {}", root.display()))?;
    sys.mount(None, Path::new("."), None, MS_SLAVE | MS_REC, None)
        .step(|| "making the old root rslave")?;
    sys.umount2(Path::new("."), MNT_DETACH)
        .step(|| "unmounting the old root")?;
    sys.chdir(Path::new("/")).step(|| "entering the new root")
}
