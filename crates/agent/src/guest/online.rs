//! OnlineCPUMem: bring hot-plugged CPUs and memory blocks online through sysfs.
//!
//! As Kata's agent: `nb_cpus` is how many CPUs should be online in all (the runtime sends the
//! vCPU count after a hot-add); offline CPUs are onlined until that many are, retrying every
//! 50 ms for up to 5 s while the guest's ACPI handler is still adding them. 0 onlines no CPU.
//! Unless `cpu_only`, every offline memory block is onlined too.
//!
//! Containers see the new CPUs without further work: the guest runs cgroup v2, where a cgroup
//! whose `cpuset.cpus` is empty (containers without a cpuset) takes its parent's effective CPUs,
//! which follow the CPUs online; task affinities default to every possible CPU. (Kata's agent
//! rewrites the containers' cpusets after onlining, which cgroup v1 needs.)

use std::path::Path;
use std::time::Duration;

use crate::error::{AgentError, Result};

/// How often onlining is retried while fewer CPUs than asked for are online.
const RETRY_EVERY: Duration = Duration::from_millis(50);
/// How many times (Kata's `ONLINE_CPUMEM_MAX_RETRIES`).
const RETRIES: u32 = 100;

/// Onlines CPUs until `nb_cpus` are online (0: none) and, unless `cpu_only`, every offline memory
/// block. Returns how many CPUs are online (0 when none were asked for).
pub fn online_cpu_mem(sysfs: &Path, nb_cpus: u32, cpu_only: bool) -> Result<u32> {
    let cpu_dir = sysfs.join("devices/system/cpu");
    let mut online = 0;
    if nb_cpus > 0 {
        online = online_cpus(&cpu_dir, nb_cpus)?;
    }
    if !cpu_only {
        let n = online_all(&sysfs.join("devices/system/memory"), "memory", 0);
        tracing::info!(blocks = n, "memory blocks onlined");
    }
    Ok(online)
}

fn online_cpus(dir: &Path, want: u32) -> Result<u32> {
    let mut now = online_count(dir);
    for _ in 0..RETRIES {
        if now >= want {
            tracing::info!(online = now, "CPUs online");
            return Ok(now);
        }
        online_all(dir, "cpu", want - now);
        now = online_count(dir);
        if now < want {
            std::thread::sleep(RETRY_EVERY);
        }
    }
    if now >= want {
        return Ok(now);
    }
    Err(AgentError::FailedPrecondition(format!(
        "only {now} of {want} CPUs online after {:?}",
        RETRY_EVERY * RETRIES
    )))
}

/// CPUs online now: the count of `online` (a list such as `0-2,4`); cpu0, which has no
/// `online` file, is counted there.
fn online_count(dir: &Path) -> u32 {
    let text = std::fs::read_to_string(dir.join("online")).unwrap_or_default();
    text.trim()
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('-') {
            Some((a, b)) => match (a.parse::<u32>(), b.parse::<u32>()) {
                (Ok(a), Ok(b)) if b >= a => b - a + 1,
                _ => 0,
            },
            None => u32::from(p.parse::<u32>().is_ok()),
        })
        .sum()
}

/// Writes `1` to `online` of offline units (`<prefix>N`), at most `limit` of them (0: all).
fn online_all(dir: &Path, prefix: &str, limit: u32) -> u32 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut count = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let is_unit = name
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_unit {
            continue;
        }
        let online = e.path().join("online");
        if std::fs::read_to_string(&online)
            .map(|s| s.trim() == "0")
            .unwrap_or(false)
        {
            match std::fs::write(&online, "1") {
                Ok(()) => count += 1,
                Err(e) => tracing::warn!(unit = %name, error = %e, "cannot online"),
            }
            if limit != 0 && count >= limit {
                break;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sysfs with `cpus` (name, online state) and the `online` list file as a kernel keeps it.
    fn sysfs(units: &[(&str, &str)], online_list: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        for (unit, state) in units {
            let p = d.path().join("devices/system").join(unit);
            std::fs::create_dir_all(&p).expect("mkdir");
            std::fs::write(p.join("online"), state).expect("write");
        }
        std::fs::create_dir_all(d.path().join("devices/system/cpu")).expect("mkdir");
        std::fs::write(d.path().join("devices/system/cpu/online"), online_list).expect("list");
        d
    }

    fn read(d: &tempfile::TempDir, unit: &str) -> String {
        std::fs::read_to_string(d.path().join("devices/system").join(unit).join("online"))
            .expect("read")
    }

    #[test]
    fn cpus_are_onlined_until_enough_are_and_memory_blocks_all() {
        // The fake kernel does not update the list: 2 online (0-1) already satisfy 2.
        let d = sysfs(
            &[
                ("cpu/cpu1", "1"),
                ("cpu/cpu2", "0"),
                ("memory/memory7", "0"),
            ],
            "0-1\n",
        );
        assert_eq!(online_cpu_mem(d.path(), 2, false).expect("online"), 2);
        assert_eq!(read(&d, "cpu/cpu2"), "0", "enough CPUs were online already");
        assert_eq!(read(&d, "memory/memory7"), "1");
    }

    #[test]
    fn no_cpu_is_onlined_for_zero_and_cpu_only_leaves_memory() {
        let d = sysfs(&[("cpu/cpu1", "0"), ("memory/memory7", "0")], "0\n");
        assert_eq!(online_cpu_mem(d.path(), 0, true).expect("online"), 0);
        assert_eq!(read(&d, "cpu/cpu1"), "0");
        assert_eq!(read(&d, "memory/memory7"), "0");
    }

    #[test]
    fn online_lists_are_counted() {
        let d = sysfs(&[], "0-2,4,6-7\n");
        assert_eq!(online_count(&d.path().join("devices/system/cpu")), 6);
    }
}
