//! The host port range and the subnet pool instance networks are cut from.

use std::fmt;

use serde::Deserialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl std::str::FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("{s:?} is not a range like 8001-8999"))?;
        let parse = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port"))
        };
        let (first, last) = (parse(a)?, parse(b)?);
        if first == 0 || first > last {
            return Err(format!("{s:?} is empty or starts at 0"));
        }
        Ok(Self { first, last })
    }
}

impl<'de> Deserialize<'de> for PortRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// Parses "a.b.c.d/n" and checks it holds a /28 for every port of the range.
pub(super) fn parse_pool(pool: &str, range: PortRange) -> Result<(u32, u8), String> {
    let (addr, prefix) = pool
        .split_once('/')
        .ok_or_else(|| format!("{pool:?} is not an IPv4 CIDR like 10.208.0.0/12"))?;
    let addr: std::net::Ipv4Addr = addr
        .parse()
        .map_err(|_| format!("{addr:?} is not an IPv4 address"))?;
    let prefix: u8 = prefix
        .parse()
        .ok()
        .filter(|p| *p <= 28)
        .ok_or_else(|| format!("/{prefix} is not a prefix length up to 28"))?;
    let size = 1u64 << (32 - prefix);
    let base = u32::from(addr);
    if u64::from(base) % size != 0 {
        return Err(format!("{pool} is not aligned to its prefix"));
    }
    let needed = (u64::from(range.last) + 1) * 16;
    if needed > size {
        return Err(format!(
            "{pool} is too small for ports up to {} (needs /{} or larger)",
            range.last,
            32 - needed.next_power_of_two().trailing_zeros()
        ));
    }
    Ok((base, prefix))
}

impl super::Config {
    /// The instance network's own /28, derived from its unique host port.
    /// A pool network made for a port gets the same one.
    pub fn instance_subnet(&self, host_port: u16) -> String {
        let (base, _) =
            parse_pool(&self.docker.subnet_pool, self.port_range).expect("validated at load");
        let net = std::net::Ipv4Addr::from(base + u32::from(host_port) * 16);
        format!("{net}/28")
    }
}
