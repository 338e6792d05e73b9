//! Kernel and glibc constants. Values are from the uapi headers; the few that
//! differ between x86_64, i686 and aarch64 (syscall numbers) are split with `cfg`.

use std::os::raw::{c_int, c_long, c_uint, c_ulong};

// Syscalls without a glibc 2.36 wrapper we can rely on.
#[cfg(target_arch = "x86_64")]
mod nr {
    use std::os::raw::c_long;
    pub const SYS_CLONE: c_long = 56;
    pub const SYS_PIVOT_ROOT: c_long = 155;
    pub const SYS_CAPSET: c_long = 126;
    pub const SYS_KEYCTL: c_long = 250;
    pub const SYS_MEMFD_CREATE: c_long = 319;
    pub const SYS_SECCOMP: c_long = 317;
    pub const SYS_GETDENTS64: c_long = 217;
}
#[cfg(target_arch = "x86")]
mod nr {
    use std::os::raw::c_long;
    pub const SYS_CLONE: c_long = 120;
    pub const SYS_PIVOT_ROOT: c_long = 217;
    pub const SYS_CAPSET: c_long = 185;
    pub const SYS_KEYCTL: c_long = 288;
    pub const SYS_MEMFD_CREATE: c_long = 356;
    pub const SYS_SECCOMP: c_long = 354;
    pub const SYS_GETDENTS64: c_long = 220;
}
// aarch64 uses the generic table (include/uapi/asm-generic/unistd.h).
#[cfg(target_arch = "aarch64")]
mod nr {
    use std::os::raw::c_long;
    pub const SYS_CLONE: c_long = 220;
    pub const SYS_PIVOT_ROOT: c_long = 41;
    pub const SYS_CAPSET: c_long = 91;
    pub const SYS_KEYCTL: c_long = 219;
    pub const SYS_MEMFD_CREATE: c_long = 279;
    pub const SYS_SECCOMP: c_long = 277;
    pub const SYS_GETDENTS64: c_long = 61;
}
pub use nr::*;
// Same numbers on every architecture (unified table from 424 on).
pub const SYS_PIDFD_SEND_SIGNAL: c_long = 424;
pub const SYS_PIDFD_OPEN: c_long = 434;
pub const SYS_CLONE3: c_long = 435;
pub const SYS_CLOSE_RANGE: c_long = 436;
pub const SYS_OPENAT2: c_long = 437;
pub const SYS_OPEN_TREE: c_long = 428;
pub const SYS_MOVE_MOUNT: c_long = 429;
pub const SYS_FSOPEN: c_long = 430;
pub const SYS_FSCONFIG: c_long = 431;
pub const SYS_FSMOUNT: c_long = 432;
pub const SYS_MOUNT_SETATTR: c_long = 442;

// clone(2) / setns(2) namespace flags
pub const CLONE_NEWNS: c_int = 0x0002_0000;
pub const CLONE_NEWCGROUP: c_int = 0x0200_0000;
pub const CLONE_NEWUTS: c_int = 0x0400_0000;
pub const CLONE_NEWIPC: c_int = 0x0800_0000;
pub const CLONE_NEWUSER: c_int = 0x1000_0000;
pub const CLONE_NEWPID: c_int = 0x2000_0000;
pub const CLONE_NEWNET: c_int = 0x4000_0000;
/// clone3 only (Linux 5.7): start the child in the cgroup of `clone_args.cgroup`.
pub const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

// mount(2) flags
pub const MS_RDONLY: c_ulong = 1;
pub const MS_NOSUID: c_ulong = 2;
pub const MS_NODEV: c_ulong = 4;
pub const MS_NOEXEC: c_ulong = 8;
pub const MS_SYNCHRONOUS: c_ulong = 16;
pub const MS_REMOUNT: c_ulong = 32;
pub const MS_MANDLOCK: c_ulong = 64;
pub const MS_DIRSYNC: c_ulong = 128;
pub const MS_NOATIME: c_ulong = 1024;
pub const MS_NODIRATIME: c_ulong = 2048;
pub const MS_BIND: c_ulong = 4096;
pub const MS_REC: c_ulong = 16384;
pub const MS_SILENT: c_ulong = 32768;
pub const MS_UNBINDABLE: c_ulong = 1 << 17;
pub const MS_PRIVATE: c_ulong = 1 << 18;
pub const MS_SLAVE: c_ulong = 1 << 19;
pub const MS_SHARED: c_ulong = 1 << 20;
pub const MS_RELATIME: c_ulong = 1 << 21;
pub const MS_STRICTATIME: c_ulong = 1 << 24;
pub const MS_LAZYTIME: c_ulong = 1 << 25;
pub const MNT_DETACH: c_int = 2;

