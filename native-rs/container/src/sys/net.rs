//! Interface flags through the classic ioctl interface (no netlink needed to
//! bring `lo` up).

use super::consts::*;
use super::types::{IfMap, Ifreq, IfreqData};
use super::{ffi, Errno};
use std::os::raw::c_char;

pub fn set_link_up(name: &str) -> Result<(), Errno> {
    if name.len() >= IFNAMSIZ {
        return Err(super::errno::EINVAL);
    }
    let sock = Errno::check(unsafe { ffi::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) })?;
    let zero_map = IfMap {
        mem_start: 0,
        mem_end: 0,
        base_addr: 0,
        irq: 0,
        dma: 0,
        port: 0,
    };
    let mut req = Ifreq {
        name: [0; IFNAMSIZ],
        data: IfreqData { map: zero_map },
    };
    for (dst, src) in req.name.iter_mut().zip(name.bytes()) {
        *dst = src as c_char;
    }
    let result = (|| {
        Errno::check(unsafe { ffi::ioctl(sock, SIOCGIFFLAGS, &mut req as *mut Ifreq) })?;
        unsafe { req.data.flags |= IFF_UP };
        Errno::check(unsafe { ffi::ioctl(sock, SIOCSIFFLAGS, &mut req as *mut Ifreq) }).map(drop)
    })();
    super::fd::close(sock);
    result
}
