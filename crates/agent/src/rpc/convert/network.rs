//! `types.Interface`, `types.Route`, `types.ARPNeighbor` to and from the network domain types.

use std::net::IpAddr;

use kata_protocols::types as pb;

use crate::error::{AgentError, Result};
use crate::network::{Interface, IpNet, Neighbor, Route};

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
            .map_err(crate::error::AgentError::from)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Interface {
        name: i.name.clone(),
        hw_addr: i.hwAddr.to_ascii_lowercase(),
        mtu: i.mtu,
        addresses,
    })
}

pub fn interface_to_grpc(i: &Interface) -> pb::Interface {
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

fn family(ip: &IpAddr) -> pb::IPFamily {
    if ip.is_ipv4() {
        pb::IPFamily::v4
    } else {
        pb::IPFamily::v6
    }
}

fn opt_ip(s: &str, what: &str) -> Result<Option<IpAddr>> {
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|_| AgentError::InvalidArgument(format!("invalid {what} {s:?}")))
}

pub fn route_from_grpc(r: &pb::Route) -> Result<Route> {
    let dest = match r.dest.as_str() {
        "" | "default" => None,
        d => Some(IpNet::parse(d)?),
    };
    if r.device.is_empty() {
        return Err(AgentError::InvalidArgument(format!(
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
            .map_err(|_| AgentError::InvalidArgument(format!("invalid scope {}", r.scope)))?,
    })
}

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

pub fn neighbor_from_grpc(n: &pb::ARPNeighbor) -> Result<Neighbor> {
    let ip = n
        .toIPAddress
        .as_ref()
        .ok_or_else(|| AgentError::InvalidArgument("ARP neighbour without address".into()))?;
    Ok(Neighbor {
        ip: ip.address.parse().map_err(|_| {
            AgentError::InvalidArgument(format!("invalid neighbour {:?}", ip.address))
        })?,
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
    fn interface_with_mask_converts_both_ways() {
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
        assert_eq!(
            (
                back.IPAddresses[0].address.as_str(),
                back.IPAddresses[0].mask.as_str()
            ),
            ("172.17.0.2", "16")
        );
    }

    #[test]
    fn default_route_and_errors() {
        let mut r = pb::Route::new();
        r.gateway = "172.17.0.1".into();
        r.device = "eth0".into();
        let d = route_from_grpc(&r).expect("convert");
        assert_eq!(d.dest, None);
        assert_eq!(route_to_grpc(&d).gateway, "172.17.0.1");
        r.device.clear();
        assert!(matches!(
            route_from_grpc(&r),
            Err(AgentError::InvalidArgument(_))
        ));
        let mut bad = pb::Route::new();
        bad.dest = "10.0.0.0/99".into();
        bad.device = "eth0".into();
        assert!(route_from_grpc(&bad).is_err());
    }
}
