//! One pod interface connected to the VM as Kata's `macvtap` model does: a macvtap (bridge mode)
//! on top of the interface CNI made carries the interface's MAC and is the VM's NIC (QEMU reads
//! and writes frames through its character device); the interface itself gets a new random MAC
//! and gives up its addresses, which the guest now answers for (the kernel drops the routes and
//! static neighbours with them). Teardown deletes the macvtap and gives the interface its MAC,
//! addresses, routes and static neighbours back.
//!
//! Source: Kata's `virtcontainers/network_linux.go` (`tapNetworkPair`, `untapNetworkPair` and
//! `createMacvtapFds` for the macvtap model).

use std::path::{Path, PathBuf};

use kata_netlink::{link, macvtap, neigh, route, Interface, IpNet, Neighbor, Netlink, Route};
use serde::{Deserialize, Serialize};

use super::network::{Endpoint, TAP_SUFFIX};

/// What an interface had before the macvtap model took its MAC and addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    pub interface: String,
    pub mac: String,
    /// `addr/prefix` each.
    pub addresses: Vec<String>,
    /// Routes through the interface (not the kernel's prefix routes).
    #[serde(default)]
    pub routes: Vec<SavedRoute>,
    /// Its static neighbours: (address, link-layer address).
    #[serde(default)]
    pub neighbors: Vec<(String, String)>,
}

/// A route in the form the sandbox state keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedRoute {
    /// `addr/prefix`, empty for the default route.
    pub dest: String,
    pub gateway: String,
    pub source: String,
    pub scope: u8,
}

impl SavedRoute {
    fn of(r: &Route) -> Self {
        let text = |ip: Option<std::net::IpAddr>| ip.map(|i| i.to_string()).unwrap_or_default();
        SavedRoute {
            dest: r.dest.map(|d| d.to_string()).unwrap_or_default(),
            gateway: text(r.gateway),
            source: text(r.source),
            scope: r.scope,
        }
    }

