//! rtnetlink and network namespace primitives shared by the host side of kata-rs (the pod's network
//! namespace: its interfaces, the tap devices and tc filters that connect them to the VM) and the
//! guest agent (interfaces, routes and neighbours pushed by the runtime).
//!
//! Everything is synchronous and acts on the network namespace of the calling thread; use
//! [`netns::run_in`] to act in another one.

mod error;
#[cfg(feature = "protocols")]
pub mod grpc;
pub mod link;
pub mod macvtap;
pub mod neigh;
mod netlink;
pub mod netns;
pub mod route;
pub mod tap;
pub mod tc;

pub use error::{Error, Result};
pub use netlink::Netlink;

use std::net::IpAddr;

/// An address with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    /// `10.0.0.1/24`, or a bare address (host prefix).
    pub fn parse(s: &str) -> Result<Self> {
        let bad = || Error::InvalidArgument(format!("invalid address {s:?}"));
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (
                a.parse::<IpAddr>().map_err(|_| bad())?,
                Some(p.parse::<u8>().map_err(|_| bad())?),
            ),
            None => (s.parse::<IpAddr>().map_err(|_| bad())?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        if prefix > max {
            return Err(bad());
        }
        Ok(IpNet { addr, prefix })
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Desired or observed state of one interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// MAC address `aa:bb:cc:dd:ee:ff`; the key used to find the device.
    pub hw_addr: String,
    pub mtu: u64,
    pub addresses: Vec<IpNet>,
}

/// One route. `dest: None` is the default route.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub dest: Option<IpNet>,
    pub gateway: Option<IpAddr>,
    pub device: String,
    pub source: Option<IpAddr>,
    pub scope: u8,
}

/// One static neighbour (ARP/NDP) entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbor {
    pub ip: IpAddr,
    pub device: String,
    pub lladdr: String,
    pub state: u16,
    pub flags: u8,
}

/// `aa:bb:..` to bytes.
pub fn parse_mac(s: &str) -> Result<Vec<u8>> {
    let bytes: std::result::Result<Vec<u8>, _> =
        s.split(':').map(|b| u8::from_str_radix(b, 16)).collect();
    match bytes {
        Ok(b) if b.len() == 6 => Ok(b),
        _ => Err(Error::InvalidArgument(format!("invalid MAC address {s:?}"))),
    }
}

pub fn format_mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse() {
        assert_eq!(
            IpNet::parse("10.0.0.2/24").expect("v4").to_string(),
            "10.0.0.2/24"
        );
        assert_eq!(IpNet::parse("10.0.0.2").expect("bare").prefix, 32);
        assert_eq!(IpNet::parse("fd00::1/64").expect("v6").prefix, 64);
        assert!(IpNet::parse("10.0.0.2/33").is_err());
        assert!(IpNet::parse("nope/8").is_err());
    }

    #[test]
    fn macs_round_trip() {
        let b = parse_mac("02:42:AC:11:00:02").expect("mac");
        assert_eq!(format_mac(&b), "02:42:ac:11:00:02");
        assert!(parse_mac("02:42").is_err());
    }
}
