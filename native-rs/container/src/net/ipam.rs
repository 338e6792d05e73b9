//! Address allocation for a network (CNI host-local's scheme): one file per
//! address in `<network dir>/leases/`, named by the address and holding its
//! owner, created with link(2) so two allocations can never both win it;
//! `last` remembers the previous pick, so addresses are reused as late as
//! possible. Callers hold the network's lock. A lease whose keeper process
//! is gone (it was SIGKILLed) is stale and taken over.

use super::addr::Subnet;
use crate::error::{Context, Error};
use crate::json::{self, Json};
use crate::sys::process;
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Who holds a lease: the container and the keeper process whose lifetime
/// the lease follows. `names` are what the network's DNS answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    pub container: String,
    pub names: Vec<String>,
    pub keeper: i32,
    pub keeper_start: u64,
}

impl Owner {
    fn to_json(&self) -> Json {
        Json::object(vec![
            ("container", Json::from(self.container.as_str())),
            ("names", Json::Array(self.names.iter().map(|n| Json::from(n.as_str())).collect())),
            ("keeper", Json::from(self.keeper)),
            ("keeperStart", Json::from(self.keeper_start)),
        ])
    }

    fn from_json(doc: &Json) -> Option<Owner> {
        Some(Owner {
            container: doc.get("container")?.as_str()?.to_string(),
            names: doc
                .get("names")?
                .as_array()?
                .iter()
                .filter_map(|n| n.as_str().map(str::to_string))
                .collect(),
            keeper: doc.get("keeper")?.as_number()?.as_i64()? as i32,
            keeper_start: doc.get("keeperStart")?.as_number()?.as_u64()?,
        })
    }

    pub fn alive(&self) -> bool {
        process::alive(self.keeper, self.keeper_start)
    }
}

pub fn leases_dir(dir: &Path) -> PathBuf {
    dir.join("leases")
}

/// The lease of `ip`, if any (an unreadable one counts as held, never as free).
fn read_lease(path: &Path) -> Option<Option<Owner>> {
    let text = fs::read_to_string(path).ok()?;
    Some(json::parse(&text).ok().and_then(|d| Owner::from_json(&d)))
}

/// Takes an address for `owner`: `requested` if given (an error if it is
/// held), else the next free one after the last pick. The gateway is never
/// handed out.
pub fn allocate(dir: &Path, subnet: Subnet, gateway: Ipv4Addr, requested: Option<Ipv4Addr>, owner: &Owner) -> Result<Ipv4Addr, Error> {
    let leases = leases_dir(dir);
    fs::create_dir_all(&leases).step(|| format!("creating {}", leases.display()))?;
    let tmp = leases.join(format!(".new-{}", owner.keeper));
    fs::write(&tmp, owner.to_json().to_string()).step(|| format!("writing {}", tmp.display()))?;
    let result = pick(dir, subnet, gateway, requested, &tmp);
    let _ = fs::remove_file(&tmp);
    let ip = result?;
    let _ = fs::write(dir.join("last"), ip.to_string());
    Ok(ip)
}

fn pick(dir: &Path, subnet: Subnet, gateway: Ipv4Addr, requested: Option<Ipv4Addr>, tmp: &Path) -> Result<Ipv4Addr, Error> {
    let leases = leases_dir(dir);
    if let Some(ip) = requested {
        if !subnet.contains(ip) || ip == gateway || ip == subnet.network || ip == subnet.broadcast() {
            return Err(Error::setup(format!("address {} is not a free host address of {} (gateway {})", ip, subnet, gateway)));
        }
        return if take(&leases, ip, tmp)? {
            Ok(ip)
        } else {
            Err(Error::setup(format!("address {} is already in use on this network", ip)))
        };
    }
    // The host addresses as a ring of numbers, never as a list: the default
    // network is a /16 (65,534 hosts), and listing them cost more than the
    // rest of a container's network set-up in the vm guest.
    let first = u32::from(subnet.network) as u64 + 1;
    let end = u32::from(subnet.broadcast()) as u64;
    let count = end.saturating_sub(first);
    let last = fs::read_to_string(dir.join("last")).ok().and_then(|s| s.trim().parse::<Ipv4Addr>().ok());
    let start = last
        .filter(|l| *l != gateway)
        .map(|l| u32::from(l) as u64)
        .filter(|l| (first..end).contains(l))
        .map_or(0, |l| l - first + 1);
    for i in 0..count {
        let ip = Ipv4Addr::from((first + (start + i) % count) as u32);
        if ip == gateway {
            continue;
        }
        if take(&leases, ip, tmp)? {
            return Ok(ip);
        }
    }
    Err(Error::setup(format!("no free address left in {}", subnet)))
}

