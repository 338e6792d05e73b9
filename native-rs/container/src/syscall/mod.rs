//! Every privileged call of the container setup goes through `Syscall`
//! (youki's pattern): `LinuxSyscall` does it, `RecordingSyscall` writes it
//! down, so the order of mounts, pivot, hostname and the uid switch is unit
//! tested without root. File creation for mount points is not privileged and
//! uses std directly.

mod linux;
mod recording;

pub use linux::LinuxSyscall;
pub use recording::RecordingSyscall;

use crate::paths::Resolved;
use crate::seccomp::SockFilter;
use crate::sys::Errno;
use std::os::raw::{c_int, c_ulong};
use std::path::Path;

pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> Result<(), Errno>;
    fn umount2(&self, target: &Path, flags: c_int) -> Result<(), Errno>;
    /// A detached copy of the mount at `path` (open_tree(OPEN_TREE_CLONE)).
    fn open_tree_clone(&self, path: &Path) -> Result<c_int, Errno>;
    /// Attaches the detached mount `tree` (open_tree) on the directory `target`.
    fn move_mount(&self, tree: c_int, target: &Resolved) -> Result<(), Errno>;
    /// mount_setattr(2) with AT_RECURSIVE: sets the `MOUNT_ATTR_*` bits `set` on
    /// the mount `target` is the root of and on every mount below it (5.12+).
    fn set_tree_attr(&self, target: &Resolved, set: u64) -> Result<(), Errno>;
    /// The `MS_*` flags the mount at `path` currently has (from statvfs).
    fn mount_flags(&self, path: &Path) -> Result<c_ulong, Errno>;
    /// setns(2): `fd` is a namespace file or a pidfd, `nstype` CLONE_NEW* flags.
    fn setns(&self, fd: c_int, nstype: c_int) -> Result<(), Errno>;
    /// After a mount on `under`: is `now` (the destination looked up again)
    /// that mount, i.e. the bind's source `expect` or a new file system?
    fn verify_mount(
        &self,
        now: &Resolved,
        expect: Option<&Resolved>,
        under: &Resolved,
    ) -> Result<(), Errno>;
    /// unshare(2) of CLONE_NEW* flags.
    fn unshare(&self, flags: c_int) -> Result<(), Errno>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno>;
    fn chdir(&self, path: &Path) -> Result<(), Errno>;
    /// chdir to a path resolved inside the current root (paths::enter_dir).
    fn enter_dir(&self, path: &str) -> Result<(), Errno>;
    /// Marks every descriptor from `fd` up close-on-exec.
    fn cloexec_from(&self, fd: c_int) -> Result<(), Errno>;
    /// KEYCTL_JOIN_SESSION_KEYRING: a new, empty session keyring.
    fn join_session_keyring(&self) -> Result<(), Errno>;
    /// seccomp(SECCOMP_SET_MODE_FILTER) with a compiled program.
    fn load_seccomp(&self, program: &[SockFilter], flags: u32) -> Result<(), Errno>;
    fn sethostname(&self, name: &str) -> Result<(), Errno>;
    /// setdomainname(2): the UTS namespace's NIS domain name (`kernel.domainname`).
    fn setdomainname(&self, name: &str) -> Result<(), Errno>;
    /// Writes `value` to /proc/sys/<key, dots as slashes> (sysctl.rs checked the name).
    fn write_sysctl(&self, key: &str, value: &str) -> Result<(), Errno>;
    fn set_link_up(&self, name: &str) -> Result<(), Errno>;
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> Result<(), Errno>;
    fn setsid(&self) -> Result<(), Errno>;
    fn set_umask(&self, mask: u32);
    fn set_controlling_tty(&self, fd: c_int) -> Result<(), Errno>;
    fn set_winsize(&self, fd: c_int, rows: u16, cols: u16) -> Result<(), Errno>;
    /// fchown(fd, uid, -1): the owner only, the group as it is.
    fn set_owner(&self, fd: c_int, uid: u32) -> Result<(), Errno>;
    fn capbset_drop(&self, cap: u32) -> Result<(), Errno>;
    fn set_keepcaps(&self, on: bool) -> Result<(), Errno>;
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno>;
    fn setresgid(&self, gid: u32) -> Result<(), Errno>;
    fn setresuid(&self, uid: u32) -> Result<(), Errno>;
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno>;
    fn ambient_clear(&self) -> Result<(), Errno>;
    fn ambient_raise(&self, cap: u32) -> Result<(), Errno>;
    fn set_no_new_privs(&self) -> Result<(), Errno>;
    fn set_pdeathsig(&self, sig: c_int) -> Result<(), Errno>;
}
