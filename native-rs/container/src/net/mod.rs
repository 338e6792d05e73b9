//! Container networking (docs/architecture.md "Networking"): bridges and
//! veth pairs over rtnetlink, an address allocator with leases on disk, the
//! container's /etc/hosts, /etc/resolv.conf and /etc/hostname, NAT rules,
//! published ports, the per-network DNS server and, rootless, the per-user
//! network namespace that holds the bridges.

pub mod addr;
pub mod attach;
pub mod bridge;
pub mod daemon;
pub mod dns;
pub mod dns_server;
pub mod files;
pub mod firewall;
pub mod ipam;
pub mod keeper;
pub mod link;
pub mod lock;
pub mod netlink;
pub mod proxy;
pub mod rootless;
pub mod spec;

use std::path::{Path, PathBuf};

/// A program on PATH or in the sbin directories (often not on a user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}
