//! The guest's cgroup v2 numbers as `io.containerd.cgroups.v2.Metrics`, field for field as
//! containerd's runc shim fills it from the container's cgroup v2 files on a v2 host: `cpu.stat`
//! (microseconds), every `memory.stat` key it has a field for, `memory.current`/`.max`/`.peak`,
//! `memory.swap.*`, `memory.events`, `pids.*`, `io.stat` per device and `hugetlb.<size>.*`; plus
//! the guest's network counters (`network`, which the runc shim leaves empty).

use containerd_shim::protos::cgroups_v2::metrics::{
    CPUStat, HugeTlbStat, IOEntry, IOStat, MemoryEvents, MemoryStat, Metrics, NetworkStat, PidsStat,
};
use kata_sandbox::ContainerStats;

/// `s` has its limits in the host's terms already (see `unlimited_as_host`).
pub fn metrics(s: &ContainerStats) -> Metrics {
    let e = &s.memory.events;
    Metrics {
        pids: Some(PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        })
        .into(),
        cpu: Some(CPUStat {
            usage_usec: s.cpu.usage_ns / 1000,
            user_usec: s.cpu.user_ns / 1000,
            system_usec: s.cpu.system_ns / 1000,
            nr_periods: s.cpu.nr_periods,
            nr_throttled: s.cpu.nr_throttled,
            throttled_usec: s.cpu.throttled_ns / 1000,
            ..Default::default()
        })
        .into(),
        memory: Some(memory(s)).into(),
        memory_events: Some(MemoryEvents {
            low: e.low,
            high: e.high,
            max: e.max,
            oom: e.oom,
            oom_kill: e.oom_kill,
            oom_group_kill: e.oom_group_kill,
            ..Default::default()
        })
        .into(),
        io: Some(IOStat {
            usage: s
                .io
                .iter()
                .map(|d| IOEntry {
                    major: d.major,
                    minor: d.minor,
                    rbytes: d.rbytes,
                    wbytes: d.wbytes,
                    rios: d.rios,
                    wios: d.wios,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .into(),
        hugetlb: s
            .hugetlb
            .iter()
            .map(|h| HugeTlbStat {
                current: h.usage,
                max: h.limit,
                pagesize: h.page_size.clone(),
                failcnt: h.failcnt,
                ..Default::default()
            })
            .collect(),
        network: s
            .network
            .iter()
            .map(|n| NetworkStat {
                name: n.name.clone(),
                rx_bytes: n.rx_bytes,
                rx_packets: n.rx_packets,
                rx_errors: n.rx_errors,
                rx_dropped: n.rx_dropped,
                tx_bytes: n.tx_bytes,
                tx_packets: n.tx_packets,
                tx_errors: n.tx_errors,
                tx_dropped: n.tx_dropped,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

/// `memory.stat` keys by the field of the same name (bytes; the `pg*`, `workingset_*` and `thp_*`
/// ones are event counts).
fn memory(s: &ContainerStats) -> MemoryStat {
    let m = &s.memory;
    let k = |key: &str| m.stat(key);
    MemoryStat {
        anon: k("anon"),
        file: k("file"),
        kernel_stack: k("kernel_stack"),
        slab: k("slab"),
        sock: k("sock"),
        shmem: k("shmem"),
        file_mapped: k("file_mapped"),
        file_dirty: k("file_dirty"),
        file_writeback: k("file_writeback"),
        anon_thp: k("anon_thp"),
        inactive_anon: k("inactive_anon"),
        active_anon: k("active_anon"),
        inactive_file: k("inactive_file"),
        active_file: k("active_file"),
        unevictable: k("unevictable"),
        slab_reclaimable: k("slab_reclaimable"),
        slab_unreclaimable: k("slab_unreclaimable"),
        pgfault: k("pgfault"),
        pgmajfault: k("pgmajfault"),
        // Kernels before 5.9 name it `workingset_refault`; later ones split anon and file.
        workingset_refault: k("workingset_refault")
            + k("workingset_refault_anon")
            + k("workingset_refault_file"),
        workingset_activate: k("workingset_activate")
            + k("workingset_activate_anon")
            + k("workingset_activate_file"),
        workingset_nodereclaim: k("workingset_nodereclaim"),
        pgrefill: k("pgrefill"),
        pgscan: k("pgscan"),
        pgsteal: k("pgsteal"),
        pgactivate: k("pgactivate"),
        pgdeactivate: k("pgdeactivate"),
        pglazyfree: k("pglazyfree"),
        pglazyfreed: k("pglazyfreed"),
        thp_fault_alloc: k("thp_fault_alloc"),
        thp_collapse_alloc: k("thp_collapse_alloc"),
        usage: m.usage,
        usage_limit: m.limit,
        swap_usage: m.swap_usage,
        swap_limit: m.swap_limit,
        max_usage: m.max_usage,
        swap_max_usage: m.swap_max_usage,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kata_sandbox::{HugetlbStats, IoStats, NetworkStats};

    #[test]
    fn every_section_is_filled() {
        let mut s = ContainerStats::default();
        s.cpu.usage_ns = 3_000_000;
        s.cpu.nr_throttled = 2;
        s.cpu.throttled_ns = 5_000;
        for (key, value) in [
            ("anon", 1),
            ("file", 2),
            ("inactive_file", 3),
            ("slab", 4),
            ("pgfault", 5),
            ("workingset_refault_anon", 6),
            ("workingset_refault_file", 7),
        ] {
            s.memory.stat.insert(key.into(), value);
        }
        s.memory.usage = 4096;
        s.memory.max_usage = 8192;
        s.memory.events.oom_kill = 1;
        s.pids.current = 2;
        s.io.push(IoStats {
            major: 254,
            rbytes: 512,
            wios: 1,
            ..Default::default()
        });
        s.hugetlb.push(HugetlbStats {
            page_size: "2MB".into(),
            limit: u64::MAX,
            ..Default::default()
        });
        s.network.push(NetworkStats {
            name: "eth0".into(),
            rx_packets: 9,
            ..Default::default()
        });
        let m = metrics(&s);
        assert_eq!(
            (m.cpu.usage_usec, m.cpu.nr_throttled, m.cpu.throttled_usec),
            (3000, 2, 5)
        );
        let mem = &m.memory;
        assert_eq!(
            (mem.anon, mem.file, mem.inactive_file, mem.slab, mem.pgfault),
            (1, 2, 3, 4, 5)
        );
        assert_eq!(mem.workingset_refault, 13);
        assert_eq!((mem.usage, mem.max_usage), (4096, 8192));
        assert_eq!(m.memory_events.oom_kill, 1);
        assert_eq!(m.pids.current, 2);
        assert_eq!(
            (
                m.io.usage[0].major,
                m.io.usage[0].rbytes,
                m.io.usage[0].wios
            ),
            (254, 512, 1)
        );
        assert_eq!(
            (m.hugetlb[0].pagesize.as_str(), m.hugetlb[0].max),
            ("2MB", u64::MAX)
        );
        assert_eq!(
            (m.network[0].name.as_str(), m.network[0].rx_packets),
            ("eth0", 9)
        );
    }
}
