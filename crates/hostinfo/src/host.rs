//! `Host`: every fact read relative to a root directory, so tests can point it at fixtures.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::accel::{decide, VirtSupport};
use crate::cpu::{parse_cpuinfo, CpuInfo};
use crate::error::{Error, Result};
use crate::kvm::{probe_kvm, KvmStatus};
use crate::memory::{parse_meminfo, MemInfo};
use crate::qemu::{qemu_version, QemuVersion};

/// A view of the host rooted at a directory (`/` for the real host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    root: PathBuf,
}

impl Default for Host {
    fn default() -> Self {
        Self::system()
    }
}

impl Host {
    /// The real host.
    pub fn system() -> Self {
        Self::at("/")
    }

    /// A host whose `/proc` and `/dev` live under `root` (for tests).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `rel` (like `proc/cpuinfo`) under this host's root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    fn read(&self, rel: &str) -> Result<(PathBuf, String)> {
        let path = self.path(rel);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok((path, text)),
            Err(source) => Err(Error::Read { path, source }),
        }
    }

    /// CPU model, count and virtualization flags from `proc/cpuinfo`.
    pub fn cpuinfo(&self) -> Result<CpuInfo> {
        self.read("proc/cpuinfo")
            .map(|(_, text)| parse_cpuinfo(&text))
    }

    /// Number of host CPUs: `processor` entries of cpuinfo, else what the scheduler allows.
    pub fn cpu_count(&self) -> usize {
        match self.cpuinfo() {
            Ok(info) if info.count > 0 => info.count,
            _ => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    /// Total/free/available memory from `proc/meminfo`.
    pub fn meminfo(&self) -> Result<MemInfo> {
        let (path, text) = self.read("proc/meminfo")?;
        parse_meminfo(&text).ok_or(Error::Parse {
            path,
            what: "MemTotal/MemFree",
        })
    }

    /// The kernel release from `proc/sys/kernel/osrelease` (what `uname -r` prints).
    pub fn kernel_release(&self) -> Result<String> {
        let (path, text) = self.read("proc/sys/kernel/osrelease")?;
        let release = text.trim();
        if release.is_empty() {
            return Err(Error::Parse {
                path,
                what: "kernel release",
            });
        }
        Ok(release.to_owned())
    }

    /// Probes `dev/kvm`.
    pub fn kvm(&self) -> KvmStatus {
        probe_kvm(&self.path("dev/kvm"))
    }

    /// `dev/vhost-vsock` exists (otherwise the agent channel needs hybrid vsock).
    pub fn has_vhost_vsock(&self) -> bool {
        self.path("dev/vhost-vsock").exists()
    }

    /// `dev/vhost-net` exists.
    pub fn has_vhost_net(&self) -> bool {
        self.path("dev/vhost-net").exists()
    }

    /// KVM or TCG, and why. An unreadable cpuinfo counts as "no vmx/svm flag".
    pub fn virt_support(&self) -> VirtSupport {
        let flag = self.cpuinfo().ok().and_then(|c| c.virt_flag);
        decide(flag, &self.kvm())
    }

    /// Gathers every fact; `qemu` is the binary whose version to report, if any.
    pub fn info(&self, qemu: Option<&Path>) -> HostInfo {
        let cpu = self.cpuinfo().ok();
        let kvm = self.kvm();
        let virt = decide(cpu.as_ref().and_then(|c| c.virt_flag), &kvm);
        HostInfo {
            cpu_count: self.cpu_count(),
            cpu,
            kvm,
            virt,
            vhost_vsock: self.has_vhost_vsock(),
            vhost_net: self.has_vhost_net(),
            memory: self.meminfo().ok(),
            kernel_release: self.kernel_release().ok(),
            qemu: qemu.map(|q| qemu_version(q).map_err(|e| e.to_string())),
        }
    }
}

/// Every host fact at once, for `kata-env` and `check`.
#[derive(Debug, Clone, Serialize)]
pub struct HostInfo {
    pub cpu_count: usize,
    pub cpu: Option<CpuInfo>,
    pub kvm: KvmStatus,
    pub virt: VirtSupport,
    pub vhost_vsock: bool,
    pub vhost_net: bool,
    pub memory: Option<MemInfo>,
    pub kernel_release: Option<String>,
    /// `None` when no binary was asked for; `Some(Err(message))` when it could not be run.
    #[serde(serialize_with = "ser_qemu")]
    pub qemu: Option<std::result::Result<QemuVersion, String>>,
}

fn ser_qemu<S: serde::Serializer>(
    value: &Option<std::result::Result<QemuVersion, String>>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Failed<'a> {
        error: &'a str,
    }
    match value {
        None => s.serialize_none(),
        Some(Ok(v)) => v.serialize(s),
        Some(Err(e)) => Failed { error: e }.serialize(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accel::Accelerator;

    fn fixture(cpuinfo: &str, meminfo: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("proc/sys/kernel")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join("dev")).expect("mkdir");
        std::fs::write(dir.path().join("proc/cpuinfo"), cpuinfo).expect("write");
        std::fs::write(dir.path().join("proc/meminfo"), meminfo).expect("write");
        std::fs::write(dir.path().join("proc/sys/kernel/osrelease"), "6.1.0-test\n")
            .expect("write");
        dir
    }

    const CPU: &str = "processor\t: 0\nflags\t\t: fpu vmx\n\nprocessor\t: 1\nflags\t\t: fpu vmx\n";
    const MEM: &str = "MemTotal: 4194304 kB\nMemFree: 1048576 kB\nMemAvailable: 2097152 kB\n";

    #[test]
    fn reads_facts_under_the_root() {
        let dir = fixture(CPU, MEM);
        let host = Host::at(dir.path());
        assert_eq!(host.cpu_count(), 2);
        assert_eq!(host.meminfo().expect("meminfo").available_mib(), 2048);
        assert_eq!(host.kernel_release().expect("release"), "6.1.0-test");
        assert!(!host.has_vhost_vsock());
        assert!(!host.has_vhost_net());
        std::fs::write(dir.path().join("dev/vhost-vsock"), "").expect("write");
        std::fs::write(dir.path().join("dev/vhost-net"), "").expect("write");
        assert!(host.has_vhost_vsock());
        assert!(host.has_vhost_net());
    }

    #[test]
    fn vmx_without_kvm_node_is_tcg() {
        let dir = fixture(CPU, MEM);
        let host = Host::at(dir.path());
        assert_eq!(host.kvm(), KvmStatus::Absent);
        assert_eq!(host.virt_support().accelerator, Accelerator::Tcg);
    }

    #[test]
    fn fake_kvm_node_without_flags_is_tcg_only() {
        let dir = fixture("processor: 0\nflags: fpu hypervisor\n", MEM);
        std::fs::write(dir.path().join("dev/kvm"), "").expect("write");
        let v = Host::at(dir.path()).virt_support();
        assert_eq!(v.accelerator, Accelerator::Tcg);
        assert!(v.reason.contains("no vmx/svm"), "{}", v.reason);
    }

    #[test]
    fn missing_files_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let host = Host::at(dir.path());
        let err = host.meminfo().expect_err("must fail");
        assert!(err.to_string().contains("proc/meminfo"), "{err}");
        assert!(host.kernel_release().is_err());
        assert!(host.cpu_count() >= 1);
    }

    #[test]
    fn malformed_meminfo_is_a_parse_error() {
        let dir = fixture(CPU, "nothing here\n");
        let err = Host::at(dir.path()).meminfo().expect_err("must fail");
        assert!(matches!(err, Error::Parse { .. }), "{err}");
    }

    #[test]
    fn info_serializes_with_qemu_error() {
        let dir = fixture(CPU, MEM);
        let info = Host::at(dir.path()).info(Some(Path::new("/nonexistent/qemu")));
        let json = serde_json::to_value(&info).expect("serialize");
        assert_eq!(json["cpu_count"], 2);
        assert_eq!(json["kvm"]["state"], "absent");
        assert_eq!(json["virt"]["accelerator"], "tcg");
        assert!(json["qemu"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("/nonexistent/qemu")));
        assert_eq!(json["kernel_release"], "6.1.0-test");
    }

    #[test]
    fn this_machine_without_vmx_is_never_kvm() {
        let host = Host::system();
        let flag = host.cpuinfo().ok().and_then(|c| c.virt_flag);
        if flag.is_none() {
            assert_eq!(host.virt_support().accelerator, Accelerator::Tcg);
        }
    }
}
