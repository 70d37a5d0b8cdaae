//! Interfaces and routes in the agent protocol's types (`types.proto`): what `UpdateInterface` and
//! `UpdateRoutes` carry, as Kata's runtime fills them (`device` and `name` the same, the mask as a
//! prefix length).

use std::net::IpAddr;

use kata_netlink::{Interface, Neighbor, Route};
use kata_protocols::types as pb;

fn family(ip: &IpAddr) -> pb::IPFamily {
    if ip.is_ipv4() {
        pb::IPFamily::v4
    } else {
        pb::IPFamily::v6
    }
}

pub(crate) fn interface_pb(i: &Interface) -> pb::Interface {
    let mut out = pb::Interface::new();
    out.device = i.name.clone();
    out.name = i.name.clone();
    out.hwAddr = i.hw_addr.clone();
    out.mtu = i.mtu;
    out.IPAddresses = i
        .addresses
        .iter()
        .map(|n| {
            let mut a = pb::IPAddress::new();
            a.family = family(&n.addr).into();
            a.address = n.addr.to_string();
            a.mask = n.prefix.to_string();
            a
        })
        .collect();
    out
}

pub(crate) fn route_pb(r: &Route) -> pb::Route {
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

/// A static neighbour as Kata's runtime sends it in `AddARPNeighbors` (`toIPAddress` with the
/// family, the device's name, the link-layer address, the kernel's state and flags).
pub(crate) fn neighbor_pb(n: &Neighbor) -> pb::ARPNeighbor {
    let mut out = pb::ARPNeighbor::new();
    let mut ip = pb::IPAddress::new();
    ip.family = family(&n.ip).into();
    ip.address = n.ip.to_string();
    out.toIPAddress = Some(ip).into();
    out.device = n.device.clone();
    out.lladdr = n.lladdr.clone();
    out.state = i32::from(n.state);
    out.flags = i32::from(n.flags);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kata_netlink::IpNet;

    #[test]
    fn an_interface_and_its_default_route_travel_as_kata_sends_them() {
        let eth0 = Interface {
            name: "eth0".into(),
            hw_addr: "02:42:0a:58:4d:02".into(),
            mtu: 1500,
            addresses: vec![IpNet::parse("10.88.77.2/24").expect("ip")],
        };
        let pb = interface_pb(&eth0);
        assert_eq!((pb.device.as_str(), pb.name.as_str()), ("eth0", "eth0"));
        assert_eq!(pb.IPAddresses[0].address, "10.88.77.2");
        assert_eq!(pb.IPAddresses[0].mask, "24");
        let default = Route {
            gateway: Some("10.88.77.1".parse().expect("gw")),
            device: "eth0".into(),
            ..Default::default()
        };
        let r = route_pb(&default);
        assert_eq!((r.dest.as_str(), r.gateway.as_str()), ("", "10.88.77.1"));
    }

    #[test]
    fn a_static_neighbour_travels_with_its_device_and_state() {
        let n = Neighbor {
            ip: "10.88.77.9".parse().expect("ip"),
            device: "eth0".into(),
            lladdr: "02:00:00:00:00:09".into(),
            state: 0x80,
            flags: 0,
        };
        let pb = neighbor_pb(&n);
        assert_eq!(pb.toIPAddress.address, "10.88.77.9");
        assert_eq!(
            (pb.device.as_str(), pb.lladdr.as_str()),
            ("eth0", "02:00:00:00:00:09")
        );
        assert_eq!(pb.state, 0x80);
    }
}
