//! `grpc.StatsContainerResponse` to [`ContainerStats`]. Kata's agent lays cgroup v2 numbers out
//! in its v1-shaped messages; this reads them back:
//! - CPU times are nanoseconds (`cpu.stat`'s microseconds × 1000).
//! - `MemoryStats.usage` = `memory.current`/`.peak`/`.max`, `swap_usage` = `memory.swap.*`
//!   (swap alone), `stats` = every `memory.stat` key; kata-rs's agent adds the `memory.events`
//!   counters there as `memory.events.<key>` (no field of Kata's protocol carries them); without
//!   them, `failcnt` gives the `max` count.
//! - `BlkioStats.io_service_bytes_recursive` carries every `io.stat` counter with ops `read`,
//!   `write`, `rios`, `wios`, `dbytes`, `dios` (Kata's agent on cgroup v2); a cgroup v1 guest's
//!   `Read`/`Write` bytes there and operations in `io_serviced_recursive` are read too.
//! - `hugetlb_stats` by page size, with `max_usage` holding the limit (`hugetlb.<size>.max`),
//!   as Kata's runtime reads it for cgroup v2.

use kata_agent_client::kata_protocols::agent as pb;

use crate::types::{
    ContainerStats, CpuStats, HugetlbStats, IoStats, MemoryEvents, MemoryStats, NetworkStats,
    PidsStats,
};

/// Where kata-rs's agent puts the `memory.events` counters in `MemoryStats.stats`.
const MEMORY_EVENTS_PREFIX: &str = "memory.events.";

pub fn from_pb(resp: &pb::StatsContainerResponse) -> ContainerStats {
    let mut out = ContainerStats {
        network: resp.network_stats.iter().map(network).collect(),
        ..Default::default()
    };
    let Some(cg) = resp.cgroup_stats.as_ref() else {
        return out;
    };
    if let Some(c) = cg.cpu_stats.as_ref() {
        out.cpu = cpu(c);
    }
    if let Some(m) = cg.memory_stats.as_ref() {
        out.memory = memory(m);
    }
    if let Some(p) = cg.pids_stats.as_ref() {
        out.pids = PidsStats {
            current: p.current,
            limit: p.limit,
        };
    }
    if let Some(b) = cg.blkio_stats.as_ref() {
        out.io = io(b);
    }
    out.hugetlb = cg
        .hugetlb_stats
        .iter()
        .map(|(size, h)| HugetlbStats {
            page_size: size.clone(),
            usage: h.usage,
            limit: h.max_usage,
            failcnt: h.failcnt,
        })
        .collect();
    out.hugetlb.sort_by(|a, b| a.page_size.cmp(&b.page_size));
    out
}

fn cpu(c: &pb::CpuStats) -> CpuStats {
    let mut out = CpuStats::default();
    if let Some(u) = c.cpu_usage.as_ref() {
        out.usage_ns = u.total_usage;
        out.user_ns = u.usage_in_usermode;
        out.system_ns = u.usage_in_kernelmode;
    }
    if let Some(t) = c.throttling_data.as_ref() {
        out.nr_periods = t.periods;
        out.nr_throttled = t.throttled_periods;
        out.throttled_ns = t.throttled_time;
    }
    out
}

fn memory(m: &pb::MemoryStats) -> MemoryStats {
    let mut out = MemoryStats::default();
    if let Some(u) = m.usage.as_ref() {
        out.usage = u.usage;
        out.max_usage = u.max_usage;
        out.limit = u.limit;
        out.events.max = u.failcnt;
    }
    if let Some(s) = m.swap_usage.as_ref() {
        out.swap_usage = s.usage;
        out.swap_max_usage = s.max_usage;
        out.swap_limit = s.limit;
    }
    for (key, &value) in &m.stats {
        match key.strip_prefix(MEMORY_EVENTS_PREFIX) {
            Some(event) => set_event(&mut out.events, event, value),
            None => {
                out.stat.insert(key.clone(), value);
            }
        }
    }
    out
}

fn set_event(e: &mut MemoryEvents, key: &str, value: u64) {
    let slot = match key {
        "low" => &mut e.low,
        "high" => &mut e.high,
        "max" => &mut e.max,
        "oom" => &mut e.oom,
        "oom_kill" => &mut e.oom_kill,
        "oom_group_kill" => &mut e.oom_group_kill,
        _ => return,
    };
    *slot = value;
}

