//! Running the helper from a copy of itself that nobody can write
//! (CVE-2019-5736). While a process of ours is in a container (a new init
//! before its execve, an exec'd process before its own), the container's root
//! could open /proc/PID/exe and, once we exit, write our binary: the next
//! run on the host would execute its code. Two layers: the container crate
//! makes those processes non-dumpable (their /proc files need
//! CAP_SYS_PTRACE over the host), and the helper re-executes itself first:
//!
//! * `Auto` (default): `Overlay` as root, falling back to `Memfd`; `Memfd`
//!   for everyone else.
//! * `Overlay` (root only, else Memfd): the binary opened through an
//!   overlayfs of its directory with no upper layer, mounted nowhere (runc's
//!   way since 1.2): such an overlay is read-only for good — no remount makes
//!   it writable, as one can a read-only bind — so opening the file for
//!   writing fails (EROFS), and nothing is copied (≈ 0.1 ms, the copy 0.9).
//! * `Memfd`: the binary copied into a memfd, sealed against
//!   writing, growing, shrinking and further seals, and executed from there
//!   (`fexecve`). Works rootless. Costs a copy of the binary and one more
//!   execve per run (bench/startup).
//! * `Bind` (root only, else Memfd): a read-only bind mount of the binary in
//!   a private mount namespace of the helper, executed through an O_PATH
//!   descriptor and detached: the copy on disk is the same inode, but
//!   reached through a read-only mount, opening it for writing fails (EROFS).
//! * `Off`: nothing; only for measuring the cost (TSBOX_RUNTIME_SEAL=off).
//!
//! A helper already running from a sealed memfd or from a read-only mount
//! (a packaged binary on a read-only /usr, say) is left as it is.

use crate::error::{Context, Error};
use crate::sys::consts::*;
use crate::sys::errno::{EACCES, EINVAL};
use crate::sys::{cpath, ffi, fd, mount, Errno};
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::raw::{c_char, c_int, c_long};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::io::{AsRawFd, FromRawFd, IntoRawFd};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Auto,
    Overlay,
    Memfd,
    Bind,
    Off,
}

impl Method {
    /// `TSBOX_RUNTIME_SEAL`: `auto` (default), `overlay`, `memfd`, `bind` or `off`.
    pub fn from_env() -> Result<Method, Error> {
        match std::env::var("TSBOX_RUNTIME_SEAL").as_deref() {
            Err(_) | Ok("") | Ok("auto") => Ok(Method::Auto),
            Ok("overlay") => Ok(Method::Overlay),
            Ok("memfd") => Ok(Method::Memfd),
            Ok("bind") => Ok(Method::Bind),
            Ok("off") => Ok(Method::Off),
            Ok(other) => Err(Error::setup(format!(
                "TSBOX_RUNTIME_SEAL={}: expected auto, overlay, memfd, bind or off",
                other
            ))),
        }
    }
}

const SEALS: c_int = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

/// Returns when this process already runs from a protected binary (or with
/// `Off`); otherwise re-executes it protected and never returns, unless that
/// failed.
pub fn ensure(method: Method) -> Result<(), Error> {
    if method == Method::Off || already_protected() {
        return Ok(());
    }
    let root = crate::sys::cred::geteuid() == 0;
    let exe = match method {
        Method::Bind if root => readonly_bind(),
        Method::Auto | Method::Overlay if root => std::fs::read_link("/proc/self/exe")
            .and_then(|binary| overlay_view(&binary))
            .or_else(|_| sealed_memfd())
            .or_else(|e| if memfd_exec_refused(&e) { readonly_bind() } else { Err(e) }),
        // A host with vm.memfd_noexec=2 refuses executable memfds (EACCES): root has the read-only bind instead.
        _ => sealed_memfd().or_else(|e| if root && memfd_exec_refused(&e) { readonly_bind() } else { Err(e) }),
    };
    let exe = match exe {
        Err(e) if !root && memfd_exec_refused(&e) => return Err(Error::errno(MEMFD_NOEXEC, EACCES)),
        other => other.step(|| "protecting the runtime binary (a sealed copy of /proc/self/exe)")?,
    };
    let err = reexec(exe);
    Err(Error::errno("re-executing the runtime from its sealed copy", err))
}

