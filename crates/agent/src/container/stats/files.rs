//! Parsers of the cgroup v2 file formats (see the kernel's `Documentation/admin-guide/cgroup-v2.rst`).
//! Malformed lines are skipped: the files come from the guest kernel, but nothing here may panic.

use std::collections::BTreeMap;
use std::path::Path;

use super::{HugetlbStats, IoEntry, UNLIMITED};

/// A one-value file (`memory.current`, `pids.max`): `max` reads as [`UNLIMITED`]; a missing file
/// (empty text) or garbage as 0.
pub fn single(text: &str) -> u64 {
    match text.trim() {
        "max" => UNLIMITED,
        v => v.parse().unwrap_or(0),
    }
}

/// A flat keyed file (`cpu.stat`, `memory.stat`, `memory.events`): `key value` lines.
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// `io.stat`: `MAJ:MIN rbytes=.. wbytes=.. rios=.. wios=.. dbytes=.. dios=..` lines, in Kata's op
/// names (`read`, `write`, `rios`, `wios`, `dbytes`, `dios`); other keys are left out.
pub fn io_stat(text: &str) -> Vec<IoEntry> {
    let mut out = Vec::new();
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
            let op = match k {
                "rbytes" => "read",
                "wbytes" => "write",
                "rios" => "rios",
                "wios" => "wios",
                "dbytes" => "dbytes",
                "dios" => "dios",
                _ => continue,
            };
            out.push(IoEntry {
                major,
                minor,
                op,
                value,
            });
        }
    }
    out
}

/// Every page size with a `hugetlb.<size>.current` file in `dir`, with its limit and failures.
pub fn hugetlb(dir: &Path) -> BTreeMap<String, HugetlbStats> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeMap::new();
    };
    let read = |f: String| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(".current")?;
            // `hugetlb.<size>.rsvd.current` is the reservation counter, not a page size.
            if size.contains('.') {
                return None;
            }
            let events = flat_keyed(&read(format!("hugetlb.{size}.events")));
            Some((
                size.to_string(),
                HugetlbStats {
                    current: single(&read(name.clone())),
                    max: single(&read(format!("hugetlb.{size}.max"))),
                    failcnt: events.get("max").copied().unwrap_or(0),
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_lines_are_skipped() {
        assert_eq!(single("garbage"), 0);
        assert_eq!(single(""), 0);
        assert_eq!(single("max\n"), UNLIMITED);
        let m = flat_keyed("anon 1\nbroken\nfile x\nshmem 3\n");
        assert_eq!(m.len(), 2);
        assert!(
            io_stat("8:0\nx:y rbytes=1\n8:16 rbytes=z wbytes=5 unknown=1\n")
                .iter()
                .map(|e| (e.minor, e.op, e.value))
                .eq([(16, "write", 5)])
        );
    }

    #[test]
    fn reservation_counters_are_not_page_sizes() {
        let d = tempfile::tempdir().expect("tempdir");
        for (f, t) in [
            ("hugetlb.1GB.current", "0\n"),
            ("hugetlb.1GB.max", "1073741824\n"),
            ("hugetlb.1GB.rsvd.current", "0\n"),
        ] {
            std::fs::write(d.path().join(f), t).expect("write fixture");
        }
        let h = hugetlb(d.path());
        assert_eq!(h.keys().collect::<Vec<_>>(), ["1GB"]);
        assert_eq!(h["1GB"].max, 1_073_741_824);
    }
}
