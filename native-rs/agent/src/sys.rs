//! The few libc calls the agent needs beyond container::sys (which stays
//! the container machinery's own surface). Static glibc provides them all.

use container::sys::{cpath, fd, Errno};

// The container crate's surface, for the agent's modules that name them here.
pub use container::sys::consts::{O_CLOEXEC, O_NOCTTY, O_RDONLY, O_RDWR};
pub use container::sys::fd::{dup_onto, set_nonblocking};
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
    #[link_name = "chroot"]
    fn chroot_raw(path: *const c_char) -> c_int;
    fn tcgetattr(fd: c_int, t: *mut Termios) -> c_int;
    fn tcsetattr(fd: c_int, action: c_int, t: *const Termios) -> c_int;
    fn cfmakeraw(t: *mut Termios);
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int;
    fn clock_settime(clock: c_int, ts: *const Timespec) -> c_int;
    #[link_name = "chown"]
    fn chown_raw(path: *const c_char, uid: u32, gid: u32) -> c_int;
}

const TCSANOW: c_int = 0;
const TIOCEXCL: c_ulong = 0x540C;
/// _IOW('R', 0x03, int[2])
const RNDADDENTROPY: c_ulong = 0x4008_5203;
/// _IO('R', 0x07): the CRNG takes its next key from the pool now (CAP_SYS_ADMIN).
const RNDRESEEDCRNG: c_ulong = 0x5207;
const WNOHANG: c_int = 1;
const CLOCK_REALTIME: c_int = 0;

pub const EAGAIN: Errno = Errno(11);

/// open(2); files it creates are the agent's alone.
pub fn open_path(path: &Path, flags: c_int) -> Result<c_int, Errno> {
    fd::open_path(path, flags, 0o600)
}

pub fn chroot(path: &Path) -> Result<(), Errno> {
    let c = cpath(path)?;
    Errno::check(unsafe { chroot_raw(c.as_ptr()) }).map(drop)
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

/// A new pty pair (container::sys::tty::open_pty); the caller sets the size.
/// With `root` (an exec: /proc/PID/root of the container), one of that
/// container's devpts, so the process's terminal has a name there
/// (ttyname); the guest's own when that fails.
pub fn open_pty(root: Option<&std::path::Path>) -> Result<(c_int, c_int), Errno> {
    if let Some(root) = root {
        if let Ok(pair) = container::sys::tty::open_pty_in(root, 80, 24) {
            return Ok(pair);
        }
    }
    container::sys::tty::open_pty(80, 24)
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

/// Mixes `seed` into the kernel's pool, credits it and reseeds the CRNG from
/// it: a guest restored from a snapshot would otherwise repeat the RNG state
/// every run started from it. The reseed matters: an initialised CRNG takes a
/// new key from the pool only on its own timer (up to 60 s on 6.1), so without
/// it every page restoring the served snapshot read the same first bytes of
/// /dev/urandom (a sweep, stop 64: three fresh browsers, one sequence).
pub fn add_entropy(seed: &[u8]) -> Result<(), Errno> {
    let fd = open_path(Path::new("/dev/urandom"), O_RDWR | O_CLOEXEC)?;
    let mut req: Vec<u8> = Vec::with_capacity(8 + seed.len());
    req.extend_from_slice(&((seed.len() * 8) as c_int).to_ne_bytes());
    req.extend_from_slice(&(seed.len() as c_int).to_ne_bytes());
    req.extend_from_slice(seed);
    let r = Errno::check(unsafe { ioctl(fd, RNDADDENTROPY, req.as_ptr()) })
        .and_then(|_| Errno::check(unsafe { ioctl(fd, RNDRESEEDCRNG, std::ptr::null::<u8>()) }));
    container::sys::fd::close(fd);
    r.map(drop)
}


pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), Errno> {
    let c = cpath(path)?;
    Errno::check(unsafe { chown_raw(c.as_ptr(), uid, gid) }).map(drop)
}

