//! The guest's cgroup v2 numbers as `io.containerd.cgroups.v1.Metrics`, which containerd's runc
//! shim returns on a cgroup v1 host. Each v1 field takes its v2 counterpart:
//! - `memory.stat`: `cache` = `file`, `rss` = `anon`, `rss_huge` = `anon_thp`, `mapped_file` =
//!   `file_mapped`, `dirty` = `file_dirty`, `writeback` = `file_writeback`, `pg_fault` =
//!   `pgfault`, `pg_maj_fault` = `pgmajfault`, the LRU lists and `unevictable` by name; v2 is
//!   hierarchical, so each `total_*` equals its plain field. v2 has no `pgpgin`/`pgpgout`: they
//!   stay 0 (and `ctr` omits them).
//! - `usage` = `memory.current`/`.max`/`.peak`, `failcnt` = the `max` count of `memory.events`.
//! - `swap` is v1's memory+swap counter: `memory.current` + `memory.swap.current`, limit the sum
//!   of both limits (unlimited if either is), max the sum of both peaks.
//! - `kernel` = `memory.stat`'s `kernel` (kernel 5.18+), else the sum of its parts; v2 keeps no
//!   kernel-memory limit (unlimited) or peak (0). `kernel_tcp` = `sock`, unlimited.
//! - `memory_oom_control.oom_kill` = `memory.events`' `oom_kill`.
//! - `blkio`: `io.stat` bytes in `io_service_bytes_recursive`, operations in
//!   `io_serviced_recursive`, ops `Read`, `Write`, `Discard` as runc names them.
//! - CPU: total/user/kernel and throttling in nanoseconds; v2 has no per-CPU usage (`per_cpu`
//!   empty).
//! - `hugetlb`: usage and failures; v2 keeps no per-size peak (`max` 0).
//! - `network`: the guest's interfaces (the runc shim leaves it empty).

use containerd_shim::protos::cgroups::metrics::{
    BlkIOEntry, BlkIOStat, CPUStat, CPUUsage, HugetlbStat, MemoryEntry, MemoryOomControl,
    MemoryStat, Metrics, NetworkStat, PidsStat, Throttle,
};
use kata_sandbox::ContainerStats;

/// The parts of kernel memory a `memory.stat` without the `kernel` key (before 5.18) lists.
const KERNEL_PARTS: [&str; 5] = ["kernel_stack", "pagetables", "percpu", "slab", "vmalloc"];

