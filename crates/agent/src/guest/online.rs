//! OnlineCPUMem: bring hot-plugged CPUs and memory blocks online through sysfs.

use std::path::Path;

use crate::error::Result;

/// Writes `1` to `online` of every offline CPU (up to `nb_cpus`, 0 = all) and, unless `cpu_only`,
/// of every offline memory block. Returns how many CPUs were brought online.
pub fn online_cpu_mem(sysfs: &Path, nb_cpus: u32, cpu_only: bool) -> Result<u32> {
    let cpus = online_all(&sysfs.join("devices/system/cpu"), "cpu", nb_cpus);
    if !cpu_only {
        online_all(&sysfs.join("devices/system/memory"), "memory", 0);
    }
    Ok(cpus)
}

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
            && std::fs::write(&online, "1").is_ok()
        {
            count += 1;
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

    #[test]
    fn offline_units_are_onlined() {
        let d = tempfile::tempdir().expect("tempdir");
        for (unit, state) in [
            ("cpu/cpu1", "0"),
            ("cpu/cpu2", "1"),
            ("memory/memory7", "0"),
        ] {
            let p = d.path().join("devices/system").join(unit);
            std::fs::create_dir_all(&p).expect("mkdir");
            std::fs::write(p.join("online"), state).expect("write");
        }
        assert_eq!(online_cpu_mem(d.path(), 0, false).expect("online"), 1);
        let read = |u: &str| {
            std::fs::read_to_string(d.path().join("devices/system").join(u).join("online"))
                .expect("read")
        };
        assert_eq!(read("cpu/cpu1"), "1");
        assert_eq!(read("memory/memory7"), "1");
    }
}
