//! v2 pids: the same files as v1's, so the same controller (v1/pids.rs).

pub use crate::cgroups::v1::pids::Pids;
