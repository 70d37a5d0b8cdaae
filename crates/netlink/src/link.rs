//! Interfaces: look-up by MAC, rename, MTU, addresses, up.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_REPLACE};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::error::{Error, Result};
use crate::Netlink;
use crate::{format_mac, Interface, IpNet};

/// A link as the kernel reports it.
#[derive(Debug, Clone)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub mac: String,
    pub mtu: u32,
    /// The link's kind (`veth`, `tun`, `bridge`, `macvtap`...), empty for a physical device.
    pub kind: String,
    /// Whether the link is administratively up.
    pub up: bool,
}

pub fn links(nl: &mut Netlink) -> Result<Vec<Link>> {
    let msgs = nl.dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => Some(link_of(&l)),
            _ => None,
        })
        .collect())
}

fn link_of(l: &LinkMessage) -> Link {
    let mut link = Link {
        index: l.header.index,
        name: String::new(),
        mac: String::new(),
        mtu: 0,
        kind: String::new(),
        up: l.header.flags.contains(LinkFlags::Up),
    };
    for a in &l.attributes {
        match a {
            LinkAttribute::LinkInfo(infos) => {
                for info in infos {
                    if let LinkInfo::Kind(kind) = info {
                        link.kind = kind.to_string().to_lowercase();
                    }
                }
            }
            LinkAttribute::IfName(n) => link.name = n.clone(),
            LinkAttribute::Address(b) => link.mac = format_mac(b),
            LinkAttribute::Mtu(m) => link.mtu = *m,
            _ => {}
        }
    }
    link
}

pub fn index_of(nl: &mut Netlink, name: &str) -> Result<u32> {
    links(nl)?
        .into_iter()
        .find(|l| l.name == name)
        .map(|l| l.index)
        .ok_or_else(|| Error::NotFound(format!("network device {name}")))
}

pub fn addresses(nl: &mut Netlink, index: u32) -> Result<Vec<AddressMessage>> {
    let msgs = nl.dump(RouteNetlinkMessage::GetAddress(AddressMessage::default()))?;
    Ok(msgs
        .into_iter()
        .filter_map(|m| match m {
            RouteNetlinkMessage::NewAddress(a) if a.header.index == index => Some(a),
            _ => None,
        })
        .collect())
}

