//! Static ARP/NDP neighbours.

use std::net::IpAddr;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::link::index_of;
use crate::error::Result;
use crate::Netlink;
use crate::{parse_mac, Neighbor};

/// NUD_PERMANENT, used when the runtime sends no state.
const NUD_PERMANENT: u16 = 0x80;

pub fn add_neighbors(neighbors: &[Neighbor]) -> Result<()> {
    let mut nl = Netlink::open()?;
    for n in neighbors {
        let index = index_of(&mut nl, &n.device)?;
        let mut msg = NeighbourMessage::default();
        msg.header.ifindex = index;
        msg.header.family = if n.ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        };
        msg.header.state = NeighbourState::from(if n.state == 0 { NUD_PERMANENT } else { n.state });
        msg.header.flags = NeighbourFlags::from_bits_retain(n.flags);
        msg.attributes
            .push(NeighbourAttribute::Destination(match n.ip {
                IpAddr::V4(v4) => NeighbourAddress::Inet(v4),
                IpAddr::V6(v6) => NeighbourAddress::Inet6(v6),
            }));
        if !n.lladdr.is_empty() {
            msg.attributes
                .push(NeighbourAttribute::LinkLayerAddress(parse_mac(&n.lladdr)?));
        }
        nl.request(
            "add neighbour",
            RouteNetlinkMessage::NewNeighbour(msg),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
    }
    Ok(())
}

/// The permanent (static) neighbour entries of the calling thread's network namespace on the
/// devices `devices` (index, name), IPv4 and IPv6: what Kata's runtime sends the agent in
/// `AddARPNeighbors` (`virtcontainers/network_linux.go`, `generateVCNetworkStructures`).
pub fn static_neighbors(nl: &mut Netlink, devices: &[(u32, String)]) -> Result<Vec<Neighbor>> {
    let msgs = nl.dump(RouteNetlinkMessage::GetNeighbour(
        NeighbourMessage::default(),
    ))?;
    let mut out = Vec::new();
    for m in msgs {
        let RouteNetlinkMessage::NewNeighbour(n) = m else {
            continue;
        };
        let state = u16::from(n.header.state);
        if state & NUD_PERMANENT == 0 {
            continue;
        }
        let Some((_, device)) = devices.iter().find(|(i, _)| *i == n.header.ifindex) else {
            continue;
        };
        let mut ip = None;
        let mut lladdr = String::new();
        for a in &n.attributes {
            match a {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                    ip = Some(IpAddr::V4(*v4))
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                    ip = Some(IpAddr::V6(*v6))
                }
                NeighbourAttribute::LinkLayerAddress(b) => lladdr = crate::format_mac(b),
                _ => {}
            }
        }
        if let Some(ip) = ip {
            out.push(Neighbor {
                ip,
                device: device.clone(),
                lladdr,
                state,
                flags: n.header.flags.bits(),
            });
        }
    }
    Ok(out)
}