/// Links the prepared lease file to the address's name; a stale lease
/// there is removed first. False when it is held.
fn take(leases: &Path, ip: Ipv4Addr, tmp: &Path) -> Result<bool, Error> {
    let path = leases.join(ip.to_string());
    for _ in 0..2 {
        match fs::hard_link(tmp, &path) {
            Ok(()) => return Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = match read_lease(&path) {
                    Some(Some(owner)) => !owner.alive(),
                    // Vanished meanwhile: try again. Unreadable: held.
                    None => true,
                    Some(None) => false,
                };
                if !stale {
                    return Ok(false);
                }
                let _ = fs::remove_file(&path);
            }
            Err(e) => return Err(e).step(|| format!("creating {}", path.display())),
        }
    }
    Ok(false)
}

/// Gives up `ip` if `keeper` holds it.
pub fn release(dir: &Path, ip: Ipv4Addr, keeper: i32) {
    let path = leases_dir(dir).join(ip.to_string());
    if let Some(Some(owner)) = read_lease(&path) {
        if owner.keeper == keeper {
            let _ = fs::remove_file(&path);
        }
    }
}

/// Every lease whose keeper runs, as (address, owner).
pub fn live(dir: &Path) -> Vec<(Ipv4Addr, Owner)> {
    let entries = match fs::read_dir(leases_dir(dir)) {
        Ok(e) => e,
        Err(_) => return Vec::new(),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let ip = match e.file_name().to_str().and_then(|n| n.parse::<Ipv4Addr>().ok()) {
            Some(ip) => ip,
            None => continue,
        };
        if let Some(Some(owner)) = read_lease(&e.path()) {
            if owner.alive() {
                out.push((ip, owner));
            }
        }
    }
    out.sort_by_key(|(ip, _)| u32::from(*ip));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::tests::TempDir;

    fn me(container: &str) -> Owner {
        let pid = std::process::id() as i32;
        Owner {
            container: container.into(),
            names: vec![container.into()],
            keeper: pid,
            keeper_start: process::start_time(pid).unwrap(),
        }
    }

    #[test]
    fn never_twice_and_stale_reclaimed() {
        let t = TempDir::new("ipam");
        let subnet = Subnet::parse("10.9.0.0/29").unwrap(); // hosts .1-.6
        let gw: Ipv4Addr = "10.9.0.1".parse().unwrap();
        let mut got = Vec::new();
        for i in 0..5 {
            got.push(allocate(&t.0, subnet, gw, None, &me(&format!("c{}", i))).unwrap().to_string());
        }
        assert_eq!(got, ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]);
        let full = allocate(&t.0, subnet, gw, None, &me("c5")).unwrap_err();
        assert_eq!(full.message, "no free address left in 10.9.0.0/29");
        // Released addresses come back only after the rest (round robin).
        release(&t.0, "10.9.0.3".parse().unwrap(), std::process::id() as i32);
        assert_eq!(allocate(&t.0, subnet, gw, None, &me("c6")).unwrap().to_string(), "10.9.0.3");
        assert_eq!(live(&t.0).len(), 5);
        // A lease of a dead keeper is stale.
        let dead = Owner { keeper: 999_999_999, ..me("gone") };
        fs::write(t.0.join("leases/10.9.0.4"), dead.to_json().to_string()).unwrap();
        assert_eq!(live(&t.0).len(), 4);
        assert_eq!(allocate(&t.0, subnet, gw, None, &me("c7")).unwrap().to_string(), "10.9.0.4");
        // Requested addresses.
        let e = allocate(&t.0, subnet, gw, Some("10.9.0.5".parse().unwrap()), &me("c8")).unwrap_err();
        assert_eq!(e.message, "address 10.9.0.5 is already in use on this network");
        let e = allocate(&t.0, subnet, gw, Some(gw), &me("c8")).unwrap_err();
        assert!(e.message.starts_with("address 10.9.0.1 is not a free host address"));
        // Nothing but leases and the cursor is left.
        let mut names: Vec<String> = fs::read_dir(t.0.join("leases")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names.len(), 5);
        assert!(names.iter().all(|n| n.parse::<Ipv4Addr>().is_ok()));
    }

    #[test]
    fn large_subnet_wraps_past_the_gateway() {
        let t = TempDir::new("ipam-wide");
        let subnet = Subnet::parse("10.88.0.0/16").unwrap();
        let gw: Ipv4Addr = "10.88.0.1".parse().unwrap();
        fs::create_dir_all(t.0.join("leases")).unwrap();
        fs::write(t.0.join("last"), "10.88.255.254").unwrap();
        assert_eq!(allocate(&t.0, subnet, gw, None, &me("a")).unwrap().to_string(), "10.88.0.2");
        assert_eq!(allocate(&t.0, subnet, gw, None, &me("b")).unwrap().to_string(), "10.88.0.3");
        // A gateway in the middle is skipped; a cursor outside the subnet starts over.
        let mid: Ipv4Addr = "10.88.0.5".parse().unwrap();
        fs::write(t.0.join("last"), "10.88.0.4").unwrap();
        assert_eq!(allocate(&t.0, subnet, mid, None, &me("c")).unwrap().to_string(), "10.88.0.6");
        fs::write(t.0.join("last"), "192.168.0.9").unwrap();
        assert_eq!(allocate(&t.0, subnet, gw, None, &me("d")).unwrap().to_string(), "10.88.0.4");
    }
}
