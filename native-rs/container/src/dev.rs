//! A minimal /dev on the spec's /dev tmpfs. Device nodes are the host's,
//! bind-mounted onto empty files: mknod is not allowed in a user namespace
//! (and a tmpfs made there is nodev anyway), while a bind of the host node
//! keeps the host mount's flags and works everywhere.

use crate::error::{Context, Error};
use crate::sys::consts::MS_BIND;
use crate::syscall::Syscall;
use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::{symlink, OpenOptionsExt};
use std::path::Path;

pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

pub const LINKS: [(&str, &str); 6] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

fn ignore_exists(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}

/// `dev` is the host path of the freshly mounted, empty /dev tmpfs (so it
/// holds no symlinks to worry about).
pub fn populate(sys: &dyn Syscall, dev: &Path) -> Result<(), Error> {
    for name in DEVICES {
        let host_node = Path::new("/dev").join(name);
        if std::fs::symlink_metadata(&host_node).is_err() {
            continue; // e.g. no /dev/tty on a host without one
        }
        let node = dev.join(name);
        let created = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o666)
            .open(&node)
            .map(drop);
        ignore_exists(created).step(|| format!("creating /dev/{}", name))?;
        sys.mount(Some(&host_node), &node, None, MS_BIND, None)
            .step(|| format!("bind-mounting {} on /dev/{}", host_node.display(), name))?;
    }
    for (name, target) in LINKS {
        ignore_exists(symlink(target, dev.join(name)))
            .step(|| format!("creating /dev/{}", name))?;
    }
    Ok(())
}

/// With `process.terminal`, stdin is a pty slave of the *host's* devpts,
/// invisible in the container's own /dev/pts, so ttyname(3) fails. Binding
/// it onto /dev/console (as runc does) gives it a name ttyname finds. The
/// source must be its path (e.g. /dev/pts/3), looked up in our copy of the
/// host's tree: the fd itself belongs to the parent's mount namespace, and
/// mount(2) refuses sources from another one. Skipped when stdin has no
/// such path.
pub fn bind_console(sys: &dyn Syscall, dev: &Path) -> Result<(), Error> {
    let tty = match std::fs::read_link("/proc/self/fd/0") {
        Ok(p) if p.starts_with("/dev/") && p.exists() => p,
        _ => return Ok(()),
    };
    let console = dev.join("console");
    let created = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o620)
        .open(&console)
        .map(drop);
    ignore_exists(created).step(|| "creating /dev/console")?;
    sys.mount(Some(&tty), &console, None, MS_BIND, None)
        .step(|| {
            format!(
                "bind-mounting the terminal {} on /dev/console",
                tty.display()
            )
        })
}