/// `s` has its limits in the host's terms already (see `unlimited_as_host`); `unlimited` is the
/// v1 kernel's "no limit".
pub fn metrics(s: &ContainerStats, unlimited: u64) -> Metrics {
    Metrics {
        hugetlb: s
            .hugetlb
            .iter()
            .map(|h| HugetlbStat {
                usage: h.usage,
                failcnt: h.failcnt,
                pagesize: h.page_size.clone(),
                ..Default::default()
            })
            .collect(),
        pids: Some(PidsStat {
            current: s.pids.current,
            limit: s.pids.limit,
            ..Default::default()
        })
        .into(),
        cpu: Some(CPUStat {
            usage: Some(CPUUsage {
                total: s.cpu.usage_ns,
                kernel: s.cpu.system_ns,
                user: s.cpu.user_ns,
                ..Default::default()
            })
            .into(),
            throttling: Some(Throttle {
                periods: s.cpu.nr_periods,
                throttled_periods: s.cpu.nr_throttled,
                throttled_time: s.cpu.throttled_ns,
                ..Default::default()
            })
            .into(),
            ..Default::default()
        })
        .into(),
        memory: Some(memory(s, unlimited)).into(),
        blkio: Some(blkio(s)).into(),
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
        memory_oom_control: Some(MemoryOomControl {
            oom_kill: s.memory.events.oom_kill,
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

fn memory(s: &ContainerStats, unlimited: u64) -> MemoryStat {
    let m = &s.memory;
    let k = |key: &str| m.stat(key);
    let memsw_limit = if m.limit == unlimited || m.swap_limit == unlimited {
        unlimited
    } else {
        m.limit.saturating_add(m.swap_limit)
    };
    let kernel = match m.stat.get("kernel") {
        Some(&v) => v,
        None => KERNEL_PARTS.iter().map(|p| k(p)).sum(),
    };
    let (cache, rss, rss_huge, mapped_file) =
        (k("file"), k("anon"), k("anon_thp"), k("file_mapped"));
    let (dirty, writeback, pg_fault, pg_maj_fault) = (
        k("file_dirty"),
        k("file_writeback"),
        k("pgfault"),
        k("pgmajfault"),
    );
    let (inactive_anon, active_anon, inactive_file, active_file, unevictable) = (
        k("inactive_anon"),
        k("active_anon"),
        k("inactive_file"),
        k("active_file"),
        k("unevictable"),
    );
    MemoryStat {
        cache,
        rss,
        rss_huge,
        mapped_file,
        dirty,
        writeback,
        pg_fault,
        pg_maj_fault,
        inactive_anon,
        active_anon,
        inactive_file,
        active_file,
        unevictable,
        hierarchical_memory_limit: m.limit,
        hierarchical_swap_limit: memsw_limit,
        total_cache: cache,
        total_rss: rss,
        total_rss_huge: rss_huge,
        total_mapped_file: mapped_file,
        total_dirty: dirty,
        total_writeback: writeback,
        total_pg_fault: pg_fault,
        total_pg_maj_fault: pg_maj_fault,
        total_inactive_anon: inactive_anon,
        total_active_anon: active_anon,
        total_inactive_file: inactive_file,
        total_active_file: active_file,
        total_unevictable: unevictable,
        usage: Some(MemoryEntry {
            limit: m.limit,
            usage: m.usage,
            max: m.max_usage,
            failcnt: m.events.max,
            ..Default::default()
        })
        .into(),
        swap: Some(MemoryEntry {
            limit: memsw_limit,
            usage: m.usage.saturating_add(m.swap_usage),
            max: m.max_usage.saturating_add(m.swap_max_usage),
            ..Default::default()
        })
        .into(),
        kernel: Some(MemoryEntry {
            limit: unlimited,
            usage: kernel,
            ..Default::default()
        })
        .into(),
        kernel_tcp: Some(MemoryEntry {
            limit: unlimited,
            usage: k("sock"),
            ..Default::default()
        })
        .into(),
        ..Default::default()
    }
}

fn blkio(s: &ContainerStats) -> BlkIOStat {
    let entry = |major, minor, op: &str, value| BlkIOEntry {
        op: op.into(),
        major,
        minor,
        value,
        ..Default::default()
    };
    let mut out = BlkIOStat::default();
    for d in &s.io {
        out.io_service_bytes_recursive.extend([
            entry(d.major, d.minor, "Read", d.rbytes),
            entry(d.major, d.minor, "Write", d.wbytes),
            entry(d.major, d.minor, "Discard", d.dbytes),
        ]);
        out.io_serviced_recursive.extend([
            entry(d.major, d.minor, "Read", d.rios),
            entry(d.major, d.minor, "Write", d.wios),
            entry(d.major, d.minor, "Discard", d.dios),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kata_sandbox::IoStats;

    const UNLIMITED: u64 = 0x7FFF_FFFF_FFFF_F000;

    #[test]
    fn v2_names_land_in_their_v1_fields() {
        let mut s = ContainerStats::default();
        for (key, value) in [
            ("anon", 1),
            ("file", 2),
            ("inactive_file", 3),
            ("file_dirty", 4),
            ("pgfault", 5),
            ("kernel_stack", 10),
            ("slab", 20),
            ("sock", 7),
        ] {
            s.memory.stat.insert(key.into(), value);
        }
        s.memory.usage = 4096;
        s.memory.swap_usage = 1024;
        s.memory.limit = 1 << 20;
        s.memory.swap_limit = UNLIMITED;
        s.memory.events.max = 3;
        s.memory.events.oom_kill = 1;
        s.cpu.usage_ns = 9;
        s.cpu.throttled_ns = 8;
        s.io.push(IoStats {
            major: 254,
            rbytes: 512,
            wios: 2,
            ..Default::default()
        });
        let m = metrics(&s, UNLIMITED);
        let mem = &m.memory;
        assert_eq!((mem.rss, mem.cache, mem.inactive_file), (1, 2, 3));
        assert_eq!(
            (mem.total_rss, mem.total_cache, mem.total_inactive_file),
            (1, 2, 3)
        );
        assert_eq!((mem.dirty, mem.pg_fault), (4, 5));
        assert_eq!(
            (mem.usage.usage, mem.usage.limit, mem.usage.failcnt),
            (4096, 1 << 20, 3)
        );
        assert_eq!((mem.swap.usage, mem.swap.limit), (5120, UNLIMITED));
        assert_eq!(mem.hierarchical_memory_limit, 1 << 20);
        assert_eq!((mem.kernel.usage, mem.kernel_tcp.usage), (30, 7));
        assert_eq!(m.memory_oom_control.oom_kill, 1);
        assert_eq!((m.cpu.usage.total, m.cpu.throttling.throttled_time), (9, 8));
        let b = &m.blkio;
        assert_eq!(
            (
                b.io_service_bytes_recursive[0].op.as_str(),
                b.io_service_bytes_recursive[0].value
            ),
            ("Read", 512)
        );
        assert_eq!(
            (
                b.io_serviced_recursive[1].op.as_str(),
                b.io_serviced_recursive[1].value
            ),
            ("Write", 2)
        );
    }

    #[test]
    fn kernel_key_wins_over_its_parts() {
        let mut s = ContainerStats::default();
        s.memory.stat.insert("kernel".into(), 100);
        s.memory.stat.insert("slab".into(), 20);
        assert_eq!(metrics(&s, UNLIMITED).memory.kernel.usage, 100);
    }
}
