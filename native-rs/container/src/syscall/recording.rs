use super::Syscall;
use crate::namespaces;
use crate::paths::Resolved;
use crate::seccomp::SockFilter;
use crate::sys::Errno;
use std::cell::RefCell;
use std::os::raw::{c_int, c_ulong};
use std::path::{Path, PathBuf};

/// Records each call as one line of text instead of making it, e.g.
/// `mount overlay -> $ROOT type=overlay flags=0x0 data=lowerdir=...`, with the
/// rootfs path shown as `$ROOT` so tests can compare exact sequences.
/// `fail_when` makes calls whose line contains a pattern fail, to exercise
/// fallbacks.
pub struct RecordingSyscall {
    root: PathBuf,
    calls: RefCell<Vec<String>>,
    failures: RefCell<Vec<(String, Errno)>>,
    mount_flags: c_ulong,
}

impl RecordingSyscall {
    pub fn new(root: &Path) -> RecordingSyscall {
        RecordingSyscall {
            root: root.to_path_buf(),
            calls: RefCell::new(Vec::new()),
            failures: RefCell::new(Vec::new()),
            mount_flags: 0,
        }
    }

    /// What `mount_flags` answers for every path.
    pub fn with_mount_flags(mut self, flags: c_ulong) -> RecordingSyscall {
        self.mount_flags = flags;
        self
    }

