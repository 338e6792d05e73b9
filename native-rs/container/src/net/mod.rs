//! Container networking (docs/architecture.md "Networking"): bridges and
//! veth pairs over rtnetlink, an address allocator with leases on disk, the
//! container's /etc/hosts, /etc/resolv.conf and /etc/hostname, NAT rules,
//! published ports, the per-network DNS server and, rootless, the per-user
//! network namespace that holds the bridges.

pub mod addr;
pub mod link;
pub mod netlink;
