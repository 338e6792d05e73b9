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
}

fn map(maps: &[IdMapping], id: u32, out: bool) -> u32 {
    for m in maps {
        let (from, to) = if out { (m.container_id, m.host_id) } else { (m.host_id, m.container_id) };
        if id >= from && id - from < m.size {
            return to + (id - from);
        }
    }
    OVERFLOW_ID
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
}