const MEMFD_NOEXEC: &str = "protecting the runtime binary: this host forbids executable memfds (the sysctl vm.memfd_noexec is 2), and a user other than root has no other way to run tsbox's helper from a copy no container can write (CVE-2019-5736): set vm.memfd_noexec to 0 or 1, or run tsbox as root";

fn memfd_exec_refused(e: &io::Error) -> bool {
    e.raw_os_error() == Some(EACCES.0)
}

fn already_protected() -> bool {
    let exe = match File::open("/proc/self/exe") {
        Ok(f) => f,
        Err(_) => return false,
    };
    let seals = unsafe { ffi::fcntl(exe.as_raw_fd(), F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS {
        return true;
    }
    mount::mount_flags(Path::new("/proc/self/exe")).map_or(false, |f| f & MS_RDONLY != 0)
}

fn memfd_create(name: &str, flags: std::os::raw::c_uint) -> Result<c_int, Errno> {
    let name = CString::new(name).map_err(|_| EINVAL)?;
    let ret = unsafe { ffi::syscall(SYS_MEMFD_CREATE, name.as_ptr(), flags as c_long) };
    if ret < 0 {
        return Err(Errno::last());
    }
    Ok(ret as c_int)
}

fn add_seals(fd: c_int, seals: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ffi::fcntl(fd, F_ADD_SEALS, seals) }).map(drop)
}

/// The binary copied into a sealed memfd (close-on-exec: execve keeps the
/// file it runs without the descriptor).
fn sealed_memfd() -> io::Result<c_int> {
    sealed_copy_of(Path::new("/proc/self/exe"))
}

/// `binary` copied into a sealed memfd, to be executed with `fexecve`.
pub fn sealed_copy_of(binary: &Path) -> io::Result<c_int> {
    let base = MFD_CLOEXEC | MFD_ALLOW_SEALING;
    // MFD_EXEC is new in 6.3; older kernels reject the flag (and make every
    // memfd executable anyway).
    let raw = memfd_create("tsbox-runtime", base | MFD_EXEC)
        .or_else(|e| if e == EINVAL { memfd_create("tsbox-runtime", base) } else { Err(e) })?;
    let mut copy = unsafe { File::from_raw_fd(raw) };
    let mut source = File::open(binary)?;
    io::copy(&mut source, &mut copy)?;
    let raw = copy.into_raw_fd();
    let sealed = add_seals(raw, SEALS | F_SEAL_EXEC)
        .or_else(|e| if e == EINVAL { add_seals(raw, SEALS) } else { Err(e) });
    if let Err(e) = sealed {
        fd::close(raw);
        return Err(e.into());
    }
    Ok(raw)
}

/// What the CLI's hand-off executes (the addon's handoff.rs), so that the
/// helper starts protected (`ensure` finds it so) instead of being executed
/// from disk and then again from its own copy: `binary` seen through a
/// read-only overlay (root, `Auto` or `Overlay`), else its sealed copy; None
/// with `Bind` or `Off`, or when neither could be had (the helper then
/// protects itself, or says why it cannot).
pub fn protected_exe(binary: &Path, method: Method) -> Option<c_int> {
    let root = crate::sys::cred::geteuid() == 0;
    match method {
        Method::Auto | Method::Overlay if root => overlay_view(binary).or_else(|_| sealed_copy_of(binary)).ok(),
        Method::Auto | Method::Overlay | Method::Memfd => sealed_copy_of(binary).ok(),
        Method::Bind | Method::Off => None,
    }
}

/// The sealed copy a rootless user's nest holder runs from (the helper that
/// started it made that copy, container::nest_record names the holder): its
/// `/proc/PID/exe` reopened, for the CLI's hand-off to execute instead of a
/// copy of its own (≈ 0.9 ms). Only if it is the holder the record names
/// (its start time, read through the same /proc/PID descriptor the exe is
/// opened from, so a reused pid cannot answer), runs as this user, is sealed
/// as `sealed_copy_of` seals, and is the same build as `binary`.
pub fn held_copy(binary: &Path, holder: &crate::nest_record::Record) -> Option<c_int> {
    let proc_dir = File::open(format!("/proc/{}", holder.pid)).ok()?;
    if proc_dir.metadata().ok()?.uid() != crate::sys::cred::geteuid() {
        return None;
    }
    let mut stat = String::new();
    io::Read::read_to_string(&mut open_in(&proc_dir, "stat")?, &mut stat).ok()?;
    if crate::sys::process::start_time_of_stat(&stat) != Some(holder.start) {
        return None;
    }
    let exe = open_in(&proc_dir, "exe")?;
    let seals = unsafe { ffi::fcntl(exe.as_raw_fd(), F_GET_SEALS) };
    if seals < 0 || seals & SEALS != SEALS {
        return None;
    }
    let same = match (build_id(&exe), File::open(binary).ok().and_then(|f| build_id(&f))) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    };
    if same {
        Some(exe.into_raw_fd())
    } else {
        None
    }
}

