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

