//! Facts about the host that the defaults and checks depend on.
//!
//! The loader never asks the host directly: it goes through [`HostFacts`], so unit tests can
//! pretend to have 4 CPUs and a kernel at `/usr/share/kata-containers/vmlinux.container`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// The largest vCPU count QEMU accepts for a guest on x86_64 (Kata's `MaxQemuVCPUs`).
pub const MAX_QEMU_VCPUS: u32 = 240;

/// Host facts used while resolving a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostFacts {
    /// Number of online host CPUs (Go's `runtime.NumCPU()`).
    pub cpus: u32,
    /// Host memory in MiB (ceiling for `default_maxmemory`).
    pub memory_mib: u64,
    /// The largest vCPU count the hypervisor supports.
    pub max_hypervisor_vcpus: u32,
    /// `None`: look paths up on the real file system. `Some(map)`: a fake file system where
    /// only the listed absolute paths exist, each with the given size in bytes; paths are
    /// their own canonical form.
    pub files: Option<BTreeMap<PathBuf, u64>>,
}

impl HostFacts {
    /// Facts of the machine we are running on.
    pub fn detect() -> Self {
        let cpus = std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
            .unwrap_or(1);
        HostFacts {
            cpus,
            memory_mib: host_memory_mib().unwrap_or(2048),
            max_hypervisor_vcpus: MAX_QEMU_VCPUS,
            files: None,
        }
    }

    /// A fake host for tests: `cpus` CPUs, 16 GiB, and only the given files (path, size).
    pub fn fake<P: Into<PathBuf>>(cpus: u32, files: impl IntoIterator<Item = (P, u64)>) -> Self {
        HostFacts {
            cpus,
            memory_mib: 16 * 1024,
            max_hypervisor_vcpus: MAX_QEMU_VCPUS,
            files: Some(files.into_iter().map(|(p, s)| (p.into(), s)).collect()),
        }
    }

    /// Like Kata's `ResolvePath`: follow symlinks and make absolute; the path must exist.
    pub fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        match &self.files {
            None => std::fs::canonicalize(path),
            Some(files) => {
                if files.contains_key(path) {
                    Ok(path.to_path_buf())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "no such file (fake host)",
                    ))
                }
            }
        }
    }

    /// Size in bytes of an existing file.
    pub fn file_size(&self, path: &Path) -> io::Result<u64> {
        match &self.files {
            None => std::fs::metadata(path).map(|m| m.len()),
            Some(files) => files
                .get(path)
                .copied()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file (fake host)")),
        }
    }
}

fn host_memory_mib() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_reports_at_least_one_cpu() {
        let h = HostFacts::detect();
        assert!(h.cpus >= 1);
        assert!(h.memory_mib > 0);
        assert!(h.resolve(Path::new("/")).is_ok());
    }

    #[test]
    fn fake_host_only_knows_listed_files() {
        let h = HostFacts::fake(2, [("/a", 10u64)]);
        assert_eq!(h.resolve(Path::new("/a")).ok(), Some(PathBuf::from("/a")));
        assert_eq!(h.file_size(Path::new("/a")).ok(), Some(10));
        assert!(h.resolve(Path::new("/b")).is_err());
    }
}
