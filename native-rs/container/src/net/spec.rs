//! The spec's `network` section (a tsbox extension, like `root.overlay`;
//! src/spec/container-spec.ts `NetworkSpec` is authoritative): which networks
//! to attach the container to, its ports, and what goes into its /etc/hosts,
//! /etc/resolv.conf and /etc/hostname. Errors name the JSON path.

use super::addr::Subnet;
use crate::json::Json;
use crate::spec::SpecError;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkSpec {
    /// Where the generated files and the attachment records go (the bundle's `net/`).
    pub dir: PathBuf,
    pub container_id: String,
    pub container_name: Option<String>,
    pub hostname: String,
    /// `--domainname`: the own /etc/hosts lines name `hostname.domainname hostname` (libnetwork's).
    pub domainname: Option<String>,
    /// The host's hosts file to start from (host networking), else localhost lines.
    pub hosts_base: Option<PathBuf>,
    pub extra_hosts: Vec<HostEntry>,
    pub dns: Dns,
    pub attach: Vec<Attachment>,
    pub ports: Vec<Port>,
    pub rootless: Option<Rootless>,
    /// `network connect` of a running container that lost its gateway endpoint (the network that had it was
    /// disconnected while another keeper's stayed): this attachment takes the default route and the published
    /// ports although other networks are attached (`keeper::attach_running`), as docker picks a new gateway.
    pub gateway_endpoint: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostEntry {
    pub ip: String,
    pub names: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dns {
    pub servers: Vec<String>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

/// One network the container joins: a bridge, its subnet, where its state lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub name: String,
    pub bridge: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    pub mtu: u32,
    /// Leases, lock and DNS pid file of the network.
    pub dir: PathBuf,
    /// A DNS server answers on the gateway with the names of the containers.
    pub dns: bool,
    /// Outbound traffic is masqueraded (needs iptables where it runs).
    pub nat: bool,
    /// The bridge (and its rules) stays when the network's last container
    /// leaves: the vm guest's, whose bridges go with the guest.
    pub keep_bridge: bool,
    /// `--internal`: no way off the network — no default route through it,
    /// no upstream DNS (the vm agent's relay also refuses its addresses).
    pub internal: bool,
    /// The network's record (its config.json), where it has one on this
    /// host: `network rm` deletes it under the network's lock, and a join
    /// finding it gone refuses rather than make the bridge again.
    pub record: Option<PathBuf>,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    /// `--mac-address`: the container end's address (else the kernel's random one).
    pub mac: Option<[u8; 6]>,
    /// Where the network's DNS server sends the names it does not know.
    pub upstream: Vec<Ipv4Addr>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port {
    pub host_ip: Ipv4Addr,
    /// 0: any free port.
    pub host_port: u16,
    /// A host range for one container port (`-p 8000-8010:80`): the first free one from `host_port` to this is
    /// bound (`proxy::bind`); what it published carries the one bound and None.
    pub host_port_end: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// Rootless: the bridges live in a network namespace held open per user
/// (`rootless.rs`), reached by `helper` (pasta or slirp4netns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rootless {
    pub dir: PathBuf,
    pub helper: String,
    /// Seconds the namespace stays up after its last container left, so the
    /// next run finds it (0: it stops with the last container).
    pub idle_seconds: u32,
    /// Whether its containers reach the host's loopback at 10.0.2.2
    /// (`$TSBOX_HOST_LOOPBACK`); off, as in podman and rootless docker.
    pub host_loopback: bool,
}

type Result<T> = std::result::Result<T, SpecError>;

fn err(path: &str, message: impl Into<String>) -> SpecError {
    SpecError {
        path: path.into(),
        message: message.into(),
    }
}

fn present(v: Option<&Json>) -> Option<&Json> {
    v.filter(|v| !v.is_null())
}

fn string(o: &Json, path: &str, key: &str) -> Result<String> {
    present(o.get(key))
        .and_then(Json::as_str)
        .map(str::to_string)
        .ok_or_else(|| err(&format!("{}.{}", path, key), "expected a string"))
}

fn strings(o: &Json, path: &str, key: &str) -> Result<Vec<String>> {
    match present(o.get(key)) {
        None => Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .and_then(|a| a.iter().map(|s| s.as_str().map(str::to_string)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| err(&format!("{}.{}", path, key), "expected an array of strings")),
    }
}

fn optional_string(o: &Json, path: &str, key: &str) -> Result<Option<String>> {
    match present(o.get(key)) {
        None => Ok(None),
        Some(v) => v.as_str().map(|s| Some(s.to_string())).ok_or_else(|| err(&format!("{}.{}", path, key), "expected a string")),
    }
}

fn ipv4(text: &str, path: &str) -> Result<Ipv4Addr> {
    text.parse().map_err(|_| err(path, format!("expected an IPv4 address, got {:?}", text)))
}

fn items<'a>(o: &'a Json, path: &str, key: &str) -> Result<&'a [Json]> {
    match present(o.get(key)) {
        None => Ok(&[]),
        Some(v) => v.as_array().ok_or_else(|| err(&format!("{}.{}", path, key), "expected an array")),
    }
}

/// None when the spec has no `network` (or it is null).
pub fn parse(v: Option<&Json>) -> Result<Option<NetworkSpec>> {
    let o = match present(v) {
        None => return Ok(None),
        Some(o) if o.is_object() => o,
        Some(_) => return Err(err("network", "expected an object")),
    };
    let p = "network";
    let container = present(o.get("container")).filter(|c| c.is_object()).ok_or_else(|| err("network.container", "expected an object"))?;
    let hosts = present(o.get("hosts"));
    let mut extra_hosts = Vec::new();
    let mut hosts_base: Option<PathBuf> = None;
    if let Some(h) = hosts {
        hosts_base = optional_string(h, "network.hosts", "base")?.map(PathBuf::from);
        for (i, e) in items(h, "network.hosts", "extra")?.iter().enumerate() {
            let ep = format!("network.hosts.extra[{}]", i);
            extra_hosts.push(HostEntry {
                ip: string(e, &ep, "ip")?,
                names: strings(e, &ep, "names")?,
            });
        }
    }
    let dns = match present(o.get("dns")) {
        None => Dns::default(),
        Some(d) => dns(d, "network.dns")?,
    };
    let mut attach = Vec::new();
    for (i, a) in items(o, p, "attach")?.iter().enumerate() {
        attach.push(attachment(a, &format!("network.attach[{}]", i))?);
    }
    let mut ports = Vec::new();
    for (i, a) in items(o, p, "ports")?.iter().enumerate() {
        ports.push(port(a, &format!("network.ports[{}]", i))?);
    }
    let rootless = match present(o.get("rootless")) {
        None => None,
        Some(r) => Some(Rootless {
            dir: PathBuf::from(string(r, "network.rootless", "dir")?),
            helper: string(r, "network.rootless", "helper")?,
            idle_seconds: match present(r.get("idleSeconds")) {
                None => 0,
                Some(v) => v
                    .as_number()
                    .and_then(|n| n.as_u32())
                    .ok_or_else(|| err("network.rootless.idleSeconds", "expected a number of seconds"))?,
            },
            host_loopback: match present(r.get("hostLoopback")) {
                None => false,
                Some(v) => v.as_bool().ok_or_else(|| err("network.rootless.hostLoopback", "expected true or false"))?,
            },
        }),
    };
    // Ports without a network are a container's record after `network disconnect` of its last one (docker keeps
    // its PortBindings): published by none until a network is connected (`keeper::attach_running`) or joined.
    let ports = if attach.is_empty() { Vec::new() } else { ports };
    Ok(Some(NetworkSpec {
        dir: PathBuf::from(string(o, p, "dir")?),
        container_id: string(container, "network.container", "id")?,
        container_name: optional_string(container, "network.container", "name")?,
        hostname: string(o, p, "hostname")?,
        domainname: optional_string(o, p, "domainname")?,
        hosts_base,
        extra_hosts,
        dns,
        attach,
        ports,
        rootless,
        gateway_endpoint: match present(o.get("gatewayEndpoint")) {
            None => false,
            Some(v) => v.as_bool().ok_or_else(|| err("network.gatewayEndpoint", "expected true or false"))?,
        },
    }))
}

/// A `dns` object (`{servers, search, options}`): the spec's, and `network disconnect`'s resolv.conf change.
pub fn dns(d: &Json, path: &str) -> Result<Dns> {
    Ok(Dns {
        servers: strings(d, path, "servers")?,
        search: strings(d, path, "search")?,
        options: strings(d, path, "options")?,
    })
}

fn attachment(a: &Json, path: &str) -> Result<Attachment> {
    let subnet_text = string(a, path, "subnet")?;
    let subnet = Subnet::parse(&subnet_text).map_err(|m| err(&format!("{}.subnet", path), m))?;
    let gateway = ipv4(&string(a, path, "gateway")?, &format!("{}.gateway", path))?;
    if !subnet.contains(gateway) {
        return Err(err(&format!("{}.gateway", path), format!("{} is not in {}", gateway, subnet)));
    }
    let bridge = string(a, path, "bridge")?;
    if bridge.is_empty() || bridge.len() > 15 || bridge.contains('/') {
        return Err(err(&format!("{}.bridge", path), "expected an interface name of 1 to 15 characters"));
    }
    let flag = |key: &str| -> Result<bool> {
        match present(a.get(key)) {
            None => Ok(false),
            Some(v) => v.as_bool().ok_or_else(|| err(&format!("{}.{}", path, key), "expected true or false")),
        }
    };
    let mtu = match present(a.get("mtu")) {
        None => 1500,
        Some(v) => v
            .as_number()
            .and_then(|n| n.as_u32())
            .filter(|m| (576..=65535).contains(m))
            .ok_or_else(|| err(&format!("{}.mtu", path), "expected an MTU from 576 to 65535"))?,
    };
    let ip = match optional_string(a, path, "ip")? {
        None => None,
        Some(t) => Some(ipv4(&t, &format!("{}.ip", path))?),
    };
    let mac = match optional_string(a, path, "mac")? {
        None => None,
        Some(t) => Some(parse_mac(&t).ok_or_else(|| err(&format!("{}.mac", path), format!("{:?} is not a unicast MAC address (aa:bb:cc:dd:ee:ff)", t)))?),
    };
    let mut upstream = Vec::new();
    for (i, s) in strings(a, path, "upstream")?.iter().enumerate() {
        upstream.push(ipv4(s, &format!("{}.upstream[{}]", path, i))?);
    }
    Ok(Attachment {
        name: string(a, path, "name")?,
        bridge,
        subnet,
        gateway,
        mtu,
        dir: PathBuf::from(string(a, path, "dir")?),
        dns: flag("dns")?,
        nat: flag("nat")?,
        keep_bridge: flag("keepBridge")?,
        internal: flag("internal")?,
        record: optional_string(a, path, "record")?.map(PathBuf::from),
        aliases: strings(a, path, "aliases")?,
        ip,
        mac,
        upstream,
    })
}

/// `aa:bb:cc:dd:ee:ff` (six hex pairs); None for anything else and for a
/// multicast address, which no interface may take (the kernel refuses it).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.split(':').collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        if p.len() != 2 {
            return None;
        }
        mac[i] = u8::from_str_radix(p, 16).ok()?;
    }
    if mac[0] & 1 == 1 {
        return None;
    }
    Some(mac)
}

