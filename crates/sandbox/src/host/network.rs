//! The pod's network, connected to the VM as Kata's `tcfilter` model does: for every interface
//! CNI put in the pod's network namespace (a veth with its addresses and routes), a tap device is
//! made beside it and tc redirects each one's ingress to the other's egress, so frames cross
//! between the pod network and the VM's virtio-net device untouched. The guest is then given the
//! same MAC, addresses, MTU and routes (agent `UpdateInterface`, `UpdateRoutes`).
//!
//! With Kata's `macvtap` model a macvtap on each interface is the VM's NIC instead
//! ([`super::macvtap`]). Static neighbours on the interfaces go to the guest too
//! (`AddARPNeighbors`).
//!
//! Source: Kata's `virtcontainers/network_linux.go` and `tc_filter` endpoint handling; the
//! `internetworking_model` key of `configuration.toml`.

use std::path::{Path, PathBuf};

use kata_config::InterNetworkingModel;
use kata_netlink::{link, neigh, route, tap, tc, Interface, IpNet, Neighbor, Netlink, Route};
use serde::{Deserialize, Serialize};

use super::macvtap::{self, Restore};

/// Suffix of the tap devices made for a pod (`tap0_kata`), as Kata names them.
pub const TAP_SUFFIX: &str = "_kata";

/// One interface of the pod, connected to the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The interface CNI made (`eth0`): the guest's interface gets its name, MAC, MTU, addresses.
    pub interface: Interface,
    /// The tap device in the same namespace, QEMU's end (`tap0_kata`): a tap, or a macvtap.
    pub tap: String,
    /// The macvtap's character device node QEMU is handed open (`macvtap` model only).
    pub device: Option<PathBuf>,
}

/// The pod's network as the VM sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodNetwork {
    pub endpoints: Vec<Endpoint>,
    /// Routes of the main table through the endpoints' interfaces.
    pub routes: Vec<Route>,
    /// Static (permanent) neighbour entries on the endpoints' interfaces.
    pub neighbors: Vec<Neighbor>,
    /// What the `macvtap` model took from the interfaces, given back at teardown.
    pub restore: Vec<Restore>,
}

/// Why the pod's network could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network namespace {netns}: {what}")]
    Netlink {
        netns: PathBuf,
        what: String,
        #[source]
        source: kata_netlink::Error,
    },
    #[error("cannot enter network namespace {netns}")]
    Enter {
        netns: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl NetworkError {
    /// `source` of doing `what` in `netns`; failing to enter the namespace is said once.
    fn of(netns: &Path, what: &str, source: kata_netlink::Error) -> Self {
        match source {
            kata_netlink::Error::Netns { source, .. } => NetworkError::Enter {
                netns: netns.to_owned(),
                source,
            },
            source => NetworkError::Netlink {
                netns: netns.to_owned(),
                what: what.to_string(),
                source,
            },
        }
    }
}

/// How the pod's interfaces reach the VM, and where device nodes go.
#[derive(Debug, Clone)]
pub struct Attach {
    /// `tcfilter` or `macvtap` (`none` connects nothing and never gets here).
    pub model: InterNetworkingModel,
    /// Owner (uid, gid) of the taps when QEMU runs unprivileged (`tcfilter`).
    pub owner: Option<(u32, u32)>,
    /// Directory for the macvtaps' character device nodes (the VM's directory).
    pub dev_dir: PathBuf,
}

/// Connects every interface of the namespace at `netns` to the VM as `how.model` says: a new tap
/// with tc mirred both ways, or a macvtap. On error nothing is left: what was made so far is
/// removed and the interfaces get back what was taken.
pub fn attach(netns: &Path, how: &Attach) -> Result<PodNetwork, NetworkError> {
    let how = how.clone();
    kata_netlink::netns::run_in(netns, move || {
        let mut nl = Netlink::open()?;
        let mut made = Vec::new();
        let mut restore = Vec::new();
        let result = connect_all(&mut nl, &how, &mut made, &mut restore);
        if result.is_err() {
            undo(&mut nl, &made, &restore);
        }
        result
    })
    .map_err(|e| NetworkError::of(netns, "connecting the pod's interfaces to the vm", e))
}

/// What [`attach`] made, for [`detach`]: taps (or macvtaps), the interfaces given an ingress
/// qdisc, and what the macvtap model took from interfaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    pub taps: Vec<String>,
    pub interfaces: Vec<String>,
    #[serde(default)]
    pub restore: Vec<Restore>,
}

impl PodNetwork {
    /// The taps and filtered interfaces, for the cleanup step.
    pub fn made(&self) -> Made {
        Made {
            taps: self.endpoints.iter().map(|e| e.tap.clone()).collect(),
            interfaces: self
                .endpoints
                .iter()
                .filter(|e| e.device.is_none())
                .map(|e| e.interface.name.clone())
                .collect(),
            restore: self.restore.clone(),
        }
    }
}