/// One [`IoStats`] per device, in the order the devices first appear.
fn io(b: &pb::BlkioStats) -> Vec<IoStats> {
    let mut out: Vec<IoStats> = Vec::new();
    let mut add = |e: &pb::BlkioStatsEntry, serviced: bool| {
        let idx = match out
            .iter()
            .position(|d| (d.major, d.minor) == (e.major, e.minor))
        {
            Some(i) => i,
            None => {
                out.push(IoStats {
                    major: e.major,
                    minor: e.minor,
                    ..Default::default()
                });
                out.len() - 1
            }
        };
        let d = &mut out[idx];
        let slot = match (serviced, e.op.to_ascii_lowercase().as_str()) {
            (false, "read") => &mut d.rbytes,
            (false, "write") => &mut d.wbytes,
            (false, "rios") | (true, "read") => &mut d.rios,
            (false, "wios") | (true, "write") => &mut d.wios,
            (false, "dbytes") | (false, "discard") => &mut d.dbytes,
            (false, "dios") | (true, "discard") => &mut d.dios,
            _ => return,
        };
        *slot = e.value;
    };
    for e in &b.io_service_bytes_recursive {
        add(e, false);
    }
    for e in &b.io_serviced_recursive {
        add(e, true);
    }
    out
}

fn network(n: &pb::NetworkStats) -> NetworkStats {
    NetworkStats {
        name: n.name.clone(),
        rx_bytes: n.rx_bytes,
        rx_packets: n.rx_packets,
        rx_errors: n.rx_errors,
        rx_dropped: n.rx_dropped,
        tx_bytes: n.tx_bytes,
        tx_packets: n.tx_packets,
        tx_errors: n.tx_errors,
        tx_dropped: n.tx_dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(major: u64, op: &str, value: u64) -> pb::BlkioStatsEntry {
        let mut e = pb::BlkioStatsEntry::new();
        e.major = major;
        e.op = op.into();
        e.value = value;
        e
    }

    #[test]
    fn every_section_is_read_back() {
        let mut mem = pb::MemoryStats::new();
        let mut usage = pb::MemoryData::new();
        usage.usage = 4096;
        usage.limit = u64::MAX;
        usage.failcnt = 2;
        mem.usage = Some(usage).into();
        mem.stats.insert("inactive_file".into(), 1024);
        mem.stats.insert("memory.events.oom_kill".into(), 1);
        mem.stats.insert("memory.events.max".into(), 2);
        let mut blkio = pb::BlkioStats::new();
        blkio.io_service_bytes_recursive = vec![
            entry(254, "read", 10),
            entry(254, "wios", 3),
            entry(8, "write", 7),
        ];
        let mut huge = pb::HugetlbStats::new();
        huge.max_usage = u64::MAX;
        let mut cg = pb::CgroupStats::new();
        cg.memory_stats = Some(mem).into();
        cg.blkio_stats = Some(blkio).into();
        cg.hugetlb_stats.insert("2MB".into(), huge);
        let mut net = pb::NetworkStats::new();
        net.name = "eth0".into();
        net.tx_bytes = 9;
        let mut resp = pb::StatsContainerResponse::new();
        resp.cgroup_stats = Some(cg).into();
        resp.network_stats.push(net);

        let s = from_pb(&resp);
        assert_eq!((s.memory.usage, s.memory.limit), (4096, u64::MAX));
        assert_eq!(s.memory.stat("inactive_file"), 1024);
        assert!(!s.memory.stat.contains_key("memory.events.oom_kill"));
        assert_eq!((s.memory.events.max, s.memory.events.oom_kill), (2, 1));
        assert_eq!(
            s.io,
            vec![
                IoStats {
                    major: 254,
                    rbytes: 10,
                    wios: 3,
                    ..Default::default()
                },
                IoStats {
                    major: 8,
                    wbytes: 7,
                    ..Default::default()
                },
            ]
        );
        assert_eq!(s.hugetlb[0].page_size, "2MB");
        assert_eq!(s.hugetlb[0].limit, u64::MAX);
        assert_eq!(
            (s.network[0].name.as_str(), s.network[0].tx_bytes),
            ("eth0", 9)
        );
    }

    #[test]
    fn cgroup_v1_guest_blkio_is_read_too() {
        let mut blkio = pb::BlkioStats::new();
        blkio.io_service_bytes_recursive = vec![entry(8, "Read", 5), entry(8, "Total", 5)];
        blkio.io_serviced_recursive = vec![entry(8, "Write", 2)];
        let d = io(&blkio);
        assert_eq!((d.len(), d[0].rbytes, d[0].wios), (1, 5, 2));
    }

    #[test]
    fn an_empty_reply_gives_zeros() {
        assert_eq!(
            from_pb(&pb::StatsContainerResponse::new()),
            ContainerStats::default()
        );
    }
}
