//! tsbox container machinery: a `ContainerSpec` (config.json) in, a
//! configured process out. std only, Rust 1.63, x86_64 and i686 Linux.
//!
//! Entry points: [`spec::Spec::load`], [`launch::spawn`] (a new container),
//! [`join::spawn`] (a process in a running one, for `exec`),
//! [`probe::Probe::run`]. The setup sequence itself is [`launch::setup`];
//! each concern it uses has its own module, and every privileged call goes
//! through [`syscall::Syscall`].

pub mod caps;
pub mod cgroup_view;
pub mod cgroups;
pub mod copy;
pub mod data_layout;
pub mod dev;
pub mod error;
pub mod events;
pub mod exec;
pub mod handoff;
pub mod host;
pub mod idmap;
pub mod idmapped;
pub mod init;
pub mod join;
pub mod json;
pub mod launch;
pub mod leftovers;
pub mod masked;
pub mod mountinfo;
pub mod mounts;
pub mod namespace_process;
pub mod namespaces;
pub mod net;
pub mod nest;
pub mod nest_record;
pub mod network;
pub mod old_image;
pub mod oom_score;
pub mod paths;
pub mod peer;
pub mod pivot;
pub mod probe;
pub mod process_setup;
pub mod program;
pub mod rlimits;
pub mod rootfs;
pub mod sealed_exe;
pub mod spare;
pub mod seccomp;
pub mod spec;
pub mod status;
pub mod sys;
pub mod syscall;
pub mod sysctl;
pub mod terminal;
pub mod timefmt;
pub mod trace;
pub mod user;
pub mod userns_auto;
pub mod userns_refusal;
pub mod view;

pub use error::{Error, ErrorKind};

#[cfg(any(test, feature = "contract"))]
pub mod contract;
#[cfg(test)]
mod contract_tests;
pub use spec::Spec;

/// Kept in step with Cargo.toml (rustc-only builds have no CARGO_PKG_VERSION).
pub const VERSION: &str = "0.1.0";