fn connect_all(
    nl: &mut Netlink,
    how: &Attach,
    made: &mut Vec<(String, String)>,
    restore: &mut Vec<Restore>,
) -> kata_netlink::Result<PodNetwork> {
    let links = link::links(nl)?;
    let mut network = PodNetwork::default();
    let candidates: Vec<&link::Link> = links.iter().filter(|l| is_candidate(l)).collect();
    // Read before the macvtap model moves the interfaces' addresses (and their routes) away.
    let devices: Vec<(u32, String)> = candidates
        .iter()
        .map(|l| (l.index, l.name.clone()))
        .collect();
    network.neighbors = neigh::static_neighbors(nl, &devices)?;
    let names: Vec<&str> = candidates.iter().map(|l| l.name.as_str()).collect();
    network.routes = routes_through(&names)?;
    let taken = (network.routes.as_slice(), network.neighbors.as_slice());
    let mut endpoints = Vec::new();
    for (n, l) in candidates.into_iter().enumerate() {
        endpoints.push(connect(nl, how, l, taken, n, made, restore)?);
    }
    network.endpoints = endpoints;
    network.restore = restore.clone();
    Ok(network)
}

fn connect(
    nl: &mut Netlink,
    how: &Attach,
    l: &link::Link,
    taken: (&[Route], &[Neighbor]),
    n: usize,
    made: &mut Vec<(String, String)>,
    restore: &mut Vec<Restore>,
) -> kata_netlink::Result<Endpoint> {
    match how.model {
        InterNetworkingModel::MacVtap => {
            let addresses = addresses_of(nl, l.index)?;
            macvtap::connect(nl, l, addresses, taken, n, &how.dev_dir, made, restore)
        }
        _ => connect_one(nl, l, n, how.owner, made),
    }
}

/// An interface the pod's network gave it (not `lo`, not one of our taps).
fn is_candidate(l: &link::Link) -> bool {
    l.name != "lo" && !l.name.ends_with(TAP_SUFFIX) && l.kind != "tun" && !l.mac.is_empty()
}

/// Connects interface `l` to a new tap `tap<n>_kata`: ingress qdiscs on both, redirect both ways.
fn connect_one(
    nl: &mut Netlink,
    l: &link::Link,
    n: usize,
    owner: Option<(u32, u32)>,
    made: &mut Vec<(String, String)>,
) -> kata_netlink::Result<Endpoint> {
    let tap = format!("tap{n}{TAP_SUFFIX}");
    tap::create_persistent(&tap, owner)?;
    made.push((tap.clone(), String::new()));
    let tap_index = link::index_of(nl, &tap)?;
    link::set_up(nl, tap_index, l.mtu)?;
    tc::add_ingress_qdisc(nl, l.index)?;
    made.push((String::new(), l.name.clone()));
    tc::add_ingress_qdisc(nl, tap_index)?;
    tc::add_redirect(nl, l.index, tap_index)?;
    tc::add_redirect(nl, tap_index, l.index)?;
    Ok(Endpoint {
        interface: Interface {
            name: l.name.clone(),
            hw_addr: l.mac.clone(),
            mtu: u64::from(l.mtu),
            addresses: addresses_of(nl, l.index)?,
        },
        tap,
        device: None,
    })
}

fn addresses_of(nl: &mut Netlink, index: u32) -> kata_netlink::Result<Vec<IpNet>> {
    Ok(link::addresses(nl, index)?
        .iter()
        .filter_map(link::ip_of)
        .filter(|n| !is_link_local_v6(n))
        .collect())
}

/// Routes of the main table through the endpoints' interfaces, less the prefix routes the kernel
/// makes for the addresses itself (in the guest as here).
fn routes_through(names: &[&str]) -> kata_netlink::Result<Vec<Route>> {
    Ok(route::list_routes()?
        .into_iter()
        .filter(|r| names.contains(&r.device.as_str()))
        .filter(|r| r.gateway.is_some() || r.dest.is_none() || r.source.is_none())
        .collect())
}