fn port(a: &Json, path: &str) -> Result<Port> {
    let num = |key: &str, min: u32| -> Result<u16> {
        present(a.get(key))
            .and_then(Json::as_number)
            .and_then(|n| n.as_u32())
            .filter(|n| *n >= min && *n <= 65535)
            .map(|n| n as u16)
            .ok_or_else(|| err(&format!("{}.{}", path, key), format!("expected a port number from {} to 65535", min)))
    };
    let protocol = match string(a, path, "protocol")?.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(err(&format!("{}.protocol", path), format!("expected tcp or udp, got {:?}", other))),
    };
    let host_port = num("hostPort", 0)?;
    let host_port_end = match present(a.get("hostPortEnd")) {
        None => None,
        Some(_) => Some(num("hostPortEnd", host_port.max(1) as u32)?),
    };
    Ok(Port {
        host_ip: ipv4(&string(a, path, "hostIp")?, &format!("{}.hostIp", path))?,
        host_port,
        host_port_end,
        container_port: num("containerPort", 1)?,
        protocol,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::json;

    pub const SAMPLE: &str = r#"{
      "dir": "/b/net", "container": {"id": "abc", "name": "web"}, "hostname": "abc",
      "hosts": {"extra": [{"ip": "10.0.2.2", "names": ["host.tsbox.internal"]}]},
      "dns": {"servers": ["10.89.0.1"], "search": ["example.com"], "options": ["ndots:2"]},
      "attach": [{"name": "app", "bridge": "tsbox-1234", "subnet": "10.89.0.0/24", "gateway": "10.89.0.1",
                  "mtu": 65520, "dir": "/d/networks/app", "dns": true, "nat": true, "aliases": ["db"],
                  "upstream": ["10.0.2.3"]}],
      "ports": [{"hostIp": "127.0.0.1", "hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
      "rootless": {"dir": "/d/rootless-netns", "helper": "pasta", "idleSeconds": 60}
    }"#;

    #[test]
    fn parses() {
        let n = parse(Some(&json::parse(SAMPLE).unwrap())).unwrap().unwrap();
        assert_eq!(n.container_name.as_deref(), Some("web"));
        assert_eq!(n.attach[0].subnet.to_string(), "10.89.0.0/24");
        assert_eq!(n.attach[0].mtu, 65520);
        assert!(n.attach[0].dns && n.attach[0].nat);
        assert_eq!(n.ports[0].protocol, Protocol::Tcp);
        assert_eq!(n.ports[0].host_port_end, None);
        assert_eq!(n.extra_hosts[0].names, ["host.tsbox.internal"]);
        let rootless = n.rootless.unwrap();
        assert_eq!((rootless.helper.as_str(), rootless.idle_seconds, rootless.host_loopback), ("pasta", 60, false), "hostLoopback absent: off");
        let open = SAMPLE.replace("\"idleSeconds\": 60", "\"idleSeconds\": 60, \"hostLoopback\": true");
        assert!(parse(Some(&json::parse(&open).unwrap())).unwrap().unwrap().rootless.unwrap().host_loopback);
        assert!(!n.gateway_endpoint, "absent: only a container on no network gets the gateway");
        let moved = SAMPLE.replace("\"hostname\": \"abc\",", "\"hostname\": \"abc\", \"gatewayEndpoint\": true,");
        assert!(parse(Some(&json::parse(&moved).unwrap())).unwrap().unwrap().gateway_endpoint);
        assert_eq!(parse(None).unwrap(), None);
    }

    #[test]
    fn errors_name_the_path() {
        let bad = |from: &str, to: &str| {
            let text = SAMPLE.replace(from, to);
            parse(Some(&json::parse(&text).unwrap())).unwrap_err().to_string()
        };
        assert_eq!(bad("\"10.89.0.0/24\"", "\"10.89.0.0/33\""), "network.attach[0].subnet: \"10.89.0.0/33\": the prefix length must be 0 to 30");
        assert_eq!(bad("\"gateway\": \"10.89.0.1\"", "\"gateway\": \"10.1.0.1\""), "network.attach[0].gateway: 10.1.0.1 is not in 10.89.0.0/24");
        assert_eq!(bad("\"protocol\": \"tcp\"", "\"protocol\": \"sctp\""), "network.ports[0].protocol: expected tcp or udp, got \"sctp\"");
        assert_eq!(bad("\"containerPort\": 80", "\"containerPort\": 0"), "network.ports[0].containerPort: expected a port number from 1 to 65535");
        assert_eq!(bad("\"tsbox-1234\"", "\"a-name-that-is-too-long\""), "network.attach[0].bridge: expected an interface name of 1 to 15 characters");
        assert_eq!(bad("\"idleSeconds\": 60", "\"idleSeconds\": -1"), "network.rootless.idleSeconds: expected a number of seconds");
        assert_eq!(bad("\"idleSeconds\": 60", "\"idleSeconds\": 60, \"hostLoopback\": 1"), "network.rootless.hostLoopback: expected true or false");
    }

    #[test]
    fn mac_addresses() {
        assert_eq!(super::parse_mac("02:42:AC:11:00:09"), Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x09]));
        for bad in ["01:00:5e:00:00:01", "02:42:ac:11:00", "02:42:ac:11:00:09:01", "02-42-ac-11-00-09", "0g:42:ac:11:00:09", "2:42:ac:11:00:099"] {
            assert_eq!(super::parse_mac(bad), None, "{}", bad);
        }
    }

}