    fn route(&self, device: &str) -> Option<Route> {
        let ip = |s: &str| -> Option<Option<std::net::IpAddr>> {
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        Some(Route {
            dest: if self.dest.is_empty() {
                None
            } else {
                Some(IpNet::parse(&self.dest).ok()?)
            },
            gateway: ip(&self.gateway)?,
            source: ip(&self.source)?,
            device: device.to_string(),
            scope: self.scope,
        })
    }
}

/// Connects `l` (addresses `addresses`) through macvtap `tap<n>_kata`, whose character device
/// is made as `<dev_dir>/tap<n>_kata` (owner-only) for QEMU. `made` records the macvtap (for
/// deletion) and `restore` what the interface had, as soon as each is changed.
#[allow(clippy::too_many_arguments)]
pub(super) fn connect(
    nl: &mut Netlink,
    l: &link::Link,
    addresses: Vec<IpNet>,
    taken: (&[Route], &[Neighbor]),
    n: usize,
    dev_dir: &Path,
    made: &mut Vec<(String, String)>,
    restore: &mut Vec<Restore>,
) -> kata_netlink::Result<Endpoint> {
    let name = format!("tap{n}{TAP_SUFFIX}");
    let (routes, neighbors) = taken;
    restore.push(Restore {
        interface: l.name.clone(),
        mac: l.mac.clone(),
        addresses: addresses.iter().map(ToString::to_string).collect(),
        routes: routes
            .iter()
            .filter(|r| r.device == l.name)
            .map(SavedRoute::of)
            .collect(),
        neighbors: neighbors
            .iter()
            .filter(|n| n.device == l.name)
            .map(|n| (n.ip.to_string(), n.lladdr.clone()))
            .collect(),
    });
    // Two devices with one MAC on a segment confuse the bridge: the interface takes a new one.
    link::set_mac(nl, l.index, &kata_netlink::format_mac(&random_mac()?))?;
    let index = macvtap::create(nl, &name, l.index, &l.mac, l.mtu)?;
    made.push((name.clone(), String::new()));
    link::remove_addresses(nl, l.index, &addresses)?;
    link::set_up(nl, index, 0)?;
    let (major, minor) = macvtap::device_number(&name, index)?;
    let device = dev_dir.join(&name);
    make_char_device(&device, major, minor)?;
    Ok(Endpoint {
        interface: Interface {
            name: l.name.clone(),
            hw_addr: l.mac.clone(),
            mtu: u64::from(l.mtu),
            addresses,
        },
        tap: name,
        device: Some(device),
    })
}

/// Gives each interface of `restore` its MAC and addresses back (what is gone is skipped).
pub(super) fn restore_all(nl: &mut Netlink, restore: &[Restore]) {
    for r in restore {
        let Ok(index) = link::index_of(nl, &r.interface) else {
            continue;
        };
        if let Err(e) = link::set_mac(nl, index, &r.mac) {
            tracing::warn!(interface = %r.interface, error = %e, "cannot give the pod interface its MAC back");
        }
        let addresses: Vec<IpNet> = r
            .addresses
            .iter()
            .filter_map(|a| IpNet::parse(a).ok())
            .collect();
        if !addresses.is_empty() {
            let want = Interface {
                name: r.interface.clone(),
                hw_addr: r.mac.clone(),
                mtu: 0,
                addresses,
            };
            if let Err(e) = link::update_interface(&want) {
                tracing::warn!(interface = %r.interface, error = %e, "cannot give the pod interface its addresses back");
            }
        }
        let routes: Vec<Route> = r
            .routes
            .iter()
            .filter_map(|saved| saved.route(&r.interface))
            .collect();
        if !routes.is_empty() {
            if let Err(e) = route::update_routes(&routes) {
                tracing::warn!(interface = %r.interface, error = %e, "cannot give the pod interface its routes back");
            }
        }
        let neighbors: Vec<Neighbor> = r
            .neighbors
            .iter()
            .filter_map(|(ip, lladdr)| {
                Some(Neighbor {
                    ip: ip.parse().ok()?,
                    device: r.interface.clone(),
                    lladdr: lladdr.clone(),
                    state: 0,
                    flags: 0,
                })
            })
            .collect();
        if let Err(e) = neigh::add_neighbors(&neighbors) {
            tracing::warn!(interface = %r.interface, error = %e, "cannot give the pod interface its neighbours back");
        }
    }
}

/// A character device node `path` (0600, replacing a stale one) for (major, minor).
fn make_char_device(path: &Path, major: u32, minor: u32) -> kata_netlink::Result<()> {
    use nix::sys::stat::{makedev, mknod, Mode, SFlag};
    let _ = std::fs::remove_file(path);
    mknod(
        path,
        SFlag::S_IFCHR,
        Mode::S_IRUSR | Mode::S_IWUSR,
        makedev(u64::from(major), u64::from(minor)),
    )
    .map_err(|e| kata_netlink::Error::Io {
        what: format!("mknod {}", path.display()),
        source: e.into(),
    })
}

/// A random unicast, locally administered MAC.
fn random_mac() -> kata_netlink::Result<[u8; 6]> {
    use std::io::Read;
    let mut mac = [0u8; 6];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut mac))
        .map_err(|e| kata_netlink::Error::Io {
            what: "reading /dev/urandom for a MAC".into(),
            source: e,
        })?;
    mac[0] = (mac[0] & 0xfe) | 0x02;
    Ok(mac)
}

/// The device nodes of `endpoints` (for removal with the sandbox).
pub fn devices(endpoints: &[Endpoint]) -> Vec<PathBuf> {
    endpoints.iter().filter_map(|e| e.device.clone()).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_macs_are_local_unicast_and_differ() {
        let a = super::random_mac().expect("mac");
        let b = super::random_mac().expect("mac");
        assert_eq!(a[0] & 0x03, 0x02);
        assert_ne!(a, b);
    }
}
