//! `ctr task metrics` of a kata-rs container shows what it shows for runc: the same container
//! (it writes and reads back 20 MB, then idles as PID 1) runs through `io.containerd.runc.v2` and
//! `io.containerd.kata.v2` in one private containerd, and both the table and the JSON of
//! `ctr task metrics` are compared. The metrics type is the host's cgroup version's
//! (`io.containerd.cgroups.v1.Metrics` or `.v2.Metrics`) for both runtimes.
//!
//! `ctr` prints JSON with Go's `omitempty`: a counter that is 0 is left out. So the key sets are
//! compared, and every difference must be one of the explained ones below: a field cgroup v2 (the
//! guest's) does not have, or a counter of the memory manager whose value depends on the kernel
//! (the host's for runc, the guest's for kata-rs) and may be 0 on one side.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kata_e2e_tests::{assert_no_leftovers, HostSnapshot, PrivateContainerd, IMAGE};
use serde_json::Value;

const TEARDOWN: Duration = Duration::from_secs(30);
/// Writes 20 MB into `/dev/shm` (tmpfs: charged to the container's memory in both runtimes) and
/// 20 MB into the root file system and reads them back (page cache on the host for runc; kata-rs
/// shares the root file system through virtio-fs, whose pages the guest does not keep), then
/// idles as PID 1 (so `pids.current` reads 1 once the work is done).
const WORKLOAD: &str = "head -c 20000000 /dev/zero > /dev/shm/x && \
     head -c 20000000 /dev/zero > /tmp/x && cat /tmp/x > /dev/null && exec sleep 600";
/// What `/dev/shm/x` alone charges.
const SHM_BYTES: u64 = 20_000_000;

/// Fields runc reports that kata-rs cannot: the guest has cgroup v2 only, and containerd's v1
/// metrics have fields v2 does not keep.
const NOT_IN_CGROUP_V2: &[(&str, &str)] = &[
    ("cpu.usage.per_cpu", "cgroup v2 keeps no per-CPU usage"),
    ("memory.pg_pg_in", "cgroup v2 has no pgpgin counter"),
    ("memory.pg_pg_out", "cgroup v2 has no pgpgout counter"),
    ("memory.total_pg_pg_in", "cgroup v2 has no pgpgin counter"),
    ("memory.total_pg_pg_out", "cgroup v2 has no pgpgout counter"),
    ("memory.kernel.max", "cgroup v2 keeps no kernel-memory peak"),
];

/// Sections only kata-rs has, and why.
const KATA_ONLY_SECTIONS: &[(&str, &str)] = &[
    (
        "network",
        "the guest's interfaces; containerd's runc shim reports no network counters",
    ),
    (
        "hugetlb",
        "the guest kernel has the hugetlb controller; the host's container cgroup may not",
    ),
];

/// Counters of the memory manager, of CPU throttling and of memory events that are 0 or not
/// depending on the kernel and its state (dirty pages not yet written back, huge pages, reclaim,
/// swap...): `ctr` omits them when 0, so either side may lack them. Full paths, v1 then v2 names.
const STATE_DEPENDENT: &[&str] = &[
    "memory.dirty",
    "memory.writeback",
    "memory.rss_huge",
    "memory.mapped_file",
    "memory.unevictable",
    "memory.pg_maj_fault",
    "memory.inactive_anon",
    "memory.active_anon",
    "memory.active_file",
    "memory.total_dirty",
    "memory.total_writeback",
    "memory.total_rss_huge",
    "memory.total_mapped_file",
    "memory.total_unevictable",
    "memory.total_pg_maj_fault",
    "memory.total_inactive_anon",
    "memory.total_active_anon",
    "memory.total_active_file",
    "memory.usage.failcnt",
    "memory.swap.failcnt",
    "memory.kernel_tcp.usage",
    "cpu.throttling.periods",
    "cpu.throttling.throttled_periods",
    "cpu.throttling.throttled_time",
    "memory.shmem",
    "memory.sock",
    "memory.file_mapped",
    "memory.file_dirty",
    "memory.file_writeback",
    "memory.anon_thp",
    "memory.pgmajfault",
    "memory.workingset_refault",
    "memory.workingset_activate",
    "memory.workingset_nodereclaim",
    "memory.pgrefill",
    "memory.pgscan",
    "memory.pgsteal",
    "memory.pgactivate",
    "memory.pgdeactivate",
    "memory.pglazyfree",
    "memory.pglazyfreed",
    "memory.thp_fault_alloc",
    "memory.thp_collapse_alloc",
    "memory.swap_usage",
    "memory.swap_max_usage",
    "cpu.nr_periods",
    "cpu.nr_throttled",
    "cpu.throttled_usec",
    "memory_events.low",
    "memory_events.high",
    "memory_events.max",
    "memory_events.oom",
    "memory_events.oom_kill",
    "memory_events.oom_group_kill",
];

/// `ctr task metrics ID` (table) and `ctr task metrics --format json ID`, parsed.
struct Metrics {
    table: String,
    json: Value,
}

fn metrics(c: &PrivateContainerd, id: &str) -> Metrics {
    let table = c
        .ctr(&["task", "metrics", id], None, 30)
        .expect("ctr task metrics");
    assert_eq!(table.code, Some(0), "metrics {id}: {}", table.stderr);
    let json = c
        .ctr(&["task", "metrics", "--format", "json", id], None, 30)
        .expect("ctr task metrics --format json");
    assert_eq!(
        json.code,
        Some(0),
        "metrics --format json {id}: {}",
        json.stderr
    );
    let parsed = serde_json::from_slice(&json.stdout)
        .unwrap_or_else(|e| panic!("metrics of {id} are not JSON ({e}): {}", json.stdout_text()));
    Metrics {
        table: table.stdout_text(),
        json: parsed,
    }
}