// statvfs f_flag bits (ST_RELATIME differs from MS_RELATIME)
pub const ST_RDONLY: c_ulong = 1;
pub const ST_NOSUID: c_ulong = 2;
pub const ST_NODEV: c_ulong = 4;
pub const ST_NOEXEC: c_ulong = 8;
pub const ST_NOATIME: c_ulong = 1024;
pub const ST_NODIRATIME: c_ulong = 2048;
pub const ST_RELATIME: c_ulong = 4096;

// prctl(2)
pub const PR_SET_PDEATHSIG: c_int = 1;
pub const PR_GET_PDEATHSIG: c_int = 2;
pub const PR_SET_DUMPABLE: c_int = 4;
pub const PR_SET_KEEPCAPS: c_int = 8;
pub const PR_SET_NAME: c_int = 15;
pub const PR_CAPBSET_DROP: c_int = 24;
pub const PR_SET_NO_NEW_PRIVS: c_int = 38;
pub const PR_SET_CHILD_SUBREAPER: c_int = 36;
pub const PR_CAP_AMBIENT: c_int = 47;
pub const PR_CAP_AMBIENT_RAISE: c_ulong = 2;
pub const PR_CAP_AMBIENT_CLEAR_ALL: c_ulong = 4;

// keyctl(2)
pub const KEYCTL_JOIN_SESSION_KEYRING: c_int = 1;

// capabilities
pub const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

// signals
pub const SIGHUP: c_int = 1;
pub const SIGINT: c_int = 2;
pub const SIGQUIT: c_int = 3;
pub const SIGKILL: c_int = 9;
pub const SIGUSR1: c_int = 10;
pub const SIGUSR2: c_int = 12;
pub const SIGPIPE: c_int = 13;
pub const SIGTERM: c_int = 15;
pub const SIGCHLD: c_int = 17;
pub const SIGCONT: c_int = 18;
/// Ignored by default (so a request sent early is never fatal): the network keeper's detach request.
pub const SIGURG: c_int = 23;
pub const SIGSTOP: c_int = 19;
pub const SIGWINCH: c_int = 28;
pub const NSIG: c_int = 65;
pub const SIG_BLOCK: c_int = 0;
pub const SIG_UNBLOCK: c_int = 1;
pub const SIG_SETMASK: c_int = 2;
pub const SA_SIGINFO: c_int = 4;
pub const SA_RESTART: c_int = 0x1000_0000;
pub const SIG_DFL: usize = 0;
/// si_code of signals the kernel generated itself (e.g. ^C on a tty).
pub const SI_KERNEL: c_int = 0x80;

// files and descriptors
pub const O_RDONLY: c_int = 0;
pub const O_WRONLY: c_int = 1;
pub const O_RDWR: c_int = 2;
pub const O_CREAT: c_int = 0o100;
pub const O_NOCTTY: c_int = 0o400;
pub const O_APPEND: c_int = 0o2000;
pub const O_NONBLOCK: c_int = 0o4000;
pub const O_CLOEXEC: c_int = 0o2000000;
pub const O_EXCL: c_int = 0o200;
pub const O_DIRECTORY: c_int = 0o200000;
pub const O_NOFOLLOW: c_int = 0o400000;
pub const O_PATH: c_int = 0o10000000;
pub const AT_FDCWD: c_int = -100;
pub const AT_EMPTY_PATH: c_int = 0x1000;
pub const AT_RECURSIVE: c_int = 0x8000;
// open_tree(2), move_mount(2), mount_setattr(2)
pub const OPEN_TREE_CLONE: c_int = 1;
pub const MOVE_MOUNT_F_EMPTY_PATH: c_int = 0x04;
pub const MOVE_MOUNT_T_EMPTY_PATH: c_int = 0x40;
pub const MOUNT_ATTR_RDONLY: u64 = 0x01;
pub const MOUNT_ATTR_NOSUID: u64 = 0x02;
pub const MOUNT_ATTR_NODEV: u64 = 0x04;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
// fsopen(2), fsconfig(2), fsmount(2) (Linux 5.2)
pub const FSOPEN_CLOEXEC: c_int = 0x01;
pub const FSCONFIG_SET_STRING: c_int = 1;
pub const FSCONFIG_CMD_CREATE: c_int = 6;
pub const FSMOUNT_CLOEXEC: c_int = 0x01;
// lseek(2): the next data / the next hole at or after an offset
pub const SEEK_DATA: c_int = 3;
pub const SEEK_HOLE: c_int = 4;
// flock(2)
pub const LOCK_EX: c_int = 2;
pub const LOCK_NB: c_int = 4;
pub const LOCK_UN: c_int = 8;
// openat2(2) resolve flags
pub const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
pub const RESOLVE_NO_SYMLINKS: u64 = 0x04;
pub const RESOLVE_IN_ROOT: u64 = 0x10;
/// statfs f_type of procfs, where magic links live.
pub const PROC_SUPER_MAGIC: c_long = 0x9fa0;
pub const OVERLAYFS_SUPER_MAGIC: c_long = 0x794c_7630;
pub const F_GETFL: c_int = 3;
pub const F_SETFL: c_int = 4;
pub const POLLIN: i16 = 0x1;
pub const POLLOUT: i16 = 0x4;
pub const POLLERR: i16 = 0x8;
pub const POLLNVAL: i16 = 0x20;

