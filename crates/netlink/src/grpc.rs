//! The network types in the agent protocol's form (`types.proto`: `Interface`, `Route`,
//! `ARPNeighbor`), both ways: the runtime fills them as Kata's runtime does (`device` and `name`
//! the same, the mask as a prefix length, the family from the address) and the agent reads them,
//! refusing what does not parse. One home for host and guest, so the two ends cannot drift.
//!
//! Source: Kata's `src/libs/protocols/protos/types.proto` and the runtime's
//! `virtcontainers/pkg/agent/protocols` use in `kata_agent.go`.

use std::net::IpAddr;

use kata_protocols::types as pb;

use crate::error::{Error, Result};
use crate::{Interface, IpNet, Neighbor, Route};

fn family(ip: &IpAddr) -> pb::IPFamily {
    if ip.is_ipv4() {
        pb::IPFamily::v4
    } else {
        pb::IPFamily::v6
    }
}

fn ip_address(ip: &IpAddr, prefix: Option<u8>) -> pb::IPAddress {
    let mut a = pb::IPAddress::new();
    a.family = family(ip).into();
    a.address = ip.to_string();
    a.mask = prefix.map(|p| p.to_string()).unwrap_or_default();
    a
}

/// An interface as `UpdateInterface` carries it.
pub fn interface_to_grpc(i: &Interface) -> pb::Interface {
    let mut out = pb::Interface::new();
    out.device = i.name.clone();
    out.name = i.name.clone();
    out.hwAddr = i.hw_addr.clone();
    out.mtu = i.mtu;
    out.IPAddresses = i
        .addresses
        .iter()
        .map(|n| ip_address(&n.addr, Some(n.prefix)))
        .collect();
    out
}

/// An interface from `UpdateInterface`; the MAC is lowercased. Errors: an address or mask that
/// does not parse.
pub fn interface_from_grpc(i: &pb::Interface) -> Result<Interface> {
    let addresses = i
        .IPAddresses
        .iter()
        .map(|a| {
            if a.mask.is_empty() {
                IpNet::parse(&a.address)
            } else {
                IpNet::parse(&format!("{}/{}", a.address, a.mask))
            }
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Interface {
        name: i.name.clone(),
        hw_addr: i.hwAddr.to_ascii_lowercase(),
        mtu: i.mtu,
        addresses,
    })
}

/// A route as `UpdateRoutes` carries it (`dest` empty for the default route).
pub fn route_to_grpc(r: &Route) -> pb::Route {
    let mut out = pb::Route::new();
    out.dest = r.dest.map(|d| d.to_string()).unwrap_or_default();
    out.gateway = r.gateway.map(|g| g.to_string()).unwrap_or_default();
    out.device = r.device.clone();
    out.source = r.source.map(|s| s.to_string()).unwrap_or_default();
    out.scope = u32::from(r.scope);
    let ip = r.dest.map(|d| d.addr).or(r.gateway);
    out.family = ip.map(|i| family(&i)).unwrap_or(pb::IPFamily::v4).into();
    out
}

fn opt_ip(s: &str, what: &str) -> Result<Option<IpAddr>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| Error::InvalidArgument(format!("invalid {what} {s:?}")))
}

/// A route from `UpdateRoutes` (`dest` empty or `default` for the default route). Errors: no
/// device, an address that does not parse, a scope above 255.
pub fn route_from_grpc(r: &pb::Route) -> Result<Route> {
    let dest = match r.dest.as_str() {
        "" | "default" => None,
        d => Some(IpNet::parse(d)?),
    };
    if r.device.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "route to {:?} without device",
            r.dest
        )));
    }
    Ok(Route {
        dest,
        gateway: opt_ip(&r.gateway, "gateway")?,
        device: r.device.clone(),
        source: opt_ip(&r.source, "source")?,
        scope: u8::try_from(r.scope)
            .map_err(|_| Error::InvalidArgument(format!("invalid scope {}", r.scope)))?,
    })
}

/// A static neighbour as `AddARPNeighbors` carries it (`toIPAddress` with its family, the
/// device's name, the link-layer address, the kernel's state and flags).
pub fn neighbor_to_grpc(n: &Neighbor) -> pb::ARPNeighbor {
    let mut out = pb::ARPNeighbor::new();
    out.toIPAddress = Some(ip_address(&n.ip, None)).into();
    out.device = n.device.clone();
    out.lladdr = n.lladdr.clone();
    out.state = i32::from(n.state);
    out.flags = i32::from(n.flags);
    out
}

/// A neighbour from `AddARPNeighbors`; a state or flags out of range become 0 (the kernel's
/// defaults: permanent, no flags). Errors: no or a bad address.
pub fn neighbor_from_grpc(n: &pb::ARPNeighbor) -> Result<Neighbor> {
    let ip = n
        .toIPAddress
        .as_ref()
        .ok_or_else(|| Error::InvalidArgument("ARP neighbour without address".into()))?;
    Ok(Neighbor {
        ip: ip
            .address
            .parse()
            .map_err(|_| Error::InvalidArgument(format!("invalid neighbour {:?}", ip.address)))?,
        device: n.device.clone(),
        lladdr: n.lladdr.clone(),
        state: u16::try_from(n.state).unwrap_or(0),
        flags: u8::try_from(n.flags).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interface_travels_both_ways_with_its_mask() {
        let mut i = pb::Interface::new();
        i.name = "eth0".into();
        i.hwAddr = "02:42:AC:11:00:02".into();
        i.mtu = 1500;
        let mut a = pb::IPAddress::new();
        a.address = "172.17.0.2".into();
        a.mask = "16".into();
        i.IPAddresses = vec![a];
        let d = interface_from_grpc(&i).expect("convert");
        assert_eq!(d.hw_addr, "02:42:ac:11:00:02");
        assert_eq!(d.addresses[0].to_string(), "172.17.0.2/16");
        let back = interface_to_grpc(&d);
        assert_eq!((back.device.as_str(), back.name.as_str()), ("eth0", "eth0"));
        assert_eq!(
            (
                back.IPAddresses[0].address.as_str(),
                back.IPAddresses[0].mask.as_str()
            ),
            ("172.17.0.2", "16")
        );
    }

    #[test]
    fn the_default_route_travels_and_bad_routes_are_refused() {
        let mut r = pb::Route::new();
        r.gateway = "172.17.0.1".into();
        r.device = "eth0".into();
        let d = route_from_grpc(&r).expect("convert");
        assert_eq!(d.dest, None);
        let back = route_to_grpc(&d);
        assert_eq!(
            (back.dest.as_str(), back.gateway.as_str()),
            ("", "172.17.0.1")
        );
        r.device.clear();
        assert!(matches!(
            route_from_grpc(&r),
            Err(Error::InvalidArgument(_))
        ));
        let mut bad = pb::Route::new();
        bad.dest = "10.0.0.0/99".into();
        bad.device = "eth0".into();
        assert!(route_from_grpc(&bad).is_err());
    }

    #[test]
    fn a_static_neighbour_travels_both_ways() {
        let n = Neighbor {
            ip: "10.88.77.9".parse().expect("ip"),
            device: "eth0".into(),
            lladdr: "02:00:00:00:00:09".into(),
            state: 0x80,
            flags: 0,
        };
        let pb = neighbor_to_grpc(&n);
        assert_eq!(pb.toIPAddress.address, "10.88.77.9");
        assert_eq!(neighbor_from_grpc(&pb).expect("back"), n);
        assert!(neighbor_from_grpc(&pb::ARPNeighbor::new()).is_err());
    }
}
