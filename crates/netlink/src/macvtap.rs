//! macvtap devices (Kata's `macvtap` internetworking model): a macvtap on top of the pod's
//! interface, in `bridge` mode, whose character device (`/dev/tapN` under udev) the hypervisor
//! reads and writes frames through.
//!
//! Source: Kata's `virtcontainers/network_linux.go` (`tapNetworkPair` for the macvtap model and
//! `createMacvtapFds`). Kata opens `/dev/tap<ifindex>`; that name is per network namespace while
//! device nodes are not, so here the device number is read from sysfs inside the namespace and
//! the caller makes a node of its own.

use std::path::Path;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVtap, LinkAttribute, LinkInfo, LinkMessage, MacVtapMode,
};
use netlink_packet_route::RouteNetlinkMessage;

use crate::error::{Error, Result};
use crate::link::index_of;
use crate::Netlink;

/// Creates macvtap `name` (bridge mode) on `parent` with MAC `mac` (`aa:bb:..`, kept when empty)
/// and MTU `mtu` (inherited when 0), in the calling thread's network namespace. Returns its index.
pub fn create(nl: &mut Netlink, name: &str, parent: u32, mac: &str, mtu: u32) -> Result<u32> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    msg.attributes.push(LinkAttribute::Link(parent));
    if !mac.is_empty() {
        msg.attributes
            .push(LinkAttribute::Address(crate::parse_mac(mac)?));
    }
    if mtu != 0 {
        msg.attributes.push(LinkAttribute::Mtu(mtu));
    }
    msg.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::MacVtap),
        LinkInfo::Data(InfoData::MacVtap(vec![InfoMacVtap::Mode(
            MacVtapMode::Bridge,
        )])),
    ]));
    nl.request(
        &format!("create macvtap {name}"),
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    index_of(nl, name)
}

/// The character device (major, minor) of macvtap `name` with index `index` in the calling
/// thread's network namespace, read from `/sys/class/net/<name>/macvtap/tap<index>/dev`.
///
/// The host's `/sys` shows the namespace it was mounted in, so this thread leaves the shared mount
/// namespace (`unshare(CLONE_NEWNS)`, its own filesystem context) and mounts a fresh sysfs for the
/// current network namespace over `/sys`, privately. Call it on a thread that ends afterwards
/// ([`crate::netns::run_in`] does).
pub fn device_number(name: &str, index: u32) -> Result<(u32, u32)> {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    let io = |what: &str, e: nix::Error| Error::io(format!("macvtap {name}: {what}"), e.into());
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| io("unshare mount namespace", e))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| io("make mounts private", e))?;
    mount(
        Some("sysfs"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(|e| io("mount sysfs", e))?;
    let path = format!("/sys/class/net/{name}/macvtap/tap{index}/dev");
    let text = std::fs::read_to_string(Path::new(&path))
        .map_err(|e| Error::io(format!("macvtap {name}: read {path}"), e))?;
    parse_dev(&text)
        .ok_or_else(|| Error::Decode(format!("macvtap {name}: {path} holds {:?}", text.trim())))
}

/// `"246:1\n"` to (246, 1).
fn parse_dev(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::parse_dev;

    #[test]
    fn device_numbers_parse() {
        assert_eq!(parse_dev("246:1\n"), Some((246, 1)));
        assert_eq!(parse_dev("246"), None);
        assert_eq!(parse_dev("a:1"), None);
    }
}
