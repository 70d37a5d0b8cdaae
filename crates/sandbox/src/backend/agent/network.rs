//! Interfaces and routes in the agent protocol's types (`types.proto`): what `UpdateInterface` and
//! `UpdateRoutes` carry, as Kata's runtime fills them (`device` and `name` the same, the mask as a
//! prefix length).

use std::net::IpAddr;

use kata_netlink::{Interface, Route};
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
}
