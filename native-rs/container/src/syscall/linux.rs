use super::Syscall;
use crate::paths::{self, Resolved};
use crate::seccomp::{self, SockFilter};
use crate::sys::errno::ESTALE;
use crate::sys::{cred, fd, keyring, mount, net, process, tty, Errno};
use std::os::raw::{c_int, c_ulong};
use std::path::Path;

/// The real thing.
pub struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        mount::mount(source, target, fstype, flags, data)
    }
    fn umount2(&self, target: &Path, flags: c_int) -> Result<(), Errno> {
        mount::umount2(target, flags)
    }
    fn open_tree_clone(&self, path: &Path) -> Result<c_int, Errno> {
        mount::open_tree_clone(path, false)
    }
    fn move_mount(&self, tree: c_int, target: &Resolved) -> Result<(), Errno> {
        mount::move_mount(tree, target.fd())
    }
    fn set_tree_attr(&self, target: &Resolved, set: u64) -> Result<(), Errno> {
        mount::setattr(target.fd(), set, None, true)
    }
    fn mount_flags(&self, path: &Path) -> Result<c_ulong, Errno> {
        mount::mount_flags(path)
    }
    fn setns(&self, fd: c_int, nstype: c_int) -> Result<(), Errno> {
        process::setns(fd, nstype)
    }
    fn verify_mount(
        &self,
        now: &Resolved,
        expect: Option<&Resolved>,
        under: &Resolved,
    ) -> Result<(), Errno> {
        if paths::is_mounted(now, expect, under) {
            Ok(())
        } else {
            Err(ESTALE)
        }
    }
    fn enter_dir(&self, path: &str) -> Result<(), Errno> {
        paths::enter_dir(path)
    }
    fn cloexec_from(&self, from: c_int) -> Result<(), Errno> {
        fd::cloexec_from(from)
    }
    fn join_session_keyring(&self) -> Result<(), Errno> {
        keyring::join_new_session()
    }
    fn load_seccomp(&self, program: &[SockFilter], flags: u32) -> Result<(), Errno> {
        seccomp::load(program, flags)
    }
    fn unshare(&self, flags: c_int) -> Result<(), Errno> {
        process::unshare(flags)
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        mount::pivot_root(new_root, put_old)
    }
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        mount::chdir(path)
    }
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        cred::sethostname(name)
    }
    fn setdomainname(&self, name: &str) -> Result<(), Errno> {
        cred::setdomainname(name)
    }
    fn write_sysctl(&self, key: &str, value: &str) -> Result<(), Errno> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let io = |e: std::io::Error| Errno(e.raw_os_error().unwrap_or(5));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(crate::sys::consts::O_NOFOLLOW)
            .open(path)
            .map_err(io)?;
        f.write_all(value.as_bytes()).map_err(io)
    }
    fn set_link_up(&self, name: &str) -> Result<(), Errno> {
        net::set_link_up(name)
    }
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
        cred::setrlimit(resource, soft, hard)
    }
    fn setsid(&self) -> Result<(), Errno> {
        tty::setsid()
    }
    fn set_umask(&self, mask: u32) {
        crate::sys::fs::set_umask(mask)
    }
    fn set_controlling_tty(&self, fd: c_int) -> Result<(), Errno> {
        tty::set_controlling_tty(fd)
    }
    fn set_winsize(&self, fd: c_int, rows: u16, cols: u16) -> Result<(), Errno> {
        tty::set_winsize(fd, rows, cols)
    }
    fn set_owner(&self, fd: c_int, uid: u32) -> Result<(), Errno> {
        crate::sys::fs::set_owner(fd, uid)
    }
    fn capbset_drop(&self, cap: u32) -> Result<(), Errno> {
        cred::capbset_drop(cap)
    }
    fn set_keepcaps(&self, on: bool) -> Result<(), Errno> {
        cred::set_keepcaps(on)
    }
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        cred::setgroups(gids)
    }
    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        cred::setresgid(gid)
    }
    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        cred::setresuid(uid)
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        cred::capset(effective, permitted, inheritable)
    }
    fn ambient_clear(&self) -> Result<(), Errno> {
        cred::ambient_clear_all()
    }
    fn ambient_raise(&self, cap: u32) -> Result<(), Errno> {
        cred::ambient_raise(cap)
    }
    fn set_no_new_privs(&self) -> Result<(), Errno> {
        cred::set_no_new_privs()
    }
    fn set_pdeathsig(&self, sig: c_int) -> Result<(), Errno> {
        cred::set_pdeathsig(sig)
    }
}