pub fn ip_of(a: &AddressMessage) -> Option<IpNet> {
    let local = a.attributes.iter().find_map(|x| match x {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    let addr = local.or_else(|| {
        a.attributes.iter().find_map(|x| match x {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })?;
    Some(IpNet {
        addr,
        prefix: a.header.prefix_len,
    })
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

pub fn set_link(
    nl: &mut Netlink,
    index: u32,
    up: Option<bool>,
    attrs: Vec<LinkAttribute>,
) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    if let Some(up) = up {
        msg.header.change_mask |= LinkFlags::Up;
        if up {
            msg.header.flags |= LinkFlags::Up;
        }
    }
    msg.attributes = attrs;
    nl.request("set link", RouteNetlinkMessage::SetLink(msg), 0)
}

fn address_message(index: u32, net: &IpNet) -> AddressMessage {
    let mut msg = AddressMessage::default();
    msg.header.index = index;
    msg.header.prefix_len = net.prefix;
    msg.header.family = if net.addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    msg.attributes.push(AddressAttribute::Local(net.addr));
    msg.attributes.push(AddressAttribute::Address(net.addr));
    if let IpAddr::V4(v4) = net.addr {
        if net.prefix < 31 {
            let host_bits = u32::MAX.checked_shr(u32::from(net.prefix)).unwrap_or(0);
            msg.attributes
                .push(AddressAttribute::Broadcast(Ipv4Addr::from(
                    u32::from(v4) | host_bits,
                )));
        }
    }
    msg
}

/// Applies `want` to the device with its MAC (or name): name, MTU, addresses (replacing the old
/// ones, IPv6 link-local kept), then brings it up. Returns the resulting state.
pub fn update_interface(want: &Interface) -> Result<Interface> {
    let mut nl = Netlink::open()?;
    let all = links(&mut nl)?;
    let link = all
        .iter()
        .find(|l| !want.hw_addr.is_empty() && l.mac.eq_ignore_ascii_case(&want.hw_addr))
        .or_else(|| {
            all.iter()
                .find(|l| !want.name.is_empty() && l.name == want.name)
        })
        .cloned()
        .ok_or_else(|| {
            Error::NotFound(format!(
                "network device with MAC {:?} or name {:?}",
                want.hw_addr, want.name
            ))
        })?;

    let mut attrs = Vec::new();
    if !want.name.is_empty() && want.name != link.name {
        attrs.push(LinkAttribute::IfName(want.name.clone()));
    }
    if want.mtu != 0 {
        let mtu = u32::try_from(want.mtu)
            .map_err(|_| Error::InvalidArgument(format!("invalid mtu {}", want.mtu)))?;
        attrs.push(LinkAttribute::Mtu(mtu));
    }
    if !attrs.is_empty() {
        // Renaming needs the link down.
        set_link(&mut nl, link.index, Some(false), Vec::new())?;
        set_link(&mut nl, link.index, None, attrs)?;
    }
    for old in addresses(&mut nl, link.index)? {
        let keep =
            ip_of(&old).is_some_and(|n| is_link_local_v6(&n.addr) || want.addresses.contains(&n));
        if !keep {
            nl.request("delete address", RouteNetlinkMessage::DelAddress(old), 0)?;
        }
    }
    for net in &want.addresses {
        nl.request(
            "add address",
            RouteNetlinkMessage::NewAddress(address_message(link.index, net)),
            NLM_F_CREATE | NLM_F_REPLACE,
        )?;
    }
    set_link(&mut nl, link.index, Some(true), Vec::new())?;
    list_interfaces()?
        .into_iter()
        .find(|i| i.hw_addr == link.mac)
        .ok_or_else(|| Error::Decode(format!("device {} vanished", link.name)))
}

/// Every link with its addresses.
pub fn list_interfaces() -> Result<Vec<Interface>> {
    let mut nl = Netlink::open()?;
    let mut out = Vec::new();
    for l in links(&mut nl)? {
        let addresses = addresses(&mut nl, l.index)?
            .iter()
            .filter_map(ip_of)
            .collect();
        out.push(Interface {
            name: l.name,
            hw_addr: l.mac,
            mtu: u64::from(l.mtu),
            addresses,
        });
    }
    Ok(out)
}

/// Brings device `index` up, with `mtu` when non-zero.
pub fn set_up(nl: &mut Netlink, index: u32, mtu: u32) -> Result<()> {
    let attrs = if mtu != 0 {
        vec![LinkAttribute::Mtu(mtu)]
    } else {
        Vec::new()
    };
    set_link(nl, index, Some(true), attrs)
}

/// Deletes device `index`.
pub fn delete(nl: &mut Netlink, index: u32) -> Result<()> {
    let mut msg = LinkMessage::default();
    msg.header.index = index;
    nl.request("delete link", RouteNetlinkMessage::DelLink(msg), 0)
}

/// Sets the MAC address of device `index` (`aa:bb:..`).
pub fn set_mac(nl: &mut Netlink, index: u32, mac: &str) -> Result<()> {
    set_link(
        nl,
        index,
        None,
        vec![LinkAttribute::Address(crate::parse_mac(mac)?)],
    )
}

/// Removes the addresses of device `index` that are in `which`.
pub fn remove_addresses(nl: &mut Netlink, index: u32, which: &[IpNet]) -> Result<()> {
    for old in addresses(nl, index)? {
        if ip_of(&old).is_some_and(|a| which.contains(&a)) {
            nl.request("delete address", RouteNetlinkMessage::DelAddress(old), 0)?;
        }
    }
    Ok(())
}