/// Connects the interfaces of `netns` that have an address and are not in `connected` yet (CNI
/// adds them after the VM started: `ctr run --cni` configures the namespace of the task's pid),
/// as `how` says, numbering their taps from `first`. Returns the new endpoints, the routes through
/// any of the pod's interfaces and the static neighbours of the new ones, both read before the
/// new interfaces were connected (the macvtap model moves their addresses, and so their routes,
/// away). The namespace is the sandbox's own, so what is made here goes with it.
pub fn attach_new(
    netns: &Path,
    how: &Attach,
    connected: &[String],
    first: usize,
) -> Result<Hotplugged, NetworkError> {
    let connected = connected.to_vec();
    let how = how.clone();
    let path = netns.to_owned();
    kata_netlink::netns::run_in(netns, move || {
        let mut nl = Netlink::open()?;
        let links = link::links(&mut nl)?;
        let mut fresh = Vec::new();
        for l in links
            .iter()
            .filter(|l| is_candidate(l) && !connected.contains(&l.name))
        {
            // No address yet: CNI has not finished with it.
            if !addresses_of(&mut nl, l.index)?.is_empty() {
                fresh.push(l);
            }
        }
        let mut found = Hotplugged::default();
        if fresh.is_empty() {
            return Ok(found);
        }
        let devices: Vec<(u32, String)> = fresh.iter().map(|l| (l.index, l.name.clone())).collect();
        found.neighbors = neigh::static_neighbors(&mut nl, &devices)?;
        let names: Vec<&str> = links
            .iter()
            .filter(|l| connected.contains(&l.name))
            .chain(fresh.iter().copied())
            .map(|l| l.name.as_str())
            .collect();
        found.routes = routes_through(&names)?;
        let (mut made, mut restore) = (Vec::new(), Vec::new());
        for l in fresh {
            let n = first + found.endpoints.len();
            let taken = (found.routes.as_slice(), found.neighbors.as_slice());
            match connect(&mut nl, &how, l, taken, n, &mut made, &mut restore) {
                Ok(e) => found.endpoints.push(e),
                Err(e) => {
                    undo(&mut nl, &made, &restore);
                    return Err(e);
                }
            }
        }
        Ok(found)
    })
    .map_err(|e| NetworkError::of(&path, "connecting interfaces added after boot", e))
}

/// What [`attach_new`] connected.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hotplugged {
    pub endpoints: Vec<Endpoint>,
    /// Routes through any of the pod's interfaces.
    pub routes: Vec<Route>,
    /// Static neighbours on the new interfaces.
    pub neighbors: Vec<Neighbor>,
}

/// Makes a network namespace of the sandbox's own, bound at `path` (an empty file made here), with
/// `lo` up: QEMU runs in it when the spec asks for a new network namespace, so that what CNI does
/// to the task's namespace (`ctr run --cni`: `/proc/<pid>/ns/net`, QEMU's pid) never touches the
/// host's. The bind lives in the shim's mount namespace.
pub fn create_netns(path: &Path) -> std::io::Result<()> {
    // A file left by an earlier sandbox of the same id whose shim is still tearing down: its bind
    // lives in that shim's mount namespace, here it is a plain file.
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "stale netns file replaced"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    let target = path.to_owned();
    let made = std::thread::Builder::new()
        .name("netns-new".into())
        .spawn(move || -> std::io::Result<()> {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)?;
            let tid = nix::unistd::gettid();
            nix::mount::mount(
                Some(format!("/proc/self/task/{tid}/ns/net").as_str()),
                &target,
                None::<&str>,
                nix::mount::MsFlags::MS_BIND,
                None::<&str>,
            )?;
            let mut nl = Netlink::open().map_err(std::io::Error::other)?;
            let lo = link::index_of(&mut nl, "lo").map_err(std::io::Error::other)?;
            link::set_up(&mut nl, lo, 0).map_err(std::io::Error::other)?;
            Ok(())
        })?
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the netns thread panicked")));
    if made.is_err() {
        let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(path);
    }
    made
}

fn is_link_local_v6(n: &IpNet) -> bool {
    matches!(n.addr, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

/// Removes taps (first of each pair) and ingress qdiscs (second), ignoring what is gone, then
/// gives interfaces back what the macvtap model took.
fn undo(nl: &mut Netlink, made: &[(String, String)], restore: &[Restore]) {
    for (tap, interface) in made.iter().rev() {
        if !tap.is_empty() {
            if let Ok(index) = link::index_of(nl, tap) {
                let _ = link::delete(nl, index);
            }
        }
        if !interface.is_empty() {
            if let Ok(index) = link::index_of(nl, interface) {
                let _ = tc::del_ingress_qdisc(nl, index);
            }
        }
    }
    macvtap::restore_all(nl, restore);
}

/// Removes what [`attach`] made in `netns`: the taps, and the ingress qdiscs (with their
/// filters) of the pod's interfaces. A namespace or device already gone is not an error (CNI may
/// have deleted the namespace first).
pub fn detach(netns: &Path, made: &Made) -> Result<(), NetworkError> {
    if !netns.exists() {
        return Ok(());
    }
    let pairs: Vec<(String, String)> = made
        .taps
        .iter()
        .map(|t| (t.clone(), String::new()))
        .chain(made.interfaces.iter().map(|i| (String::new(), i.clone())))
        .collect();
    let path = netns.to_owned();
    let restore = made.restore.clone();
    let result = kata_netlink::netns::run_in(netns, move || {
        let mut nl = Netlink::open()?;
        undo(&mut nl, &pairs, &restore);
        Ok(())
    });
    match result {
        Ok(()) => Ok(()),
        // The namespace file went away between the check and the open.
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(NetworkError::of(
            &path,
            "removing the pod's taps and filters",
            e,
        )),
    }
}
