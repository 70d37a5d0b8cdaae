//! The pod's network, connected to the VM as Kata's `tcfilter` model does: for every interface
//! CNI put in the pod's network namespace (a veth with its addresses and routes), a tap device is
//! made beside it and tc redirects each one's ingress to the other's egress, so frames cross
//! between the pod network and the VM's virtio-net device untouched. The guest is then given the
//! same MAC, addresses, MTU and routes (agent `UpdateInterface`, `UpdateRoutes`).
//!
//! Source: Kata's `virtcontainers/network_linux.go` and `tc_filter` endpoint handling; the
//! `internetworking_model` key of `configuration.toml`.

use std::path::{Path, PathBuf};

use kata_netlink::{link, route, tap, tc, Interface, IpNet, Netlink, Route};

/// Suffix of the tap devices made for a pod (`tap0_kata`), as Kata names them.
pub const TAP_SUFFIX: &str = "_kata";

/// One interface of the pod, connected to the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The interface CNI made (`eth0`): the guest's interface gets its name, MAC, MTU, addresses.
    pub interface: Interface,
    /// The tap device in the same namespace, QEMU's end (`tap0_kata`).
    pub tap: String,
}

/// The pod's network as the VM sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodNetwork {
    pub endpoints: Vec<Endpoint>,
    /// Routes of the main table through the endpoints' interfaces.
    pub routes: Vec<Route>,
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
}

/// Connects every interface of the namespace at `netns` to a new tap (tc mirred both ways);
/// `owner` (uid, gid) owns the taps when QEMU runs unprivileged. On error nothing is left: the
/// taps and filters made so far are removed.
pub fn attach_tcfilter(
    netns: &Path,
    owner: Option<(u32, u32)>,
) -> Result<PodNetwork, NetworkError> {
    let path = netns.to_owned();
    let wrap = move |what: &str, source| NetworkError::Netlink {
        netns: path.clone(),
        what: what.to_string(),
        source,
    };
    let in_ns = netns.to_owned();
    kata_netlink::netns::run_in(&in_ns, move || {
        let mut nl = Netlink::open()?;
        let mut made = Vec::new();
        let result = connect_all(&mut nl, owner, &mut made);
        if result.is_err() {
            undo(&mut nl, &made);
        }
        result
    })
    .map_err(|e| wrap("connecting the pod's interfaces to the vm", e))
}

/// What [`attach_tcfilter`] made, for [`detach`]: taps and the interfaces given an ingress qdisc.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    pub taps: Vec<String>,
    pub interfaces: Vec<String>,
}

impl PodNetwork {
    /// The taps and filtered interfaces, for the cleanup step.
    pub fn made(&self) -> Made {
        Made {
            taps: self.endpoints.iter().map(|e| e.tap.clone()).collect(),
            interfaces: self
                .endpoints
                .iter()
                .map(|e| e.interface.name.clone())
                .collect(),
        }
    }
}

fn connect_all(
    nl: &mut Netlink,
    owner: Option<(u32, u32)>,
    made: &mut Vec<(String, String)>,
) -> kata_netlink::Result<PodNetwork> {
    let links = link::links(nl)?;
    let mut network = PodNetwork::default();
    for (n, l) in links.iter().filter(|l| is_candidate(l)).enumerate() {
        network.endpoints.push(connect_one(nl, l, n, owner, made)?);
    }
    network.routes = routes_through(&network.endpoints)?;
    Ok(network)
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
fn routes_through(endpoints: &[Endpoint]) -> kata_netlink::Result<Vec<Route>> {
    let names: Vec<&str> = endpoints
        .iter()
        .map(|e| e.interface.name.as_str())
        .collect();
    Ok(route::list_routes()?
        .into_iter()
        .filter(|r| names.contains(&r.device.as_str()))
        .filter(|r| r.gateway.is_some() || r.dest.is_none() || r.source.is_none())
        .collect())
}

/// Connects the interfaces of `netns` that have an address and are not in `connected` yet (CNI
/// adds them after the VM started: `ctr run --cni` configures the namespace of the task's pid),
/// numbering their taps from `first`. Returns the new endpoints and every route through all of
/// the pod's interfaces. The namespace is the sandbox's own, so its taps go with it.
pub fn attach_new(
    netns: &Path,
    connected: &[String],
    first: usize,
) -> Result<(Vec<Endpoint>, Vec<Route>), NetworkError> {
    let connected = connected.to_vec();
    let path = netns.to_owned();
    kata_netlink::netns::run_in(netns, move || {
        let mut nl = Netlink::open()?;
        let links = link::links(&mut nl)?;
        let mut new = Vec::new();
        let mut made = Vec::new();
        let fresh = links
            .iter()
            .filter(|l| is_candidate(l) && !connected.contains(&l.name));
        for l in fresh {
            if addresses_of(&mut nl, l.index)?.is_empty() {
                continue; // CNI has not finished with it
            }
            match connect_one(&mut nl, l, first + new.len(), None, &mut made) {
                Ok(e) => new.push(e),
                Err(e) => {
                    undo(&mut nl, &made);
                    return Err(e);
                }
            }
        }
        let all: Vec<Endpoint> = links
            .iter()
            .filter(|l| connected.contains(&l.name))
            .map(|l| Endpoint {
                interface: Interface {
                    name: l.name.clone(),
                    ..Default::default()
                },
                tap: String::new(),
            })
            .chain(new.iter().cloned())
            .collect();
        let routes = routes_through(&all)?;
        Ok((new, routes))
    })
    .map_err(|source| NetworkError::Netlink {
        netns: path,
        what: "connecting interfaces added after boot".into(),
        source,
    })
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

/// Removes taps (first of each pair) and ingress qdiscs (second), ignoring what is gone.
fn undo(nl: &mut Netlink, made: &[(String, String)]) {
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
}

/// Removes what [`attach_tcfilter`] made in `netns`: the taps, and the ingress qdiscs (with their
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
    let result = kata_netlink::netns::run_in(netns, move || {
        let mut nl = Netlink::open()?;
        undo(&mut nl, &pairs);
        Ok(())
    });
    match result {
        Ok(()) => Ok(()),
        // The namespace file went away between the check and the open.
        Err(e) if e.errno() == Some(libc::ENOENT) => Ok(()),
        Err(source) => Err(NetworkError::Netlink {
            netns: path,
            what: "removing the pod's taps and filters".into(),
            source,
        }),
    }
}
