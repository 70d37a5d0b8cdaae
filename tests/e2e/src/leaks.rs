//! Checks that nothing of a finished sandbox stays behind: processes, mounts, directories, netns.

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
