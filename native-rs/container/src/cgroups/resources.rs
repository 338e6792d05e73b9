//! OCI `linux.resources`, the subset tsbox applies (parsed in `spec.rs`),
//! and the names of the limits in it, for the warning about limits a host
//! cannot apply.

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub memory: Memory,
    pub cpu: Cpu,
    pub pids: Pids,
    pub block_io: BlockIo,
}

/// Bytes. OCI's `swap` is memory + swap together (docker's --memory-swap); -1: unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub limit: Option<i64>,
    pub reservation: Option<i64>,
    pub swap: Option<i64>,
}

/// `shares` (v1 cpu.shares, 2..262144; v2 cpu.weight by conversion), CFS
/// `quota`/`period` in µs (quota -1: none), `cpus`/`mems` in cpuset list syntax.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cpu {
    pub shares: Option<u64>,
    pub quota: Option<i64>,
    pub period: Option<u64>,
    pub cpus: Option<String>,
    pub mems: Option<String>,
}

/// 0 or -1: unlimited.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pids {
    pub limit: Option<i64>,
}

/// 10..1000 (v1 blkio weight; v2 io.weight by conversion).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BlockIo {
    pub weight: Option<u16>,
}

/// One limit a user can ask for, as the warnings name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Limit {
    Memory,
    MemorySwap,
    MemoryReservation,
    CpuShares,
    CpuQuota,
    Cpuset,
    Pids,
    BlkioWeight,
}

impl Limit {
    pub fn name(self) -> &'static str {
        match self {
            Limit::Memory => "memory limit",
            Limit::MemorySwap => "memory+swap limit",
            Limit::MemoryReservation => "memory reservation",
            Limit::CpuShares => "CPU shares",
            Limit::CpuQuota => "CPU quota",
            Limit::Cpuset => "cpuset",
            Limit::Pids => "pids limit",
            Limit::BlkioWeight => "block-I/O weight",
        }
    }
}

/// "memory limit, CPU quota and pids limit".
pub fn names(limits: &[Limit]) -> String {
    let names: Vec<&str> = limits.iter().map(|l| l.name()).collect();
    match names.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {}", rest.join(", "), last),
    }
}

impl Resources {
    /// The limits this asks for, in a fixed order.
    pub fn requested(&self) -> Vec<Limit> {
        let m = &self.memory;
        let c = &self.cpu;
        let wanted = [
            (Limit::Memory, m.limit.is_some()),
            (Limit::MemorySwap, m.swap.is_some()),
            (Limit::MemoryReservation, m.reservation.is_some()),
            (Limit::CpuShares, c.shares.is_some()),
            (Limit::CpuQuota, c.quota.is_some() || c.period.is_some()),
            (Limit::Cpuset, c.cpus.is_some() || c.mems.is_some()),
            (Limit::Pids, self.pids.limit.is_some()),
            (Limit::BlkioWeight, self.block_io.weight.is_some()),
        ];
        wanted.iter().filter(|(_, w)| *w).map(|(l, _)| *l).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_limits_and_their_names() {
        let mut r = Resources::default();
        assert!(r.requested().is_empty());
        r.memory.limit = Some(1 << 25);
        r.cpu.period = Some(100_000);
        r.pids.limit = Some(10);
        assert_eq!(r.requested(), [Limit::Memory, Limit::CpuQuota, Limit::Pids]);
        assert_eq!(names(&r.requested()), "memory limit, CPU quota and pids limit");
        assert_eq!(names(&[Limit::Cpuset]), "cpuset");
        assert_eq!(names(&[Limit::Cpuset, Limit::Pids]), "cpuset and pids limit");
    }
}
