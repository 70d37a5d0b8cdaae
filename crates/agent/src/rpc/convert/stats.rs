//! Domain cgroup statistics to `grpc.StatsContainerResponse`, laid out as Kata's agent lays out
//! cgroup v2 numbers in its v1-shaped messages: CPU times in nanoseconds; `MemoryStats.cache` =
//! `file`; `usage` = `memory.current`/`.peak`/`.max` with `failcnt` = the `max` count of
//! `memory.events`; `swap_usage` = `memory.swap.*` (swap alone, not memory+swap); `stats` = every
//! key of `memory.stat`; `blkio.io_service_bytes_recursive` = every `io.stat` counter with ops
//! `read`, `write`, `rios`, `wios`, `dbytes`, `dios`; `hugetlb_stats` by page size with
//! `max_usage` = the limit (`hugetlb.<size>.max`); "max" limits as `u64::MAX`.
//!
//! `memory.events` has no field of its own in Kata's protocol: its counters travel in
//! `MemoryStats.stats` under `memory.events.<key>` (memory.stat keys never contain a dot, so the
//! names cannot collide; Kata's runtime ignores keys it does not know).

use kata_protocols::agent as pb;

use crate::container::{CgroupStats, NetworkStats};

/// The prefix of the `memory.events` counters in `MemoryStats.stats`.
pub const MEMORY_EVENTS_PREFIX: &str = "memory.events.";

pub fn stats_to_grpc(s: &CgroupStats) -> pb::StatsContainerResponse {
    let mut cg = pb::CgroupStats::new();
    cg.cpu_stats = Some(cpu(s)).into();
    cg.memory_stats = Some(memory(s)).into();
    let mut pids = pb::PidsStats::new();
    pids.current = s.pids.current;
    pids.limit = s.pids.max;
    cg.pids_stats = Some(pids).into();
    let mut blkio = pb::BlkioStats::new();
    blkio.io_service_bytes_recursive =
        s.io.iter()
            .map(|e| {
                let mut x = pb::BlkioStatsEntry::new();
                x.major = e.major;
                x.minor = e.minor;
                x.op = e.op.to_string();
                x.value = e.value;
                x
            })
            .collect();
    cg.blkio_stats = Some(blkio).into();
    cg.hugetlb_stats = s
        .hugetlb
        .iter()
        .map(|(size, h)| {
            let mut x = pb::HugetlbStats::new();
            x.usage = h.current;
            x.max_usage = h.max;
            x.failcnt = h.failcnt;
            (size.clone(), x)
        })
        .collect();
    let mut resp = pb::StatsContainerResponse::new();
    resp.cgroup_stats = Some(cg).into();
    resp.network_stats = s.network.iter().map(network).collect();
    resp
}

fn cpu(s: &CgroupStats) -> pb::CpuStats {
    let mut usage = pb::CpuUsage::new();
    usage.total_usage = s.cpu.usage_ns;
    usage.usage_in_usermode = s.cpu.user_ns;
    usage.usage_in_kernelmode = s.cpu.system_ns;
    let mut throttling = pb::ThrottlingData::new();
    throttling.periods = s.cpu.nr_periods;
    throttling.throttled_periods = s.cpu.nr_throttled;
    throttling.throttled_time = s.cpu.throttled_ns;
    let mut cpu = pb::CpuStats::new();
    cpu.cpu_usage = Some(usage).into();
    cpu.throttling_data = Some(throttling).into();
    cpu
}

fn memory(s: &CgroupStats) -> pb::MemoryStats {
    let m = &s.memory;
    let mut usage = pb::MemoryData::new();
    usage.usage = m.current;
    usage.max_usage = m.peak;
    usage.limit = m.max;
    usage.failcnt = m.events.get("max").copied().unwrap_or(0);
    let mut swap = pb::MemoryData::new();
    swap.usage = m.swap_current;
    swap.max_usage = m.swap_peak;
    swap.limit = m.swap_max;
    swap.failcnt = m.swap_events.get("fail").copied().unwrap_or(0);
    let mut mem = pb::MemoryStats::new();
    mem.cache = m.stat.get("file").copied().unwrap_or(0);
    mem.usage = Some(usage).into();
    mem.swap_usage = Some(swap).into();
    mem.use_hierarchy = true;
    mem.stats = m
        .stat
        .iter()
        .map(|(k, v)| (k.clone(), *v))
        .chain(
            m.events
                .iter()
                .map(|(k, v)| (format!("{MEMORY_EVENTS_PREFIX}{k}"), *v)),
        )
        .collect();
    mem
}

fn network(n: &NetworkStats) -> pb::NetworkStats {
    let mut x = pb::NetworkStats::new();
    x.name = n.name.clone();
    x.rx_bytes = n.rx_bytes;
    x.rx_packets = n.rx_packets;
    x.rx_errors = n.rx_errors;
    x.rx_dropped = n.rx_dropped;
    x.tx_bytes = n.tx_bytes;
    x.tx_packets = n.tx_packets;
    x.tx_errors = n.tx_errors;
    x.tx_dropped = n.tx_dropped;
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::IoEntry;

    #[test]
    fn numbers_land_in_the_right_fields() {
        let mut s = CgroupStats::default();
        s.cpu.usage_ns = 7;
        s.cpu.throttled_ns = 9;
        s.memory.current = 4096;
        s.memory.max = u64::MAX;
        s.memory.stat.insert("file".into(), 2048);
        s.memory.stat.insert("inactive_file".into(), 1024);
        s.memory.events.insert("max".into(), 2);
        s.memory.events.insert("oom_kill".into(), 1);
        s.pids.current = 3;
        s.io.push(IoEntry {
            major: 254,
            minor: 0,
            op: "rios",
            value: 5,
        });
        s.hugetlb.insert(
            "2MB".into(),
            crate::container::HugetlbStats {
                current: 0,
                max: u64::MAX,
                failcnt: 1,
            },
        );
        s.network.push(NetworkStats {
            name: "eth0".into(),
            rx_bytes: 100,
            ..Default::default()
        });
        let r = stats_to_grpc(&s);
        let cg = r.cgroup_stats.as_ref().expect("cgroup stats");
        assert_eq!(cg.cpu_stats.cpu_usage.total_usage, 7);
        assert_eq!(cg.cpu_stats.throttling_data.throttled_time, 9);
        let mem = &cg.memory_stats;
        assert_eq!((mem.usage.usage, mem.usage.limit), (4096, u64::MAX));
        assert_eq!((mem.cache, mem.usage.failcnt), (2048, 2));
        assert_eq!(mem.stats.get("inactive_file"), Some(&1024));
        assert_eq!(mem.stats.get("memory.events.oom_kill"), Some(&1));
        assert_eq!(cg.pids_stats.current, 3);
        let io = &cg.blkio_stats.io_service_bytes_recursive;
        assert_eq!((io[0].op.as_str(), io[0].value), ("rios", 5));
        assert_eq!(cg.hugetlb_stats["2MB"].max_usage, u64::MAX);
        assert_eq!(cg.hugetlb_stats["2MB"].failcnt, 1);
        assert_eq!(
            (
                r.network_stats[0].name.as_str(),
                r.network_stats[0].rx_bytes
            ),
            ("eth0", 100)
        );
    }
}
