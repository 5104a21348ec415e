//! Address ranges in config values (`system.trusted-proxies`): one address
//! (`10.0.0.5`, `::1`) or a CIDR block (`172.16.0.0/12`, `fd00::/8`).

use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address with its host bits cleared, and the
/// number of leading bits every member shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    network: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Whether `addr` lies in this network. An IPv4 address written as
    /// IPv6 (`::ffff:10.0.0.5`, what a dual-stack socket reports) counts as
    /// the IPv4 address.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        addr.is_ipv4() == self.network.is_ipv4() && network_of(addr, self.prefix) == self.network
    }
}

/// `addr` with all but its first `prefix` bits cleared.
fn network_of(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let keep = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(a) & keep).into())
        }
        IpAddr::V6(a) => {
            let keep = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6((u128::from(a) & keep).into())
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an IP address or a CIDR block like 10.0.0.0/8")]
pub struct BadIpNet(String);

impl FromStr for IpNet {
    type Err = BadIpNet;

    fn from_str(s: &str) -> Result<Self, BadIpNet> {
        let bad = || BadIpNet(s.to_owned());
        let (addr, prefix) = match s.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (s, None),
        };
        let addr = addr.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(bad)?,
        };
        // Host bits are dropped: 10.1.2.3/8 means 10.0.0.0/8.
        Ok(IpNet {
            network: network_of(addr, prefix),
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn single_addresses_and_blocks() {
        let one: IpNet = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(one.contains(ip("::ffff:127.0.0.1")), "dual-stack form");
        assert!(!one.contains(ip("127.0.0.2")));

        let block: IpNet = "172.16.5.4/12".parse().unwrap();
        assert!(block.contains(ip("172.16.0.1")));
        assert!(block.contains(ip("172.31.255.255")));
        assert!(!block.contains(ip("172.32.0.1")));
        assert!(!block.contains(ip("::1")));

        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12:3456::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));

        let all: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.9")));
        assert!("::1".parse::<IpNet>().unwrap().contains(ip("::1")));
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in [
            "",
            "nginx",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/x",
            "10.0.0/8",
        ] {
            assert!(bad.parse::<IpNet>().is_err(), "{bad}");
        }
    }
}
