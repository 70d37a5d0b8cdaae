//! The host's network namespaces and network devices before a run, to find what the run left.

use std::collections::BTreeSet;
use std::process::Command;

use crate::config::BRIDGE;

/// Directories where named network namespaces live (containerd's CRI uses `/var/run/netns`).
const NETNS_DIRS: [&str; 2] = ["/var/run/netns", "/run/netns"];

/// Network namespaces and devices of the host at one moment.
#[derive(Debug, Clone)]
pub struct NetCensus {
    netns: BTreeSet<String>,
    netdevs: BTreeSet<String>,
}

impl NetCensus {
    pub fn take() -> Self {
        Self {
            netns: netns_now(),
            netdevs: netdevs_now(),
        }
    }

    /// What appeared since the census: network namespaces, and network devices other than the
    /// CNI bridge itself (veths, taps...); also every port still attached to the bridge.
    pub fn new_items(&self) -> Vec<String> {
        let mut found: Vec<String> = netns_now()
            .difference(&self.netns)
            .map(|n| format!("netns {n}"))
            .collect();
        found.extend(
            netdevs_now()
                .difference(&self.netdevs)
                .filter(|d| d.as_str() != BRIDGE)
                .map(|d| format!("network device {d}")),
        );
        found.extend(
            bridge_ports()
                .into_iter()
                .map(|p| format!("port {p} on {BRIDGE}")),
        );
        found.sort();
        found.dedup();
        found
    }

    /// Deletes whatever [`Self::new_items`] finds (network namespaces and devices).
    pub fn remove_new_items(&self) {
        for ns in netns_now().difference(&self.netns) {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
        for dev in netdevs_now().difference(&self.netdevs) {
            if dev != BRIDGE {
                let _ = Command::new("ip").args(["link", "delete", dev]).status();
            }
        }
    }
}

/// Names of the network namespaces bound under the usual directories.
pub fn netns_now() -> BTreeSet<String> {
    NETNS_DIRS.iter().flat_map(|d| names_in(d)).collect()
}

/// Names of the host's network devices.
pub fn netdevs_now() -> BTreeSet<String> {
    names_in("/sys/class/net")
}

/// The interfaces attached to the CNI bridge (the host ends of the pods' veths).
pub fn bridge_ports() -> BTreeSet<String> {
    names_in(&format!("/sys/class/net/{BRIDGE}/brif"))
}

fn names_in(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}
