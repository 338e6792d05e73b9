//! Resource limits: names ↔ numbers and applying them (before the uid switch,
//! since raising a hard limit needs CAP_SYS_RESOURCE).

use crate::error::{Context, Error};
use crate::spec::Rlimit;
use crate::syscall::Syscall;

/// Index = RLIMIT_* number (asm-generic/resource.h; same on x86 and x86_64).
pub const NAMES: [&str; 16] = [
    "RLIMIT_CPU",
    "RLIMIT_FSIZE",
    "RLIMIT_DATA",
    "RLIMIT_STACK",
    "RLIMIT_CORE",
    "RLIMIT_RSS",
    "RLIMIT_NPROC",
    "RLIMIT_NOFILE",
    "RLIMIT_MEMLOCK",
    "RLIMIT_AS",
    "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
];

pub fn from_name(name: &str) -> Option<u32> {
    NAMES.iter().position(|n| *n == name).map(|i| i as u32)
}

pub fn apply(sys: &dyn Syscall, limits: &[Rlimit]) -> Result<(), Error> {
    for l in limits {
        sys.setrlimit(l.resource, l.soft, l.hard).step(|| {
            format!(
                "setting {} to {}/{}",
                NAMES[l.resource as usize], l.soft, l.hard
            )
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn names() {
        assert_eq!(super::from_name("RLIMIT_NOFILE"), Some(7));
        assert_eq!(super::from_name("RLIMIT_RTTIME"), Some(15));
        assert_eq!(super::from_name("NOFILE"), None);
    }
}