/// `name` in the directory `dir`, read-only.
fn open_in(dir: &File, name: &str) -> Option<File> {
    let name = CString::new(name).ok()?;
    let fd = unsafe { ffi::openat(dir.as_raw_fd(), name.as_ptr(), O_RDONLY | O_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    Some(unsafe { File::from_raw_fd(fd) })
}

/// The GNU build id of an ELF file (its NT_GNU_BUILD_ID note: a hash of the
/// linked output), None if it has none or is not a little-endian ELF file.
pub fn build_id(file: &File) -> Option<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let read = |offset: u64, len: usize| -> Option<Vec<u8>> {
        // Headers and notes are small: a larger size is a damaged file.
        if len > 65536 {
            return None;
        }
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset).ok()?;
        Some(buf)
    };
    let u16_at = |b: &[u8], o: usize| -> Option<u64> { Some(u16::from_le_bytes([*b.get(o)?, *b.get(o + 1)?]) as u64) };
    let u32_at = |b: &[u8], o: usize| -> Option<u64> {
        let v = b.get(o..o + 4)?;
        Some(u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as u64)
    };
    let u64_at = |b: &[u8], o: usize| -> Option<u64> {
        let v = b.get(o..o + 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(v);
        Some(u64::from_le_bytes(a))
    };
    let header = read(0, 64)?;
    if &header[..4] != b"\x7fELF" || header[5] != 1 {
        return None;
    }
    let wide = header[4] == 2;
    let (phoff, phentsize, phnum) = if wide {
        (u64_at(&header, 0x20)?, u16_at(&header, 0x36)?, u16_at(&header, 0x38)?)
    } else {
        (u32_at(&header, 0x1c)?, u16_at(&header, 0x2a)?, u16_at(&header, 0x2c)?)
    };
    let table = read(phoff, (phentsize * phnum) as usize)?;
    for i in 0..phnum as usize {
        let ph = table.get(i * phentsize as usize..(i + 1) * phentsize as usize)?;
        const PT_NOTE: u64 = 4;
        if u32_at(ph, 0)? != PT_NOTE {
            continue;
        }
        let (offset, size) = if wide { (u64_at(ph, 8)?, u64_at(ph, 32)?) } else { (u32_at(ph, 4)?, u32_at(ph, 16)?) };
        let notes = read(offset, size as usize)?;
        let mut at = 0usize;
        while at + 12 <= notes.len() {
            let (name_size, desc_size, kind) = (u32_at(&notes, at)? as usize, u32_at(&notes, at + 4)? as usize, u32_at(&notes, at + 8)?);
            let name_at = at + 12;
            let desc_at = name_at + (name_size + 3) / 4 * 4;
            const NT_GNU_BUILD_ID: u64 = 3;
            if kind == NT_GNU_BUILD_ID && notes.get(name_at..name_at + name_size)? == b"GNU\0" {
                return Some(notes.get(desc_at..desc_at + desc_size)?.to_vec());
            }
            at = desc_at + (desc_size + 3) / 4 * 4;
        }
    }
    None
}

/// The empty directory under the binary's in the overlay (one with no upper
/// layer needs two lower ones; overlayfs refuses two that overlap).
const OVERLAY_LOWER: &str = "/run/tsbox-exe";

/// Root only (CAP_SYS_ADMIN over our mount namespace): `binary` opened
/// O_PATH through a detached overlayfs whose top layer is its directory.
/// The mount is never attached anywhere; it lives as long as a descriptor or
/// a process executing from it.
pub fn overlay_view(binary: &Path) -> io::Result<c_int> {
    let (dir, name) = match (binary.parent(), binary.file_name()) {
        (Some(d), Some(n)) if d.is_absolute() => (d, n),
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, "the runtime binary's path is not absolute")),
    };
    match std::fs::DirBuilder::new().mode(0o555).create(OVERLAY_LOWER) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let dir = dir.to_str().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the runtime binary's directory is not UTF-8"))?;
    let lower = format!("{}:{}", overlay_escape(dir), OVERLAY_LOWER);
    // xino: an inode-number scheme tried where the layers are on different file systems, and a line in the kernel's
    // log when it cannot be had; nothing here looks at inode numbers.
    let attrs = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    let mnt = mount::detached_fs("overlay", &[("lowerdir", &lower), ("xino", "off")], attrs)?;
    let opened = CString::new(name.as_bytes()).map_err(|_| io::Error::from_raw_os_error(EINVAL.0)).and_then(|n| {
        Errno::check(unsafe { ffi::openat(mnt, n.as_ptr(), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0) }).map_err(io::Error::from)
    });
    fd::close(mnt);
    opened
}

