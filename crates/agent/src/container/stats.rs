//! StatsContainer: cgroup v2 numbers, in the units of Kata's CgroupStats (nanoseconds, bytes).

use std::collections::HashMap;
use std::path::Path;

use crate::error::Result;
use crate::sandbox::Sandbox;

/// One `io.stat` counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoEntry {
    pub major: u64,
    pub minor: u64,
    pub op: &'static str,
    pub value: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub cpu_total_ns: u64,
    pub cpu_user_ns: u64,
    pub cpu_kernel_ns: u64,
    pub throttle_periods: u64,
    pub throttled_periods: u64,
    pub throttled_ns: u64,
    pub mem_usage: u64,
    pub mem_max_usage: u64,
    pub mem_limit: u64,
    pub mem_failcnt: u64,
    pub mem_cache: u64,
    pub swap_usage: u64,
    pub swap_limit: u64,
    pub mem_stat: HashMap<String, u64>,
    pub pids_current: u64,
    pub pids_limit: u64,
    pub io_bytes: Vec<IoEntry>,
    pub io_ops: Vec<IoEntry>,
}

pub fn stats(sb: &Sandbox, id: &str) -> Result<CgroupStats> {
    let c = sb.container(id)?;
    Ok(read_cgroup(&c.cgroup))
}

/// Reads whatever of the files exists (controllers may be disabled).
pub fn read_cgroup(dir: &Path) -> CgroupStats {
    let text = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    let single = |f: &str| parse_single(&text(f));
    let cpu = flat_keyed(&text("cpu.stat"));
    let mem_stat = flat_keyed(&text("memory.stat"));
    let events = flat_keyed(&text("memory.events"));
    let (io_bytes, io_ops) = parse_io_stat(&text("io.stat"));
    CgroupStats {
        cpu_total_ns: cpu.get("usage_usec").copied().unwrap_or(0) * 1000,
        cpu_user_ns: cpu.get("user_usec").copied().unwrap_or(0) * 1000,
        cpu_kernel_ns: cpu.get("system_usec").copied().unwrap_or(0) * 1000,
        throttle_periods: cpu.get("nr_periods").copied().unwrap_or(0),
        throttled_periods: cpu.get("nr_throttled").copied().unwrap_or(0),
        throttled_ns: cpu.get("throttled_usec").copied().unwrap_or(0) * 1000,
        mem_usage: single("memory.current"),
        mem_max_usage: single("memory.peak"),
        mem_limit: single("memory.max"),
        mem_failcnt: events.get("max").copied().unwrap_or(0),
        mem_cache: mem_stat.get("file").copied().unwrap_or(0),
        swap_usage: single("memory.swap.current"),
        swap_limit: single("memory.swap.max"),
        pids_current: single("pids.current"),
        pids_limit: single("pids.max"),
        mem_stat,
        io_bytes,
        io_ops,
    }
}

/// A one-number file; `max` (unlimited) is reported as u64::MAX, a missing file as 0.
fn parse_single(text: &str) -> u64 {
    match text.trim() {
        "max" => u64::MAX,
        v => v.parse().unwrap_or(0),
    }
}

/// `key value` lines.
fn flat_keyed(text: &str) -> HashMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=..` lines into byte and operation counters.
fn parse_io_stat(text: &str) -> (Vec<IoEntry>, Vec<IoEntry>) {
    let mut bytes = Vec::new();
    let mut ops = Vec::new();
    for line in text.lines() {
        let mut fields = line.split_whitespace();
        let Some((major, minor)) = fields.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (major.parse(), minor.parse()) else {
            continue;
        };
        for kv in fields {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let Ok(value) = v.parse() else { continue };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ops, "Read"),
                "wios" => (&mut ops, "Write"),
                _ => continue,
            };
            list.push(IoEntry {
                major,
                minor,
                op,
                value,
            });
        }
    }
    (bytes, ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_files_map_to_stats() {
        let d = tempfile::tempdir().expect("tempdir");
        let w = |f: &str, t: &str| std::fs::write(d.path().join(f), t).expect("write");
        w("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 20\n");
        w("memory.current", "4096\n");
        w("memory.max", "max\n");
        w("memory.stat", "anon 1024\nfile 2048\n");
        w("memory.events", "low 0\nhigh 0\nmax 2\noom 0\noom_kill 0\n");
        w("pids.current", "3\n");
        w("pids.max", "100\n");
        w(
            "io.stat",
            "254:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
        );
        let s = read_cgroup(d.path());
        assert_eq!(
            (s.cpu_total_ns, s.cpu_user_ns, s.cpu_kernel_ns),
            (1_500_000, 1_000_000, 500_000)
        );
        assert_eq!(
            (s.throttle_periods, s.throttled_periods, s.throttled_ns),
            (4, 1, 20_000)
        );
        assert_eq!(
            (s.mem_usage, s.mem_limit, s.mem_cache, s.mem_failcnt),
            (4096, u64::MAX, 2048, 2)
        );
        assert_eq!((s.pids_current, s.pids_limit), (3, 100));
        assert_eq!(s.mem_stat.get("anon"), Some(&1024));
        assert_eq!(
            s.io_bytes,
            vec![
                IoEntry {
                    major: 254,
                    minor: 0,
                    op: "Read",
                    value: 4096
                },
                IoEntry {
                    major: 254,
                    minor: 0,
                    op: "Write",
                    value: 8192
                },
            ]
        );
        assert_eq!(s.io_ops.len(), 2);
    }

    #[test]
    fn missing_files_give_zeros() {
        let d = tempfile::tempdir().expect("tempdir");
        assert_eq!(read_cgroup(d.path()), CgroupStats::default());
    }
}
