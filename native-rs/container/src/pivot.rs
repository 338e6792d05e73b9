//! Switching to the new root (step 6).

use crate::error::{Context, Error};
use crate::sys::consts::MNT_DETACH;
use crate::syscall::Syscall;
use std::path::Path;

/// `pivot_root(".", ".")` (as runc does) needs no put_old directory inside
/// the image: the old root ends up mounted on top of the new one at ".",
/// and a lazy unmount drops it with everything below it, so the host's
/// file system is unreachable from the container. The namespace was made
/// rslave before anything was mounted (rootfs::make_rslave), so the unmount
/// never propagates to the host. (runc makes the old root rslave again here;
/// a mount(2) of "." would not reach it, stacked above the new root, but
/// make the new root's tree slaves: a bind the spec made shared included.)
pub fn pivot_root(sys: &dyn Syscall, root: &Path) -> Result<(), Error> {
    sys.chdir(root)
        .step(|| format!("entering {}", root.display()))?;
    sys.pivot_root(Path::new("."), Path::new("."))
        .step(|| format!("pivot_root into {}", root.display()))?;
    sys.umount2(Path::new("."), MNT_DETACH)
        .step(|| "unmounting the old root")?;
    sys.chdir(Path::new("/")).step(|| "entering the new root")
}
