//! StatsContainer: the container's cgroup v2 files and the guest's network counters, read in the
//! guest. Units are those of Kata's `CgroupStats` message: nanoseconds for CPU time, bytes for
//! memory and I/O. Every file is optional: a controller that is not enabled, or a file an older
//! kernel lacks, leaves its numbers at zero (or its list empty) rather than failing the call.

mod files;
mod network;

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::Result;
use crate::sandbox::Sandbox;

pub use network::{read_network, NetworkStats, SYS_CLASS_NET};

/// "No limit" (`max` in a cgroup v2 limit file).
pub const UNLIMITED: u64 = u64::MAX;

/// One `io.stat` counter of one block device, with Kata's op names for cgroup v2: `read` and
/// `write` (bytes, from `rbytes`/`wbytes`), `rios` and `wios` (operations), `dbytes` and `dios`
/// (discards).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoEntry {
    pub major: u64,
    pub minor: u64,
    pub op: &'static str,
    pub value: u64,
}

/// `cpu.stat`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CpuStats {
    /// `usage_usec`, in nanoseconds.
    pub usage_ns: u64,
    /// `user_usec`, in nanoseconds.
    pub user_ns: u64,
    /// `system_usec`, in nanoseconds.
    pub system_ns: u64,
    /// `nr_periods`: enforcement periods elapsed (only with a CPU quota).
    pub nr_periods: u64,
    /// `nr_throttled`: periods in which the group was throttled.
    pub nr_throttled: u64,
    /// `throttled_usec`, in nanoseconds.
    pub throttled_ns: u64,
}

/// The memory controller's files, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// `memory.current`.
    pub current: u64,
    /// `memory.peak` (kernel 5.19 and later; 0 before).
    pub peak: u64,
    /// `memory.max` ([`UNLIMITED`] for `max`).
    pub max: u64,
    /// `memory.swap.current`.
    pub swap_current: u64,
    /// `memory.swap.peak` (kernel 6.5 and later; 0 before).
    pub swap_peak: u64,
    /// `memory.swap.max` ([`UNLIMITED`] for `max`).
    pub swap_max: u64,
    /// Every key of `memory.stat` (`anon`, `file`, `inactive_file`, `pgfault`...), as the kernel
    /// names them.
    pub stat: BTreeMap<String, u64>,
    /// `memory.events` (`low`, `high`, `max`, `oom`, `oom_kill`, `oom_group_kill`): counts.
    pub events: BTreeMap<String, u64>,
    /// `memory.swap.events` (`high`, `max`, `fail`): counts.
    pub swap_events: BTreeMap<String, u64>,
}

/// `pids.current` and `pids.max`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PidsStats {
    pub current: u64,
    /// [`UNLIMITED`] for `max`.
    pub max: u64,
}

/// `hugetlb.<size>.current`, `.max` and the `max` count of `.events`, in bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HugetlbStats {
    pub current: u64,
    /// [`UNLIMITED`] for `max`.
    pub max: u64,
    /// Allocations refused because of the limit (`hugetlb.<size>.events`, key `max`).
    pub failcnt: u64,
}

/// What StatsContainer reports about one container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub cpu: CpuStats,
    pub memory: MemoryStats,
    pub pids: PidsStats,
    /// `io.stat`, device by device, in the file's order.
    pub io: Vec<IoEntry>,
    /// By page size as the kernel names it in the file names (`2MB`, `1GB`).
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    /// The guest's network interfaces: the containers of a pod share the VM's network namespace.
    pub network: Vec<NetworkStats>,
}

pub fn stats(sb: &Sandbox, id: &str) -> Result<CgroupStats> {
    let c = sb.container(id)?;
    let mut s = read_cgroup(&c.cgroup);
    s.network = read_network(Path::new(SYS_CLASS_NET));
    Ok(s)
}