    /// Calls whose recorded line contains `pattern` fail with `errno` (once).
    pub fn fail_when(&self, pattern: &str, errno: Errno) {
        self.failures
            .borrow_mut()
            .push((pattern.to_string(), errno));
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    /// `$ROOT/…` for paths in the rootfs; a `/proc/self/fd/N` the set-up
    /// mounts through is shown as the path that descriptor is open on.
    fn show(&self, p: &Path) -> String {
        let real = if p.starts_with("/proc/self/fd") {
            std::fs::read_link(p).unwrap_or_else(|_| p.to_path_buf())
        } else {
            p.to_path_buf()
        };
        let text = real.display().to_string();
        let root = self.root.display().to_string();
        match text.strip_prefix(&root) {
            Some(rest) if !root.is_empty() => format!("$ROOT{}", rest),
            _ => text,
        }
    }

    fn record(&self, line: String) -> Result<(), Errno> {
        self.calls.borrow_mut().push(line.clone());
        let mut failures = self.failures.borrow_mut();
        match failures
            .iter()
            .position(|(pat, _)| line.contains(pat.as_str()))
        {
            Some(i) => Err(failures.remove(i).1),
            None => Ok(()),
        }
    }
}

impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: c_ulong,
        data: Option<&str>,
    ) -> Result<(), Errno> {
        let mut line = format!(
            "mount {} -> {}",
            source.map_or_else(|| "none".to_string(), |s| self.show(s)),
            self.show(target)
        );
        if let Some(t) = fstype {
            line += &format!(" type={}", t);
        }
        line += &format!(" flags={:#x}", flags);
        if let Some(d) = data {
            line += &format!(" data={}", d);
        }
        self.record(line)
    }
    fn open_tree_clone(&self, path: &Path) -> Result<c_int, Errno> {
        self.record(format!("open_tree {}", self.show(path)))?;
        Ok(-1)
    }
    fn move_mount(&self, tree: c_int, target: &Resolved) -> Result<(), Errno> {
        let _ = tree; // descriptor numbers vary from run to run
        self.record(format!("move_mount -> {}", self.show(&target.proc_path())))
    }
    fn umount2(&self, target: &Path, flags: c_int) -> Result<(), Errno> {
        self.record(format!("umount2 {} flags={}", self.show(target), flags))
    }
    fn set_tree_attr(&self, target: &Resolved, set: u64) -> Result<(), Errno> {
        self.record(format!("mount_setattr {} set={:#x} recursive", self.show(&target.proc_path()), set))
    }
    fn mount_flags(&self, path: &Path) -> Result<c_ulong, Errno> {
        self.record(format!("statvfs {}", self.show(path)))?;
        Ok(self.mount_flags)
    }
    fn setns(&self, fd: c_int, nstype: c_int) -> Result<(), Errno> {
        self.record(format!("setns {} {}", fd, namespaces::flag_names(nstype)))
    }
    fn unshare(&self, flags: c_int) -> Result<(), Errno> {
        self.record(format!("unshare {}", namespaces::flag_names(flags)))
    }
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> Result<(), Errno> {
        self.record(format!(
            "pivot_root {} {}",
            self.show(new_root),
            self.show(put_old)
        ))
    }
    fn chdir(&self, path: &Path) -> Result<(), Errno> {
        self.record(format!("chdir {}", self.show(path)))
    }
    fn verify_mount(
        &self,
        _now: &Resolved,
        _expect: Option<&Resolved>,
        _under: &Resolved,
    ) -> Result<(), Errno> {
        Ok(()) // nothing was mounted: a query, not recorded
    }
    fn enter_dir(&self, path: &str) -> Result<(), Errno> {
        self.record(format!("enter_dir {}", path))
    }
    fn cloexec_from(&self, fd: c_int) -> Result<(), Errno> {
        self.record(format!("cloexec_from {}", fd))
    }
    fn join_session_keyring(&self) -> Result<(), Errno> {
        self.record("join_session_keyring".to_string())
    }
    fn load_seccomp(&self, program: &[SockFilter], flags: u32) -> Result<(), Errno> {
        self.record(format!("seccomp {} instructions flags={}", program.len(), flags))
    }
    fn sethostname(&self, name: &str) -> Result<(), Errno> {
        self.record(format!("sethostname {}", name))
    }
    fn setdomainname(&self, name: &str) -> Result<(), Errno> {
        self.record(format!("setdomainname {}", name))
    }
    fn write_sysctl(&self, key: &str, value: &str) -> Result<(), Errno> {
        self.record(format!("sysctl {}={}", key, value))
    }
    fn set_link_up(&self, name: &str) -> Result<(), Errno> {
        self.record(format!("link_up {}", name))
    }
    fn setrlimit(&self, resource: u32, soft: u64, hard: u64) -> Result<(), Errno> {
        self.record(format!("setrlimit {} {} {}", resource, soft, hard))
    }
    fn setsid(&self) -> Result<(), Errno> {
        self.record("setsid".to_string())
    }
    fn set_umask(&self, mask: u32) {
        let _ = self.record(format!("umask {:o}", mask));
    }
    fn set_controlling_tty(&self, fd: c_int) -> Result<(), Errno> {
        self.record(format!("tiocsctty {}", fd))
    }
    fn set_winsize(&self, fd: c_int, rows: u16, cols: u16) -> Result<(), Errno> {
        self.record(format!("tiocswinsz {} {}x{}", fd, rows, cols))
    }
    fn set_owner(&self, fd: c_int, uid: u32) -> Result<(), Errno> {
        self.record(format!("fchown {} {}", fd, uid))
    }
    fn capbset_drop(&self, cap: u32) -> Result<(), Errno> {
        self.record(format!("capbset_drop {}", cap))
    }
    fn set_keepcaps(&self, on: bool) -> Result<(), Errno> {
        self.record(format!("keepcaps {}", on as u8))
    }
    fn setgroups(&self, gids: &[u32]) -> Result<(), Errno> {
        self.record(format!("setgroups {:?}", gids))
    }
    fn setresgid(&self, gid: u32) -> Result<(), Errno> {
        self.record(format!("setresgid {}", gid))
    }
    fn setresuid(&self, uid: u32) -> Result<(), Errno> {
        self.record(format!("setresuid {}", uid))
    }
    fn capset(&self, effective: u64, permitted: u64, inheritable: u64) -> Result<(), Errno> {
        self.record(format!(
            "capset e={:#x} p={:#x} i={:#x}",
            effective, permitted, inheritable
        ))
    }
    fn ambient_clear(&self) -> Result<(), Errno> {
        self.record("ambient_clear".to_string())
    }
    fn ambient_raise(&self, cap: u32) -> Result<(), Errno> {
        self.record(format!("ambient_raise {}", cap))
    }
    fn set_no_new_privs(&self) -> Result<(), Errno> {
        self.record("no_new_privs".to_string())
    }
    fn set_pdeathsig(&self, sig: c_int) -> Result<(), Errno> {
        self.record(format!("pdeathsig {}", sig))
    }
}
