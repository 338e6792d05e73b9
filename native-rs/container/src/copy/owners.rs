//! Owners through a user namespace's id maps: a tree read from outside the
//! namespace shows its owners as the namespace's processes see them, and a
//! stream written from outside gives files the outside ids they stand for
//! (the vm guest's agent saving and restoring a container's writable layer).

use crate::spec::IdMapping;

/// What the kernel shows for an id the namespace does not map.
pub const OVERFLOW_ID: u32 = 65534;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    pub uids: Vec<IdMapping>,
    pub gids: Vec<IdMapping>,
}

impl Owners {
    /// (uid, gid) outside → inside the namespace.
    pub fn inside(&self, uid: u32, gid: u32) -> (u32, u32) {
        (map(&self.uids, uid, false), map(&self.gids, gid, false))
    }

    /// (uid, gid) inside → outside the namespace.
    pub fn outside(&self, uid: u32, gid: u32) -> (u32, u32) {
        (map(&self.uids, uid, true), map(&self.gids, gid, true))
    }

    /// The maps of the user namespace process `pid` is in (its
    /// `/proc/PID/uid_map` and `gid_map`); None where they cannot be read.
    pub fn of_process(pid: i32) -> Option<Owners> {
        let read = |file: &str| std::fs::read_to_string(format!("/proc/{}/{}", pid, file)).ok().and_then(|t| parse_proc_map(&t));
        Some(Owners { uids: read("uid_map")?, gids: read("gid_map")? })
    }
}

/// A `/proc/PID/uid_map`'s lines: `inside outside count`.
fn parse_proc_map(text: &str) -> Option<Vec<IdMapping>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let n: Vec<u32> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            if n.len() == 3 {
                Some(IdMapping { container_id: n[0], host_id: n[1], size: n[2] })
            } else {
                None
            }
        })
        .collect()
}

fn map(maps: &[IdMapping], id: u32, out: bool) -> u32 {
    map_id(maps, id, out).unwrap_or(OVERFLOW_ID)
}

/// `id` inside → outside (`out`) the namespace of `maps`, or back; None where they do not map it.
pub fn map_id(maps: &[IdMapping], id: u32, out: bool) -> Option<u32> {
    maps.iter().find_map(|m| {
        let (from, to) = if out { (m.container_id, m.host_id) } else { (m.host_id, m.container_id) };
        if id >= from && id - from < m.size {
            Some(to + (id - from))
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_and_overflows_the_rest() {
        let m = |c, h, s| IdMapping { container_id: c, host_id: h, size: s };
        let o = Owners { uids: vec![m(0, 1000, 1), m(1, 100000, 65536)], gids: vec![m(0, 1000, 1)] };
        assert_eq!(o.inside(1000, 1000), (0, 0));
        assert_eq!(o.inside(100999, 5), (1000, OVERFLOW_ID));
        assert_eq!(o.outside(1000, 0), (100999, 1000));
        assert_eq!(o.outside(70000, 7), (OVERFLOW_ID, OVERFLOW_ID));
        assert_eq!(o.outside(o.inside(100005, 1000).0, 0).0, 100005);
    }

    #[test]
    fn reads_a_process_maps() {
        let m = |c, h, s| IdMapping { container_id: c, host_id: h, size: s };
        assert_eq!(parse_proc_map("         0       1001          1\n         1     100000      65536\n"), Some(vec![m(0, 1001, 1), m(1, 100000, 65536)]));
        assert_eq!(parse_proc_map("0 0 x\n"), None);
        let own = Owners::of_process(std::process::id() as i32).unwrap();
        assert!(!own.uids.is_empty() && !own.gids.is_empty());
    }
}
