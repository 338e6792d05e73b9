//! IPv4 subnets: parsing "10.88.0.0/16", membership, host addresses.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    /// "10.88.0.0/16"; host bits must be zero.
    pub fn parse(text: &str) -> Result<Subnet, String> {
        let (ip, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("{:?} is not a subnet (expected A.B.C.D/N)", text))?;
        let ip: Ipv4Addr = ip.parse().map_err(|_| format!("{:?} is not a subnet (expected A.B.C.D/N)", text))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 30)
            .ok_or_else(|| format!("{:?}: the prefix length must be 0 to 30", text))?;
        let subnet = Subnet { network: ip, prefix };
        if u32::from(ip) & !subnet.mask() != 0 {
            return Err(format!("{:?}: host bits are set (did you mean {}?)", text, Subnet { network: Ipv4Addr::from(u32::from(ip) & subnet.mask()), prefix }));
        }
        Ok(subnet)
    }

    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network)
    }

    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    /// Usable host addresses, lowest first (network and broadcast excluded).
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.network) + 1;
        let last = u32::from(self.broadcast()) - 1;
        (first..=last).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let s = Subnet::parse("10.88.0.0/16").unwrap();
        assert_eq!(s.to_string(), "10.88.0.0/16");
        assert!(s.contains("10.88.255.1".parse().unwrap()));
        assert!(!s.contains("10.89.0.1".parse().unwrap()));
        assert_eq!(s.broadcast(), "10.88.255.255".parse::<Ipv4Addr>().unwrap());
        let small = Subnet::parse("192.168.5.0/30").unwrap();
        let hosts: Vec<String> = small.hosts().map(|h| h.to_string()).collect();
        assert_eq!(hosts, ["192.168.5.1", "192.168.5.2"]);
        assert!(Subnet::parse("10.88.0.1/16").unwrap_err().contains("did you mean 10.88.0.0/16"));
        assert!(Subnet::parse("10.88.0.0").is_err());
        assert!(Subnet::parse("10.88.0.0/31").is_err());
    }
}
