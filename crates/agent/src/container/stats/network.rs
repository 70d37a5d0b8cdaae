//! The guest's network counters, from `/sys/class/net/<interface>/statistics/`. The containers
//! of a pod share the VM's network namespace, so these are the pod's counters. Every interface is
//! reported, `lo` included, as Kata 1.x's agent did (Kata 2.x's agent leaves the list empty).

use std::path::Path;

/// Where the kernel lists the network interfaces.
pub const SYS_CLASS_NET: &str = "/sys/class/net";

/// One interface's counters since it appeared (bytes and packets).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkStats {
    pub name: String,
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

/// Every interface under `class_net`, by name; a counter file that cannot be read counts 0.
pub fn read_network(class_net: &Path) -> Vec<NetworkStats> {
    let Ok(entries) = std::fs::read_dir(class_net) else {
        return Vec::new();
    };
    let mut out: Vec<NetworkStats> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let dir = class_net.join(&name).join("statistics");
            let counter = |f: &str| {
                std::fs::read_to_string(dir.join(f))
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0)
            };
            Some(NetworkStats {
                rx_bytes: counter("rx_bytes"),
                rx_packets: counter("rx_packets"),
                rx_errors: counter("rx_errors"),
                rx_dropped: counter("rx_dropped"),
                tx_bytes: counter("tx_bytes"),
                tx_packets: counter("tx_packets"),
                tx_errors: counter("tx_errors"),
                tx_dropped: counter("tx_dropped"),
                name,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_every_interface() {
        let d = tempfile::tempdir().expect("tempdir");
        for (iface, rx) in [("eth0", "1500\n"), ("lo", "42\n")] {
            let s = d.path().join(iface).join("statistics");
            std::fs::create_dir_all(&s).expect("mkdir");
            std::fs::write(s.join("rx_bytes"), rx).expect("write");
            std::fs::write(s.join("tx_packets"), "7\n").expect("write");
        }
        let n = read_network(d.path());
        assert_eq!(
            n.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["eth0", "lo"]
        );
        assert_eq!(
            (n[0].rx_bytes, n[0].tx_packets, n[0].tx_bytes),
            (1500, 7, 0)
        );
        assert_eq!(n[1].rx_bytes, 42);
    }

    #[test]
    fn no_sysfs_gives_no_interfaces() {
        assert!(read_network(Path::new("/nonexistent/class/net")).is_empty());
    }
}
