//! Address and port ranges: the vocabulary of the frame builder, parsed from the command
//! line's spelling. MAC addresses and the checksum come from `ringcap-wire`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

pub use ringcap_wire::MacAddr;

/// An inclusive range of addresses of one family, as 128-bit numbers (IPv4 in the low 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    pub v6: bool,
    pub first: u128,
    pub last: u128,
}

impl IpRange {
    pub fn single(addr: IpAddr) -> IpRange {
        let (v6, n) = addr_num(addr);
        IpRange {
            v6,
            first: n,
            last: n,
        }
    }

    /// Number of addresses minus one (so a whole IPv6 space fits).
    pub fn span(&self) -> u128 {
        self.last - self.first
    }

    /// The `i`-th address of the range (wrapping), as an address.
    pub fn addr(&self, n: u128) -> IpAddr {
        if self.v6 {
            IpAddr::V6(Ipv6Addr::from(n))
        } else {
            IpAddr::V4(Ipv4Addr::from(n as u32))
        }
    }
}

fn addr_num(addr: IpAddr) -> (bool, u128) {
    match addr {
        IpAddr::V4(a) => (false, u32::from(a) as u128),
        IpAddr::V6(a) => (true, u128::from(a)),
    }
}

impl FromStr for IpRange {
    type Err = String;
    /// `ADDR`, `FIRST-LAST` or `ADDR/PREFIX` (IPv4 prefixes up to /30 leave out the network and
    /// broadcast addresses).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("invalid address range {s:?}: {why}");
        let parse = |a: &str| {
            a.trim()
                .parse::<IpAddr>()
                .map_err(|_| bad("expected an address, FIRST-LAST or ADDR/PREFIX"))
        };
        if let Some((a, p)) = s.split_once('/') {
            let addr = parse(a)?;
            let (v6, n) = addr_num(addr);
            let bits = if v6 { 128 } else { 32 };
            let plen: u32 = p
                .trim()
                .parse()
                .ok()
                .filter(|&l| l <= bits)
                .ok_or_else(|| bad(&format!("prefix length must be 0..={bits}")))?;
            let host_bits = bits - plen;
            let mask: u128 = if host_bits == 128 {
                u128::MAX
            } else {
                (1u128 << host_bits) - 1
            };
            let mut first = n & !mask;
            let mut last = first | mask;
            if !v6 && host_bits >= 2 {
                first += 1;
                last -= 1;
            }
            return Ok(IpRange { v6, first, last });
        }
        if let Some((a, b)) = s.split_once('-') {
            let (va, na) = addr_num(parse(a)?);
            let (vb, nb) = addr_num(parse(b)?);
            if va != vb {
                return Err(bad("both ends must be of the same family"));
            }
            if na > nb {
                return Err(bad("the first address is above the last"));
            }
            return Ok(IpRange {
                v6: va,
                first: na,
                last: nb,
            });
        }
        Ok(IpRange::single(parse(s)?))
    }
}

/// An inclusive range of ports (or ICMP echo identifiers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    pub const fn new(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid port range {s:?} (expected PORT or FIRST-LAST, 0..=65535)");
        let p = |x: &str| x.trim().parse::<u16>().map_err(|_| bad());
        let (first, last) = match s.split_once('-') {
            Some((a, b)) => (p(a)?, p(b)?),
            None => {
                let v = p(s)?;
                (v, v)
            }
        };
        if first > last {
            return Err(bad());
        }
        Ok(PortRange { first, last })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r: IpRange = "10.0.0.1".parse().unwrap();
        assert_eq!((r.v6, r.span()), (false, 0));
        let r: IpRange = "10.0.0.1-10.0.1.0".parse().unwrap();
        assert_eq!(r.span(), 255);
        let r: IpRange = "10.0.0.77/24".parse().unwrap();
        assert_eq!(r.addr(r.first).to_string(), "10.0.0.1");
        assert_eq!(r.addr(r.last).to_string(), "10.0.0.254");
        let r: IpRange = "10.0.0.7/32".parse().unwrap();
        assert_eq!(r.span(), 0);
        let r: IpRange = "fd00::/120".parse().unwrap();
        assert!(r.v6);
        assert_eq!(r.span(), 255);
        let r: IpRange = "::/0".parse().unwrap();
        assert_eq!(r.span(), u128::MAX);
        assert!("10.0.0.2-10.0.0.1".parse::<IpRange>().is_err());
        assert!("10.0.0.1-fd00::1".parse::<IpRange>().is_err());
        assert!("10.0.0.1/33".parse::<IpRange>().is_err());
        assert!("host".parse::<IpRange>().is_err());
    }

    #[test]
    fn ports() {
        assert_eq!("80".parse::<PortRange>(), Ok(PortRange::new(80, 80)));
        assert_eq!(
            "1024-65535".parse::<PortRange>(),
            Ok(PortRange::new(1024, 65535))
        );
        assert!("2-1".parse::<PortRange>().is_err());
        assert!("70000".parse::<PortRange>().is_err());
    }
}
