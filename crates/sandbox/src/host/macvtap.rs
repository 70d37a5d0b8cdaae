//! One pod interface connected to the VM as Kata's `macvtap` model does: a macvtap (bridge mode)
//! on top of the interface CNI made carries the interface's MAC and is the VM's NIC (QEMU reads
//! and writes frames through its character device); the interface itself gets a new random MAC
//! and gives up its addresses, which the guest now answers for. Teardown deletes the macvtap and
//! gives the interface its MAC and addresses back.
//!
//! Source: Kata's `virtcontainers/network_linux.go` (`tapNetworkPair`, `untapNetworkPair` and
//! `createMacvtapFds` for the macvtap model).

use std::path::{Path, PathBuf};

use kata_netlink::{link, macvtap, Interface, IpNet, Netlink};
use serde::{Deserialize, Serialize};

use super::network::{Endpoint, TAP_SUFFIX};

/// What an interface had before the macvtap model took its MAC and addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Restore {
    pub interface: String,
    pub mac: String,
    /// `addr/prefix` each.
    pub addresses: Vec<String>,
}

/// Connects `l` (addresses `addresses`) through macvtap `tap<n>_kata`, whose character device
/// is made as `<dev_dir>/tap<n>_kata` (owner-only) for QEMU. `made` records the macvtap (for
/// deletion) and `restore` what the interface had, as soon as each is changed.
pub(super) fn connect(
    nl: &mut Netlink,
    l: &link::Link,
    addresses: Vec<IpNet>,
    n: usize,
    dev_dir: &Path,
    made: &mut Vec<(String, String)>,
    restore: &mut Vec<Restore>,
) -> kata_netlink::Result<Endpoint> {
    let name = format!("tap{n}{TAP_SUFFIX}");
    restore.push(Restore {
        interface: l.name.clone(),
        mac: l.mac.clone(),
        addresses: addresses.iter().map(ToString::to_string).collect(),
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
