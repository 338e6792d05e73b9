//! Resource limits: names ↔ numbers and applying them (before the uid switch,
//! since raising a hard limit needs CAP_SYS_RESOURCE).

use crate::error::{Context, Error};
use crate::sys::errno::EPERM;
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
        match sys.setrlimit(l.resource, l.soft, l.hard) {
            Ok(()) => {}
            // The usual cause, said plainly: the limit is above what this host lets us have.
            Err(EPERM) => {
                return Err(Error::errno(
                    format!("setting {} to {}:{} ({})", NAMES[l.resource as usize], shown(l.soft), shown(l.hard), why_refused(l, nr_open())),
                    EPERM,
                ))
            }
            Err(e) => {
                return Err(e).step(|| {
                    format!(
                        "setting {} to {}:{}",
                        NAMES[l.resource as usize],
                        shown(l.soft),
                        shown(l.hard)
                    )
                })
            }
        }
    }
    Ok(())
}

/// fs.nr_open: the most open files the kernel gives one process, whoever asks.
fn nr_open() -> Option<u64> {
    std::fs::read_to_string("/proc/sys/fs/nr_open").ok()?.trim().parse().ok()
}

/// Why the kernel refused `l` (EPERM): past fs.nr_open for open files even
/// root cannot go (the hint of CAP_SYS_RESOURCE misled root there), else a
/// hard limit raised above the host's.
fn why_refused(l: &Rlimit, nr_open: Option<u64>) -> String {
    match nr_open {
        Some(max) if NAMES[l.resource as usize] == "RLIMIT_NOFILE" && l.hard > max => {
            format!("above the kernel's fs.nr_open, {}: the most open files any process may have", max)
        }
        _ => "raising a hard limit above the host's needs CAP_SYS_RESOURCE on the host".to_string(),
    }
}

fn shown(v: u64) -> String {
    if v == u64::MAX {
        "unlimited".to_string()
    } else {
        v.to_string()
    }
}

/// Sets the limits on process `pid` from outside its user namespace, where
/// our privileges count: rlimits are not namespaced, and raising a hard limit
/// takes CAP_SYS_RESOURCE in the initial user namespace, which root loses in
/// the container's. Only raised here, never lowered: the set-up that runs
/// before the process's own `apply` needs what it has (a low `nofile` failed
/// its mounts). Best effort: a limit we may not set either (rootless, above
/// our own hard limit) is left to `apply`, which reports it.
pub fn preset(pid: i32, limits: &[Rlimit]) {
    use crate::sys::cred::{get_prlimit, prlimit};
    for l in limits {
        if let Ok((soft, hard)) = get_prlimit(pid, l.resource) {
            if l.soft > soft || l.hard > hard {
                let _ = prlimit(pid, l.resource, soft.max(l.soft), hard.max(l.hard));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_open_files_limit_past_nr_open_says_so() {
        let nofile = super::Rlimit { resource: super::from_name("RLIMIT_NOFILE").unwrap(), soft: 2_000_000, hard: 2_000_000 };
        assert_eq!(super::why_refused(&nofile, Some(1_048_576)), "above the kernel's fs.nr_open, 1048576: the most open files any process may have");
        assert!(super::why_refused(&nofile, Some(4_000_000)).contains("CAP_SYS_RESOURCE"));
        let nproc = super::Rlimit { resource: super::from_name("RLIMIT_NPROC").unwrap(), soft: 1 << 40, hard: 1 << 40 };
        assert!(super::why_refused(&nproc, Some(1)).contains("CAP_SYS_RESOURCE"));
    }

    #[test]
    fn names() {
        assert_eq!(super::from_name("RLIMIT_NOFILE"), Some(7));
        assert_eq!(super::from_name("RLIMIT_RTTIME"), Some(15));
        assert_eq!(super::from_name("NOFILE"), None);
    }
}