// inotify(7) events
pub const IN_OPEN: u32 = 0x20;
pub const IN_ATTRIB: u32 = 0x4;
pub const IN_DELETE_SELF: u32 = 0x400;
pub const IN_MOVE_SELF: u32 = 0x800;

pub const AT_SYMLINK_NOFOLLOW: c_int = 0x100;
pub const AT_REMOVEDIR: c_int = 0x200;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFBLK: u32 = 0o060000;
pub const S_IFIFO: u32 = 0o010000;
pub const F_GETFD: c_int = 1;
pub const F_SETFD: c_int = 2;
pub const FD_CLOEXEC: c_int = 1;
pub const F_DUPFD_CLOEXEC: c_int = 1030;
pub const CLOSE_RANGE_CLOEXEC: c_ulong = 1 << 2;
// memfd_create(2) and its seals (fcntl F_ADD_SEALS / F_GET_SEALS)
pub const MFD_CLOEXEC: c_uint = 1;
pub const MFD_ALLOW_SEALING: c_uint = 2;
/// Linux 6.3+: an executable memfd even where vm.memfd_noexec asks otherwise.
pub const MFD_EXEC: c_uint = 0x10;
pub const F_ADD_SEALS: c_int = 1033;
pub const F_GET_SEALS: c_int = 1034;
pub const F_SEAL_SEAL: c_int = 1;
pub const F_SEAL_SHRINK: c_int = 2;
pub const F_SEAL_GROW: c_int = 4;
pub const F_SEAL_WRITE: c_int = 8;
/// Linux 6.3+: the mode bits can no longer be changed.
pub const F_SEAL_EXEC: c_int = 0x20;
pub const POLLHUP: i16 = 0x10;
pub const WNOHANG: c_int = 1;

// ioctls (asm-generic values, identical on x86 and x86_64)
pub const TIOCSCTTY: c_ulong = 0x540E;
pub const TIOCSWINSZ: c_ulong = 0x5414;
pub const TCGETS: c_ulong = 0x5401;
pub const TCSETS: c_ulong = 0x5402;
/// termios c_oflag: output post-processing (ONLCR and friends apply only with it).
pub const OPOST: u32 = 0o1;
pub const TCFLSH: c_ulong = 0x540B;
/// TCFLSH's argument: on a pty master, what it wrote that the slave's line discipline has not taken yet.
pub const TCOFLUSH: c_ulong = 1;
/// termios c_lflag: INTR/QUIT/SUSP characters send signals; NOFLSH: without the input flush that goes with them.
pub const ISIG: u32 = 0o1;
pub const NOFLSH: u32 = 0o200;
/// termios c_cc indices of the characters ISIG acts on.
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VSUSP: usize = 10;
pub const TIOCSPTLCK: c_ulong = 0x4004_5431; // _IOW('T', 0x31, int)
pub const TIOCGPTN: c_ulong = 0x8004_5430; // _IOR('T', 0x30, unsigned int)
pub const TIOCGPTPEER: c_ulong = 0x5441; // _IO('T', 0x41), Linux >= 4.13
pub const SIOCGIFFLAGS: c_ulong = 0x8913;
pub const SIOCSIFFLAGS: c_ulong = 0x8914;
pub const IFF_UP: i16 = 0x1;
pub const IFNAMSIZ: usize = 16;
pub const AF_INET: c_int = 2;
pub const SOCK_DGRAM: c_int = 2;
pub const SOCK_CLOEXEC: c_int = O_CLOEXEC;

// sockets and netlink (net/netlink.rs)
pub const AF_NETLINK: c_int = 16;
pub const SOCK_RAW: c_int = 3;
/// With SOCK_RAW: the caller writes the IP header (IP_HDRINCL implied).
pub const IPPROTO_RAW: c_int = 255;
pub const NETLINK_ROUTE: c_int = 0;
pub const NETLINK_NETFILTER: c_int = 12;
pub const SOL_SOCKET: c_int = 1;
pub const SOL_IP: c_int = 0;
pub const SO_RCVTIMEO: c_int = 20;
pub const SO_ERROR: c_int = 4;
pub const SO_LINGER: c_int = 13;
pub const SO_BINDTODEVICE: c_int = 25;
pub const SOCK_STREAM: c_int = 1;
pub const SOCK_NONBLOCK: c_int = 0o4000;
pub const EINPROGRESS: i32 = 115;
pub const SO_ORIGINAL_DST: c_int = 80;
pub const SPLICE_F_MOVE: u32 = 1;
pub const SPLICE_F_NONBLOCK: u32 = 2;

pub const CLONE_PARENT: c_int = 0x0000_8000;
