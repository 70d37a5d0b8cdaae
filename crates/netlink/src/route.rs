//! Routes of the main table: replace them all with what the runtime sends.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::link::{index_of, links};
use crate::error::Result;
use crate::Netlink;
use crate::{IpNet, Route};

fn ip_of(a: &RouteAddress) -> Option<IpAddr> {
    match a {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn dump(nl: &mut Netlink) -> Result<Vec<RouteMessage>> {
    let mut out = Vec::new();
    for family in [AddressFamily::Inet, AddressFamily::Inet6] {
        let mut req = RouteMessage::default();
        req.header.address_family = family;
        for m in nl.dump(RouteNetlinkMessage::GetRoute(req))? {
            if let RouteNetlinkMessage::NewRoute(r) = m {
                let table = r.attributes.iter().find_map(|a| match a {
                    RouteAttribute::Table(t) => Some(*t),
                    _ => None,
                });
                let main = u32::from(RouteHeader::RT_TABLE_MAIN);
                if table.unwrap_or(u32::from(r.header.table)) == main
                    && r.header.kind == RouteType::Unicast
                {
                    out.push(r);
                }
            }
        }
    }
    Ok(out)
}

/// Routes of the main table, with device names.
pub fn list_routes() -> Result<Vec<Route>> {
    let mut nl = Netlink::open()?;
    let names: Vec<(u32, String)> = links(&mut nl)?
        .into_iter()
        .map(|l| (l.index, l.name))
        .collect();
    Ok(dump(&mut nl)?
        .iter()
        .map(|r| {
            let mut route = Route {
                scope: u8::from(r.header.scope),
                ..Default::default()
            };
            for a in &r.attributes {
                match a {
                    RouteAttribute::Destination(d) => {
                        route.dest = ip_of(d).map(|addr| IpNet {
                            addr,
                            prefix: r.header.destination_prefix_length,
                        })
                    }
                    RouteAttribute::Gateway(g) => route.gateway = ip_of(g),
                    RouteAttribute::PrefSource(s) => route.source = ip_of(s),
                    RouteAttribute::Oif(i) => {
                        route.device = names
                            .iter()
                            .find(|(x, _)| x == i)
                            .map(|(_, n)| n.clone())
                            .unwrap_or_default()
                    }
                    _ => {}
                }
            }
            route
        })
        .collect())
}

/// Removes the static routes of the devices named in `routes`, then adds `routes`: link-scope
/// ones first, so that gateways are reachable when their routes go in.
pub fn update_routes(routes: &[Route]) -> Result<Vec<Route>> {
    let mut nl = Netlink::open()?;
    let mut devices = Vec::new();
    for r in routes {
        if !devices.iter().any(|(n, _)| n == &r.device) {
            devices.push((r.device.clone(), index_of(&mut nl, &r.device)?));
        }
    }
    for old in dump(&mut nl)? {
        let oif = old.attributes.iter().find_map(|a| match a {
            RouteAttribute::Oif(i) => Some(*i),
            _ => None,
        });
        let ours = oif.is_some_and(|i| devices.iter().any(|(_, d)| *d == i));
        if ours && old.header.protocol != RouteProtocol::Kernel {
            nl.request("delete route", RouteNetlinkMessage::DelRoute(old), 0)?;
        }
    }
    let mut ordered: Vec<&Route> = routes.iter().filter(|r| r.gateway.is_none()).collect();
    ordered.extend(routes.iter().filter(|r| r.gateway.is_some()));
    for r in ordered {
        let index = devices
            .iter()
            .find(|(n, _)| n == &r.device)
            .map(|(_, i)| *i)
            .unwrap_or(0);
        nl.request(
            "add route",
            RouteNetlinkMessage::NewRoute(route_message(r, index)),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
    }
    list_routes()
}

fn route_message(r: &Route, index: u32) -> RouteMessage {
    let v6 = r
        .dest
        .map(|d| d.addr.is_ipv6())
        .or(r.gateway.map(|g| g.is_ipv6()))
        .unwrap_or(false);
    let mut msg = RouteMessage::default();
    msg.header.address_family = if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    };
    msg.header.table = RouteHeader::RT_TABLE_MAIN;
    msg.header.protocol = RouteProtocol::Boot;
    msg.header.kind = RouteType::Unicast;
    msg.header.scope = if r.scope != 0 {
        RouteScope::from(r.scope)
    } else if r.gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    if let Some(d) = r.dest {
        msg.header.destination_prefix_length = d.prefix;
        msg.attributes
            .push(RouteAttribute::Destination(RouteAddress::from(d.addr)));
    }
    if let Some(g) = r.gateway {
        msg.attributes
            .push(RouteAttribute::Gateway(RouteAddress::from(g)));
    }
    if let Some(s) = r.source {
        msg.attributes
            .push(RouteAttribute::PrefSource(RouteAddress::from(s)));
    }
    msg.attributes.push(RouteAttribute::Oif(index));
    msg
}