/// Reads whatever of the cgroup v2 files of `dir` exists (controllers may be disabled).
pub fn read_cgroup(dir: &Path) -> CgroupStats {
    let text = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let single = |f: &str| files::single(&text(f));
    let cpu = files::flat_keyed(&text("cpu.stat"));
    let usec_as_ns = |k: &str| cpu.get(k).copied().unwrap_or(0).saturating_mul(1000);
    let count = |k: &str| cpu.get(k).copied().unwrap_or(0);
    CgroupStats {
        cpu: CpuStats {
            usage_ns: usec_as_ns("usage_usec"),
            user_ns: usec_as_ns("user_usec"),
            system_ns: usec_as_ns("system_usec"),
            nr_periods: count("nr_periods"),
            nr_throttled: count("nr_throttled"),
            throttled_ns: usec_as_ns("throttled_usec"),
        },
        memory: MemoryStats {
            current: single("memory.current"),
            peak: single("memory.peak"),
            max: single("memory.max"),
            swap_current: single("memory.swap.current"),
            swap_peak: single("memory.swap.peak"),
            swap_max: single("memory.swap.max"),
            stat: files::flat_keyed(&text("memory.stat")),
            events: files::flat_keyed(&text("memory.events")),
            swap_events: files::flat_keyed(&text("memory.swap.events")),
        },
        pids: PidsStats {
            current: single("pids.current"),
            max: single("pids.max"),
        },
        io: files::io_stat(&text("io.stat")),
        hugetlb: files::hugetlb(dir),
        network: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).expect("write fixture");
    }

    #[test]
    fn cgroup_files_map_to_stats() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path();
        write(p, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n");
        write(p, "memory.current", "4096\n");
        write(p, "memory.peak", "8192\n");
        write(p, "memory.max", "max\n");
        write(p, "memory.swap.current", "0\n");
        write(p, "memory.swap.max", "1048576\n");
        write(
            p,
            "memory.stat",
            "anon 1024\nfile 2048\ninactive_file 1536\nactive_file 512\npgfault 77\n",
        );
        write(
            p,
            "memory.events",
            "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
        );
        write(p, "pids.current", "3\n");
        write(p, "pids.max", "100\n");
        write(
            p,
            "io.stat",
            "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        write(p, "hugetlb.2MB.current", "2097152\n");
        write(p, "hugetlb.2MB.max", "max\n");
        write(p, "hugetlb.2MB.events", "max 3\n");
        let s = read_cgroup(p);
        assert_eq!(
            s.cpu,
            CpuStats {
                usage_ns: 1_500_000,
                user_ns: 1_000_000,
                system_ns: 500_000,
                nr_periods: 4,
                nr_throttled: 1,
                throttled_ns: 20_000,
            }
        );
        let m = &s.memory;
        assert_eq!((m.current, m.peak, m.max), (4096, 8192, UNLIMITED));
        assert_eq!((m.swap_current, m.swap_max), (0, 1_048_576));
        assert_eq!(m.stat.get("inactive_file"), Some(&1536));
        assert_eq!(m.stat.len(), 5);
        assert_eq!(m.events.get("oom_kill"), Some(&1));
        assert_eq!((s.pids.current, s.pids.max), (3, 100));
        let ops: Vec<_> = s.io.iter().map(|e| (e.op, e.value)).collect();
        assert_eq!(
            ops,
            [
                ("read", 4096),
                ("write", 8192),
                ("rios", 1),
                ("wios", 2),
                ("dbytes", 0),
                ("dios", 0)
            ]
        );
        assert!(s.io.iter().all(|e| (e.major, e.minor) == (254, 0)));
        assert_eq!(
            s.hugetlb.get("2MB"),
            Some(&HugetlbStats {
                current: 2_097_152,
                max: UNLIMITED,
                failcnt: 3
            })
        );
    }

    #[test]
    fn missing_files_give_zeros() {
        let d = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_cgroup(d.path()), CgroupStats::default());
    }
}
