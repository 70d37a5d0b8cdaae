//! Checks that nothing of a finished sandbox stays behind: processes, mounts, directories, netns.
//! [`HostSnapshot`] records the host before a test and compares it after: the exact baseline.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

const DAEMONS: [&str; 4] = [
    "qemu-system-x86_64",
    "virtiofsd",
    "vhost-device-vsock",
    "containerd-shim-kata-v2",
];

/// Waits up to `grace` for teardown, then fails listing whatever a sandbox left behind.
pub fn assert_no_leftovers(grace: Duration) {
    let deadline = Instant::now() + grace;
    loop {
        let found = leftovers();
        if found.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            panic!("left behind after the test:\n  {}", found.join("\n  "));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn leftovers() -> Vec<String> {
    let mut found = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            let comm = comm.trim();
            // comm is cut at 15 characters.
            if DAEMONS.iter().any(|d| comm_matches(comm, d)) {
                found.push(format!(
                    "process {} ({comm})",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for line in mounts.lines() {
        if line.contains("/run/kata-containers/") || line.contains("/run/vc/") {
            found.push(format!("mount {line}"));
        }
    }
    for dir in ["/run/kata-containers/shared/sandboxes", "/run/vc/sbs"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                found.push(format!("directory {}", entry.path().display()));
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir("/var/run/netns") {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("kata") || name.starts_with("cni-") {
                found.push(format!("netns {name}"));
            }
        }
    }
    found
}

/// Whether a process's `comm` (the name cut at 15 characters) is `name`.
pub fn comm_matches(comm: &str, name: &str) -> bool {
    comm == &name[..name.len().min(15)]
}

/// The pids of the processes named `name`.
pub fn pids_named(name: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            if comm_matches(comm.trim(), name) {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse() {
                    pids.push(pid);
                }
            }
        }
    }
    pids
}

/// Processes a sandbox or its containerd runs on the host (`comm` names).
const SNAPSHOT_PROCESSES: [&str; 5] = [
    "qemu-system-x86_64",
    "virtiofsd",
    "vhost-device-vsock",
    "containerd-shim-kata-v2",
    "containerd",
];

/// Where a sandbox keeps state and shares (walked to `depth` levels).
const SNAPSHOT_TREES: [(&str, usize); 2] = [("/run/vc", 4), ("/run/kata-containers", 5)];

/// The host resources a sandbox takes, each kind a set of lines so that two snapshots diff:
/// processes (pid and name), mounts under `/run` and of private containerds (`/tmp/kata-e2e-*`),
/// files and directories under `/run/vc` and `/run/kata-containers` (share root included),
/// network namespaces, network devices (taps), cgroup directories named after kata (a shim's or
/// Kata's `kata_<sid>`/`kata_overhead`; other cgroups come and go with the host's job runner
/// and service manager), and bound Unix sockets under
/// `/run` or `/tmp/kata-e2e-*`. Other mounts and sockets (other tests' temporary directories)
/// are left out so that work beside the suite does not disturb it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSnapshot {
    kinds: BTreeMap<&'static str, BTreeSet<String>>,
}

impl HostSnapshot {
    /// Records the host now.
    pub fn take() -> Self {
        let mut kinds = BTreeMap::new();
        kinds.insert("process", processes());
        kinds.insert("mount", mounts());
        let mut paths = BTreeSet::new();
        for (root, depth) in SNAPSHOT_TREES {
            walk(Path::new(root), depth, &mut paths);
        }
        kinds.insert("path", paths);
        kinds.insert("netns", names_in("/run/netns"));
        kinds.insert("netdev", names_in("/sys/class/net"));
        let mut cgroups = BTreeSet::new();
        walk_dirs(Path::new("/sys/fs/cgroup"), 8, &mut cgroups);
        // Job runners and service managers make cgroups of their own all the time (this
        // machine's runner one per command): only a sandbox's count.
        cgroups.retain(|c| c.to_ascii_lowercase().contains("kata"));
        kinds.insert("cgroup", cgroups);
        kinds.insert("socket", unix_sockets());
        Self { kinds }
    }

    /// What differs from `self` in `other`: `+ kind item` appeared, `- kind item` went away.
    pub fn diff(&self, other: &HostSnapshot) -> Vec<String> {
        let empty = BTreeSet::new();
        let mut out = Vec::new();
        let kinds: BTreeSet<&str> = self
            .kinds
            .keys()
            .chain(other.kinds.keys())
            .copied()
            .collect();
        for kind in kinds {
            let before = self.kinds.get(kind).unwrap_or(&empty);
            let after = other.kinds.get(kind).unwrap_or(&empty);
            out.extend(after.difference(before).map(|i| format!("+ {kind} {i}")));
            out.extend(before.difference(after).map(|i| format!("- {kind} {i}")));
        }
        out
    }

    /// The items of one kind (`process`, `mount`, `path`, `netns`, `netdev`, `cgroup`, `socket`).
    pub fn items(&self, kind: &str) -> Option<&BTreeSet<String>> {
        self.kinds.get(kind)
    }

    /// Waits up to `grace` for the host to equal this snapshot, then panics listing the
    /// differences.
    pub fn assert_restored(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        loop {
            let diff = self.diff(&HostSnapshot::take());
            if diff.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the host is not back to its baseline:\n  {}",
                    diff.join("\n  ")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn processes() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for name in SNAPSHOT_PROCESSES {
        for pid in pids_named(name) {
            found.insert(format!("{pid} {name}"));
        }
    }
    found
}

fn watched_path(p: &str) -> bool {
    p == "/run" || p.starts_with("/run/") || p.starts_with("/tmp/kata-e2e-")
}

/// Mount points (with type and source) from `/proc/self/mountinfo`; octal escapes kept.
fn mounts() -> BTreeSet<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4) else { continue };
        if !watched_path(point) {
            continue;
        }
        // After the optional fields and the " - " separator: fs type and source.
        let rest = fields
            .iter()
            .position(|f| *f == "-")
            .map(|i| {
                fields[i + 1..]
                    .iter()
                    .take(2)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        found.insert(format!("{point} {rest}"));
    }
    found
}

fn walk(path: &Path, depth: usize, out: &mut BTreeSet<String>) {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return;
    };
    out.insert(path.display().to_string());
    if depth == 0 || !meta.is_dir() {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            walk(&entry.path(), depth - 1, out);
        }
    }
}

fn walk_dirs(path: &Path, depth: usize, out: &mut BTreeSet<String>) {
    out.insert(path.display().to_string());
    if depth == 0 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk_dirs(&entry.path(), depth - 1, out);
            }
        }
    }
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

/// Paths of bound Unix sockets (`/proc/net/unix`, the host's network namespace) that a sandbox
/// or a private containerd may own.
fn unix_sockets() -> BTreeSet<String> {
    let text = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(7))
        .filter(|p| watched_path(p))
        .map(str::to_string)
        .collect()
}
