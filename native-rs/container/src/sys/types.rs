//! C struct layouts, matched field by field to glibc 2.36 / uapi headers for
//! x86_64 and i686. Sizes are asserted in the tests at the bottom.

use super::consts::IFNAMSIZ;
use std::os::raw::{c_char, c_int, c_short, c_ulong};

/// glibc `sigset_t`: 1024 bits.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct SigSet {
    pub val: [c_ulong; 1024 / (8 * std::mem::size_of::<c_ulong>())],
}

/// glibc's userspace `struct sigaction` (same field order on x86 and x86_64).
#[repr(C)]
pub struct SigAction {
    /// `sa_handler` / `sa_sigaction` union: SIG_DFL (0), SIG_IGN (1) or a fn pointer.
    pub sa_sigaction: usize,
    pub sa_mask: SigSet,
    pub sa_flags: c_int,
    pub sa_restorer: usize,
}

/// The leading, arch-independent fields of `siginfo_t`.
#[repr(C)]
pub struct SigInfoHead {
    pub si_signo: c_int,
    pub si_errno: c_int,
    pub si_code: c_int,
}

/// `struct timespec` with glibc's default time_t (32-bit on i686, as the rest of this build).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct Timespec {
    pub tv_sec: std::os::raw::c_long,
    pub tv_nsec: std::os::raw::c_long,
}

/// glibc `struct statvfs64` (bits/statvfs.h); 32-bit builds have `__f_unused`.
#[repr(C)]
pub struct Statvfs64 {
    pub f_bsize: c_ulong,
    pub f_frsize: c_ulong,
    pub f_blocks: u64,
    pub f_bfree: u64,
    pub f_bavail: u64,
    pub f_files: u64,
    pub f_ffree: u64,
    pub f_favail: u64,
    pub f_fsid: c_ulong,
    #[cfg(target_pointer_width = "32")]
    pub f_unused: c_int,
    pub f_flag: c_ulong,
    pub f_namemax: c_ulong,
    pub f_spare: [c_int; 6],
}

/// `struct rlimit64`
#[repr(C)]
pub struct Rlimit64 {
    pub rlim_cur: u64,
    pub rlim_max: u64,
}

/// `struct __user_cap_header_struct`
#[repr(C)]
pub struct CapUserHeader {
    pub version: u32,
    pub pid: c_int,
}

/// `struct __user_cap_data_struct`; version 3 takes an array of two.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct CapUserData {
    pub effective: u32,
    pub permitted: u32,
    pub inheritable: u32,
}

/// `struct open_how` (openat2(2)); the same on every architecture.
#[repr(C)]
pub struct OpenHow {
    pub flags: u64,
    pub mode: u64,
    pub resolve: u64,
}

/// `struct mount_attr` (mount_setattr(2)); the same on every architecture.
#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// `struct winsize`
#[repr(C)]
pub struct Winsize {
    pub ws_row: u16,
    pub ws_col: u16,
    pub ws_xpixel: u16,
    pub ws_ypixel: u16,
}

/// `struct pollfd`
#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: c_short,
    pub revents: c_short,
}

/// `struct ifmap`: only here to give `ifreq`'s union its real size and alignment.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct IfMap {
    pub mem_start: c_ulong,
    pub mem_end: c_ulong,
    pub base_addr: u16,
    pub irq: u8,
    pub dma: u8,
    pub port: u8,
}

/// The `ifr_ifru` union of `struct ifreq`, reduced to the member we use.
#[repr(C)]
#[derive(Clone, Copy)]
pub union IfreqData {
    pub flags: c_short,
    pub map: IfMap,
}

/// `struct ifreq`
#[repr(C)]
pub struct Ifreq {
    pub name: [c_char; IFNAMSIZ],
    pub data: IfreqData,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    #[test]
    fn layouts_match_glibc() {
        let wide = size_of::<usize>() == 8;
        assert_eq!(size_of::<SigSet>(), 128);
        assert_eq!(size_of::<SigAction>(), if wide { 152 } else { 140 });
        assert_eq!(size_of::<Statvfs64>(), if wide { 112 } else { 96 });
        assert_eq!(size_of::<Ifreq>(), if wide { 40 } else { 32 });
        assert_eq!(size_of::<Rlimit64>(), 16);
        assert_eq!(size_of::<Timespec>(), if wide { 16 } else { 8 });
        assert_eq!(size_of::<CapUserHeader>(), 8);
        assert_eq!(size_of::<CapUserData>(), 12);
        assert_eq!(size_of::<Winsize>(), 8);
        assert_eq!(size_of::<PollFd>(), 8);
        assert_eq!(size_of::<OpenHow>(), 24);
        assert_eq!(size_of::<MountAttr>(), 32);
    }
}
