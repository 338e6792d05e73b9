//! The few libc calls the agent needs beyond container::sys (which stays
//! the container machinery's own surface). Static glibc provides them all.

use container::sys::{cpath, Errno};
use std::os::raw::{c_char, c_int, c_long, c_ulong};
use std::path::Path;

/// `struct termios` is 60 bytes on both i686 and x86_64 glibc; only libc
/// touches its fields (cfmakeraw), so an aligned opaque buffer is enough.
#[repr(C)]
struct Termios([u32; 16]);

#[repr(C)]
struct Timespec {
    tv_sec: c_long,
    tv_nsec: c_long,
}

extern "C" {
    fn open(path: *const c_char, flags: c_int, ...) -> c_int;
    #[link_name = "chroot"]
    fn chroot_raw(path: *const c_char) -> c_int;
    fn dup2(old: c_int, new: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn tcgetattr(fd: c_int, t: *mut Termios) -> c_int;
    fn tcsetattr(fd: c_int, action: c_int, t: *const Termios) -> c_int;
    fn cfmakeraw(t: *mut Termios);
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn clock_settime(clock: c_int, ts: *const Timespec) -> c_int;
    fn setfsuid(uid: u32) -> c_int;
    fn setfsgid(gid: u32) -> c_int;
    #[link_name = "chown"]
    fn chown_raw(path: *const c_char, uid: u32, gid: u32) -> c_int;
}

pub const O_RDONLY: c_int = 0;
pub const O_RDWR: c_int = 2;
pub const O_NOCTTY: c_int = 0o400;
pub const O_NONBLOCK: c_int = 0o4000;
pub const O_CLOEXEC: c_int = 0o2000000;
const F_GETFL: c_int = 3;
const F_SETFL: c_int = 4;
const TCSANOW: c_int = 0;
const TIOCSPTLCK: c_ulong = 0x4004_5431;
const TIOCEXCL: c_ulong = 0x540C;
const TIOCGPTN: c_ulong = 0x8004_5430;
/// _IOW('R', 0x03, int[2])
const RNDADDENTROPY: c_ulong = 0x4008_5203;
const WNOHANG: c_int = 1;
const CLOCK_REALTIME: c_int = 0;

pub const EAGAIN: Errno = Errno(11);

pub fn open_path(path: &Path, flags: c_int) -> Result<c_int, Errno> {
    let c = cpath(path)?;
    Errno::check(unsafe { open(c.as_ptr(), flags, 0o600 as c_int) })
}

pub fn chroot(path: &Path) -> Result<(), Errno> {
    let c = cpath(path)?;
    Errno::check(unsafe { chroot_raw(c.as_ptr()) }).map(drop)
}

pub fn dup_onto(old: c_int, new: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { dup2(old, new) }).map(drop)
}

pub fn set_nonblocking(fd: c_int) -> Result<(), Errno> {
    let flags = Errno::check(unsafe { fcntl(fd, F_GETFL) })?;
    Errno::check(unsafe { fcntl(fd, F_SETFL, flags | O_NONBLOCK) }).map(drop)
}

/// Raw mode: no echo, no line editing, no CR/LF translation, no signals.
pub fn make_raw(fd: c_int) -> Result<(), Errno> {
    let mut t = Termios([0; 16]);
    Errno::check(unsafe { tcgetattr(fd, &mut t) })?;
    unsafe { cfmakeraw(&mut t) };
    Errno::check(unsafe { tcsetattr(fd, TCSANOW, &t) }).map(drop)
}

/// Exclusive mode on a tty: every later open(2) of it fails with EBUSY
/// unless the opener has CAP_SYS_ADMIN in the guest's initial user
/// namespace, which no container has (each has its own user namespace).
/// Keeps the agent's link (/dev/hvc1) to itself, however a node for it
/// got into a container.
pub fn set_exclusive(fd: c_int) -> Result<(), Errno> {
    Errno::check(unsafe { ioctl(fd, TIOCEXCL) }).map(drop)
}

/// A new pty pair from /dev/ptmx: (master, slave), both close-on-exec.
pub fn open_pty() -> Result<(c_int, c_int), Errno> {
    let master = open_path(Path::new("/dev/ptmx"), O_RDWR | O_NOCTTY | O_CLOEXEC)?;
    let result = (|| {
        let unlock: c_int = 0;
        Errno::check(unsafe { ioctl(master, TIOCSPTLCK, &unlock as *const c_int) })?;
        let mut n: u32 = 0;
        Errno::check(unsafe { ioctl(master, TIOCGPTN, &mut n as *mut u32) })?;
        open_path(
            Path::new(&format!("/dev/pts/{}", n)),
            O_RDWR | O_NOCTTY | O_CLOEXEC,
        )
    })();
    match result {
        Ok(slave) => Ok((master, slave)),
        Err(e) => {
            container::sys::fd::close(master);
            Err(e)
        }
    }
}

/// A child that has ended: (pid, raw wait status), without blocking.
pub fn reap_any() -> Option<(c_int, c_int)> {
    let mut status: c_int = 0;
    let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
    if pid > 0 {
        Some((pid, status))
    } else {
        None
    }
}

pub fn set_clock_ms(ms: u64) -> Result<(), Errno> {
    let ts = Timespec {
        tv_sec: (ms / 1000) as c_long,
        tv_nsec: ((ms % 1000) * 1_000_000) as c_long,
    };
    Errno::check(unsafe { clock_settime(CLOCK_REALTIME, &ts) }).map(drop)
}

/// Mixes `seed` into the kernel's pool and credits it: a guest restored from
/// a snapshot would otherwise repeat the RNG state every run started from it.
pub fn add_entropy(seed: &[u8]) -> Result<(), Errno> {
    let fd = open_path(Path::new("/dev/urandom"), O_RDWR | O_CLOEXEC)?;
    let mut req: Vec<u8> = Vec::with_capacity(8 + seed.len());
    req.extend_from_slice(&((seed.len() * 8) as c_int).to_ne_bytes());
    req.extend_from_slice(&(seed.len() as c_int).to_ne_bytes());
    req.extend_from_slice(seed);
    let r = Errno::check(unsafe { ioctl(fd, RNDADDENTROPY, req.as_ptr()) });
    container::sys::fd::close(fd);
    r.map(drop)
}


pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), Errno> {
    let c = cpath(path)?;
    Errno::check(unsafe { chown_raw(c.as_ptr(), uid, gid) }).map(drop)
}

/// File-system ids only (euid stays): files made with them belong to `uid`/`gid`.
pub fn set_fs_ids(uid: u32, gid: u32) {
    unsafe {
        setfsgid(gid);
        setfsuid(uid);
    }
}