/// A path as one of overlayfs's `lowerdir` list: its `:` separate layers and `\` escapes.
fn overlay_escape(path: &str) -> String {
    path.replace('\\', "\\\\").replace(':', "\\:")
}

/// Root only: in a private mount namespace, the binary bound read-only on a
/// temporary file, opened O_PATH, then detached and the file removed.
fn readonly_bind() -> io::Result<c_int> {
    // By path: /proc/self/exe itself belongs to the mount namespace we are
    // about to leave, and mount(2) takes no source from another one. The
    // result is compared with the running binary below.
    let running = std::fs::metadata("/proc/self/exe")?;
    let binary = std::fs::read_link("/proc/self/exe")?;
    Errno::check(unsafe { ffi::unshare(CLONE_NEWNS) })?;
    // A slave, not private: the helper lives on in this namespace (the warm helper for a whole Runtime), and a
    // file system the host mounts later must still reach its runs' binds; ours never reach the host.
    mount::mount(None, Path::new("/"), None, MS_REC | MS_SLAVE, None)?;
    let spot = temp_file()?;
    let result = (|| -> io::Result<c_int> {
        mount::mount(Some(&binary), &spot, None, MS_BIND, None)?;
        mount::mount(
            None,
            &spot,
            None,
            MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
            None,
        )?;
        let c = cpath(&spot)?;
        let exe = Errno::check(unsafe { ffi::openat(AT_FDCWD, c.as_ptr(), O_PATH | O_CLOEXEC, 0) });
        mount::umount2(&spot, MNT_DETACH)?;
        let exe = exe?;
        let bound = std::fs::metadata(format!("/proc/self/fd/{}", exe))?;
        if (bound.dev(), bound.ino()) != (running.dev(), running.ino()) {
            fd::close(exe);
            return Err(io::Error::new(io::ErrorKind::Other, "the runtime binary was replaced"));
        }
        Ok(exe)
    })();
    let _ = std::fs::remove_file(&spot);
    result
}

fn temp_file() -> io::Result<PathBuf> {
    let dir = std::env::temp_dir();
    for n in 0..100u32 {
        let path = dir.join(format!("tsbox-runtime-{}-{}", std::process::id(), n));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::from_raw_os_error(17))
}

fn cstrings(items: Vec<OsString>) -> Vec<CString> {
    items
        .into_iter()
        .filter_map(|s| CString::new(s.into_vec()).ok())
        .collect()
}

