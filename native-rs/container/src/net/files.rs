//! The container's /etc/hosts, /etc/resolv.conf and /etc/hostname, written
//! into the bundle's `net/` (and bind-mounted by the spec's mounts) once
//! its addresses are known: docker's layout of these files.

use super::spec::{Dns, NetworkSpec};
use crate::error::{Context, Error};
use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

const LOCALHOST: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// /etc/hosts: the base (localhost lines, or the host's file), the
/// `--add-host` entries, then the container's own addresses with its
/// hostname, in docker's order: the first line naming a host is the one a
/// lookup takes, so `--add-host` overrides the container's own name (as
/// docker and podman document), and a `network connect` appends its address
/// after the others (keeper.rs).
pub fn hosts(net: &NetworkSpec, own: &[Ipv4Addr], base: Option<&str>) -> String {
    let mut out = match base {
        Some(b) if b.ends_with('\n') || b.is_empty() => b.to_string(),
        Some(b) => format!("{}\n", b),
        None => LOCALHOST.to_string(),
    };
    for e in &net.extra_hosts {
        out.push_str(&format!("{}\t{}\n", e.ip, e.names.join(" ")));
    }
    let names = own_names(&net.hostname, net.domainname.as_deref());
    for ip in own {
        out.push_str(&format!("{}\t{}\n", ip, names));
    }
    out
}

/// The container's names on its address lines: an FQDN hostname (or the
/// hostname with `--domainname`) with its short name too, as docker writes
/// them (`10.88.0.2\thost.example.com host`; libnetwork's makeHostsRecs).
fn own_names(hostname: &str, domainname: Option<&str>) -> String {
    let fqdn = match domainname {
        Some(d) if !d.is_empty() => format!("{}.{}", hostname, d),
        _ => hostname.to_string(),
    };
    match fqdn.split_once('.') {
        Some((short, _)) if !short.is_empty() => format!("{} {}", fqdn, short),
        _ => fqdn,
    }
}

pub fn resolv_conf(dns: &Dns) -> String {
    let mut out = String::new();
    for s in &dns.servers {
        out.push_str(&format!("nameserver {}\n", s));
    }
    if !dns.search.is_empty() {
        out.push_str(&format!("search {}\n", dns.search.join(" ")));
    }
    if !dns.options.is_empty() {
        out.push_str(&format!("options {}\n", dns.options.join(" ")));
    }
    if out.is_empty() {
        out.push_str("# no name servers\n");
    }
    out
}

/// Writes the three files (each temp-then-rename) into `net.dir`.
pub fn write_all(net: &NetworkSpec, own: &[Ipv4Addr]) -> Result<(), Error> {
    fs::create_dir_all(&net.dir).step(|| format!("creating {}", net.dir.display()))?;
    for (name, text) in render(net, own)? {
        write(&net.dir, name, &text)?;
    }
    Ok(())
}

/// The same files once the keeper knows the container's addresses, written
/// in place: the launch checked them as bind sources by inode before the
/// clone (paths::Source), and the container has not started to read them.
pub fn update_all(net: &NetworkSpec, own: &[Ipv4Addr]) -> Result<(), Error> {
    for (name, text) in render(net, own)? {
        let path = net.dir.join(name);
        let mut f = fs::OpenOptions::new().write(true).truncate(true).open(&path).step(|| format!("writing {}", path.display()))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).step(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn render(net: &NetworkSpec, own: &[Ipv4Addr]) -> Result<[(&'static str, String); 3], Error> {
    let base = match &net.hosts_base {
        Some(p) => Some(fs::read_to_string(p).step(|| format!("reading {}", p.display()))?),
        None => None,
    };
    Ok([
        ("hosts", hosts(net, own, base.as_deref())),
        ("resolv.conf", resolv_conf(&net.dns)),
        ("hostname", format!("{}\n", net.hostname)),
    ])
}

/// Temp-then-rename, so a reader never sees half a file.
pub fn write(dir: &Path, name: &str, text: &str) -> Result<(), Error> {
    let tmp = dir.join(format!(".{}.tmp", name));
    let path = dir.join(name);
    fs::write(&tmp, text).step(|| format!("writing {}", tmp.display()))?;
    // Readable by every user of the container whatever the caller's umask (077 made them root's only).
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).step(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).step(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn renders_docker_style() {
        let n = super::super::spec::parse(Some(&json::parse(super::super::spec::tests::SAMPLE).unwrap())).unwrap().unwrap();
        let h = hosts(&n, &["10.89.0.2".parse().unwrap()], None);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"));
        assert!(h.ends_with("10.0.2.2\thost.tsbox.internal\n10.89.0.2\tabc\n"), "{}", h);
        assert_eq!(hosts(&n, &[], Some("1.2.3.4 h")), "1.2.3.4 h\n10.0.2.2\thost.tsbox.internal\n");
        assert_eq!(resolv_conf(&n.dns), "nameserver 10.89.0.1\nsearch example.com\noptions ndots:2\n");
        assert_eq!(resolv_conf(&Dns::default()), "# no name servers\n");
        let fqdn = NetworkSpec { hostname: "myhost.example.com".into(), extra_hosts: Vec::new(), ..n };
        assert!(hosts(&fqdn, &["10.88.0.5".parse().unwrap()], None).ends_with("\n10.88.0.5\tmyhost.example.com myhost\n"));
        let split = NetworkSpec { hostname: "myhost".into(), domainname: Some("example.com".into()), ..fqdn };
        assert!(hosts(&split, &["10.88.0.5".parse().unwrap()], None).ends_with("\n10.88.0.5\tmyhost.example.com myhost\n"));
    }
}