/// The METRIC column of the table.
fn metric_names(table: &str) -> Vec<String> {
    table
        .lines()
        .skip_while(|l| !l.starts_with("METRIC"))
        .skip(1)
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Every leaf's path under `v` (`usage.total`); an array of objects contributes its elements'
/// keys under `name[]`, an array of numbers is a leaf.
fn paths(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                paths(&format!("{prefix}.{k}"), child, out);
            }
        }
        Value::Array(items) if items.iter().any(Value::is_object) => {
            for item in items {
                paths(&format!("{prefix}[]"), item, out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

fn section_paths(json: &Value, section: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(v) = json.get(section) {
        paths(section, v, &mut out);
    }
    out
}

fn number(json: &Value, path: &[&str]) -> u64 {
    path.iter()
        .try_fold(json, |v, k| v.get(k))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// Memory usage and pids of either metrics type.
fn usage_and_pids(json: &Value) -> (u64, u64) {
    let v1 = number(json, &["memory", "usage", "usage"]);
    let v2 = number(json, &["memory", "usage"]);
    (v1.max(v2), number(json, &["pids", "current"]))
}

fn cpu_usage(json: &Value) -> u64 {
    number(json, &["cpu", "usage", "total"]).max(number(json, &["cpu", "usage_usec"]))
}

/// Polls the metrics of `id` until its workload is done (PID 1 alone, memory in use).
fn settled(c: &PrivateContainerd, id: &str) -> Metrics {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let m = metrics(c, id);
        let (mem, pids) = usage_and_pids(&m.json);
        if (mem >= SHM_BYTES && pids == 1) || Instant::now() > deadline {
            return m;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn run(c: &PrivateContainerd, runtime: &str, id: &str) {
    let out = c
        .ctr(
            &[
                "run",
                "-d",
                "--runtime",
                runtime,
                IMAGE,
                id,
                "sh",
                "-c",
                WORKLOAD,
            ],
            None,
            180,
        )
        .expect("ctr run -d");
    assert_eq!(out.code, Some(0), "run {id} ({runtime}): {}", out.stderr);
}

/// The differences between runc's and kata-rs's key sets that none of the explanations covers.
fn unexplained(runc: &Value, kata: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let sections = |j: &Value| -> BTreeSet<String> {
        j.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (rs, ks) = (sections(runc), sections(kata));
    for s in rs.difference(&ks) {
        problems.push(format!("section {s}: runc has it, kata-rs does not"));
    }
    for s in ks.difference(&rs) {
        if !KATA_ONLY_SECTIONS.iter().any(|(name, _)| name == s) {
            problems.push(format!("section {s}: kata-rs has it, runc does not"));
        }
    }
    let explained = |path: &str| {
        NOT_IN_CGROUP_V2.iter().any(|(p, _)| *p == path) || STATE_DEPENDENT.contains(&path)
    };
    for section in ["cpu", "memory", "pids", "memory_events"] {
        let (r, k) = (section_paths(runc, section), section_paths(kata, section));
        for p in r.difference(&k).filter(|p| !explained(p)) {
            problems.push(format!("{p}: runc reports it, kata-rs does not"));
        }
        for p in k.difference(&r).filter(|p| !explained(p)) {
            problems.push(format!("{p}: kata-rs reports it, runc does not"));
        }
    }
    problems
}

#[test]
fn ctr_task_metrics_shows_what_it_shows_for_runc() {
    assert_no_leftovers(TEARDOWN);
    let baseline = HostSnapshot::take();
    let c = PrivateContainerd::start().unwrap_or_else(|e| panic!("{e:#}"));
    let reaper = c.orphan_reaper();
    run(&c, "io.containerd.runc.v2", "stats-runc");
    run(&c, "io.containerd.kata.v2", "stats-kata");
    let runc = settled(&c, "stats-runc");
    let kata = settled(&c, "stats-kata");
    eprintln!(
        "runc table:\n{}\nkata-rs table:\n{}",
        runc.table, kata.table
    );
    eprintln!(
        "runc json:\n{:#}\nkata-rs json:\n{:#}",
        runc.json, kata.json
    );
    c.remove("stats-runc");
    c.remove("stats-kata");

    assert_eq!(
        metric_names(&runc.table),
        metric_names(&kata.table),
        "the tables name different metrics"
    );
    assert!(
        !metric_names(&kata.table).is_empty(),
        "empty table: {}",
        kata.table
    );
    let problems = unexplained(&runc.json, &kata.json);
    assert!(
        problems.is_empty(),
        "kata-rs's metrics differ from runc's:\n  {}",
        problems.join("\n  ")
    );
    let (mem, pids) = usage_and_pids(&kata.json);
    assert!(
        mem >= SHM_BYTES,
        "kata-rs memory usage {mem} is below the {SHM_BYTES} bytes in /dev/shm"
    );
    assert!(pids >= 1, "kata-rs pids.current is {pids}");
    assert!(
        cpu_usage(&kata.json) > 0,
        "kata-rs cpu usage is 0: {:#}",
        kata.json
    );
    let inactive_file = number(&kata.json, &["memory", "inactive_file"]);
    assert!(
        inactive_file > 0,
        "kata-rs reports no memory.inactive_file: {:#}",
        kata.json["memory"]
    );
    let interfaces = kata.json["network"].as_array().map(Vec::len).unwrap_or(0);
    // containerd 1.6's ctr decodes v2 metrics without the `network` field; v1 has it.
    if kata.json.get("blkio").is_some() {
        assert!(interfaces >= 1, "kata-rs reports no network interface");
    }

    drop(c);
    baseline.assert_restored(TEARDOWN);
    drop(reaper);
}