/// fexecve(2) with our own argv and environment; returns only on failure.
fn reexec(exe: c_int) -> Errno {
    let argv = cstrings(std::env::args_os().collect());
    let envp = cstrings(
        std::env::vars_os()
            .map(|(k, v)| {
                let mut kv = k;
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect(),
    );
    let ptrs = |v: &[CString]| -> Vec<*const c_char> {
        v.iter().map(|c| c.as_ptr()).chain(Some(std::ptr::null())).collect()
    };
    let (argv_p, envp_p) = (ptrs(&argv), ptrs(&envp));
    unsafe { ffi::fexecve(exe, argv_p.as_ptr(), envp_p.as_ptr()) };
    let e = Errno::last();
    fd::close(exe);
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_sealed_copy_is_the_binary_and_can_never_be_written() {
        let binary = std::env::current_exe().unwrap();
        let copy = sealed_copy_of(&binary).unwrap();
        let seals = unsafe { ffi::fcntl(copy, F_GET_SEALS) };
        assert_eq!(seals & SEALS, SEALS, "sealed against writing, growing, shrinking and more seals");
        let path = format!("/proc/self/fd/{}", copy);
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&binary).unwrap());
        // Reopened for writing (what /proc/PID/exe would give a container): no byte goes in.
        let written = std::fs::OpenOptions::new().write(true).open(&path).and_then(|mut f| f.write_all(b"x"));
        assert!(written.is_err(), "a write must fail (EPERM from F_SEAL_WRITE)");
        fd::close(copy);
        assert!(sealed_copy_of(Path::new("/nonexistent/tsbox-runtime")).is_err());
    }

    /// A nest holder's copy: shared only when the record's process runs it sealed and it is the binary's build.
    #[test]
    fn a_holders_copy_is_shared_only_when_it_is_the_holders_sealed_copy_of_the_same_build() {
        use crate::nest_record::Record;
        use crate::sys::process::{self, Forked};
        let sleep = Path::new("/bin/sleep");
        let copy = sealed_copy_of(sleep).unwrap();
        let holder = match process::clone_fork(0).unwrap() {
            Forked::Child => {
                let argv = [b"sleep\0".as_ptr() as *const c_char, b"30\0".as_ptr() as *const c_char, std::ptr::null()];
                let envp = [std::ptr::null::<c_char>()];
                unsafe { ffi::fexecve(copy, argv.as_ptr(), envp.as_ptr()) };
                process::exit_now(127)
            }
            Forked::Parent(pid) => pid,
        };
        fd::close(copy);
        for _ in 0..500 {
            if std::fs::read_link(format!("/proc/{}/exe", holder)).map_or(false, |l| l.to_string_lossy().starts_with("/memfd:")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let record = |pid: i32, start: u64| Record { pid, start, ns_pid: 0, ns_start: 0, uid_mappings: vec![], gid_mappings: vec![] };
        let start = process::start_time(holder).unwrap();
        let held = held_copy(sleep, &record(holder, start)).expect("the holder's copy");
        let id = |f: &File| build_id(f).expect("a build id");
        assert_eq!(id(&unsafe { File::from_raw_fd(held) }), id(&File::open(sleep).unwrap()));
        let other_build = std::env::current_exe().unwrap();
        assert!(held_copy(&other_build, &record(holder, start)).is_none(), "another build");
        assert!(held_copy(sleep, &record(holder, start + 1)).is_none(), "another process under the holder's pid");
        let _ = process::kill(holder, 9);
        let _ = process::wait(holder);
        let me = process::own_pid();
        assert!(held_copy(&other_build, &record(me, process::start_time(me).unwrap())).is_none(), "a binary on disk, not sealed");
        assert!(build_id(&File::open("/proc/self/status").unwrap()).is_none(), "not an ELF file");
    }

    /// Root only (the overlay needs CAP_SYS_ADMIN), in a directory whose name has overlayfs's separator and escape.
    #[test]
    fn the_overlay_view_is_the_binary_and_can_never_be_written() {
        if crate::sys::cred::geteuid() != 0 {
            return;
        }
        let dir = std::env::temp_dir().join(format!("sealed-exe-test-{}-a:b\\c", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let binary = dir.join("tsbox-runtime");
        std::fs::copy(std::env::current_exe().unwrap(), &binary).unwrap();
        let view = overlay_view(&binary).unwrap();
        let path = format!("/proc/self/fd/{}", view);
        assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&binary).unwrap());
        let written = std::fs::OpenOptions::new().write(true).open(&path).map(drop);
        assert_eq!(written.unwrap_err().raw_os_error(), Some(30), "EROFS: the overlay has no upper layer");
        assert!(mount::mount_flags(Path::new(&path)).unwrap() & MS_RDONLY != 0);
        // Mounted nowhere: the mount table is as it was once the view is closed.
        assert!(!std::fs::read_to_string("/proc/self/mountinfo").unwrap().contains("sealed-exe-test"));
        fd::close(view);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(overlay_view(Path::new("tsbox-runtime")).is_err(), "a relative path is refused");
    }
}
