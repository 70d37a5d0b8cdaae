//! Whether `/dev/kvm` exists and really works.

use std::fs::OpenOptions;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::Serialize;

/// The KVM API version every supported kernel reports.
pub const KVM_API_VERSION: i32 = 12;

// _IO(KVMIO, 0x00) and _IO(KVMIO, 0x01), KVMIO = 0xAE.
const KVM_GET_API_VERSION: libc::c_ulong = 0xAE00;
const KVM_CREATE_VM: libc::c_ulong = 0xAE01;

/// What probing `/dev/kvm` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KvmStatus {
    /// No device node.
    Absent,
    /// The node exists but cannot be used; `reason` says why.
    Unusable { reason: String },
    /// `KVM_GET_API_VERSION` returned 12 and `KVM_CREATE_VM` succeeded.
    Usable { api_version: i32 },
}

impl KvmStatus {
    /// True when the device node exists, usable or not.
    pub fn present(&self) -> bool {
        !matches!(self, KvmStatus::Absent)
    }

    /// True when the ioctl probe succeeded.
    pub fn usable(&self) -> bool {
        matches!(self, KvmStatus::Usable { .. })
    }
}

impl std::fmt::Display for KvmStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvmStatus::Absent => f.write_str("absent"),
            KvmStatus::Unusable { reason } => write!(f, "unusable: {reason}"),
            KvmStatus::Usable { api_version } => write!(f, "usable (API version {api_version})"),
        }
    }
}

/// Opens `path` (normally `/dev/kvm`), checks the API version and creates (then drops) a VM.
pub fn probe_kvm(path: &Path) -> KvmStatus {
    if !path.exists() {
        return KvmStatus::Absent;
    }
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => f,
        Err(e) => {
            return KvmStatus::Unusable {
                reason: format!("cannot open {}: {e}", path.display()),
            }
        }
    };
    // SAFETY: the fd is valid for the lifetime of `file`; KVM_GET_API_VERSION takes no argument.
    let version = unsafe { libc::ioctl(file.as_raw_fd(), KVM_GET_API_VERSION, 0) };
    if version < 0 {
        return KvmStatus::Unusable {
            reason: format!(
                "KVM_GET_API_VERSION on {} failed: {}",
                path.display(),
                std::io::Error::last_os_error()
            ),
        };
    }
    if version != KVM_API_VERSION {
        return KvmStatus::Unusable {
            reason: format!(
                "{} reports KVM API version {version}, expected {KVM_API_VERSION}",
                path.display()
            ),
        };
    }
    // SAFETY: the fd is valid; KVM_CREATE_VM takes the machine type (0 = default) by value.
    let vm = unsafe { libc::ioctl(file.as_raw_fd(), KVM_CREATE_VM, 0) };
    if vm < 0 {
        return KvmStatus::Unusable {
            reason: format!(
                "KVM_CREATE_VM on {} failed: {}",
                path.display(),
                std::io::Error::last_os_error()
            ),
        };
    }
    // SAFETY: KVM_CREATE_VM returned a new fd that nothing else owns; dropping it closes it.
    drop(unsafe { OwnedFd::from_raw_fd(vm) });
    KvmStatus::Usable {
        api_version: version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_node_is_absent() {
        let status = probe_kvm(Path::new("/nonexistent/kvm"));
        assert_eq!(status, KvmStatus::Absent);
        assert!(!status.present());
        assert_eq!(status.to_string(), "absent");
        assert_eq!(
            KvmStatus::Usable { api_version: 12 }.to_string(),
            "usable (API version 12)"
        );
    }

    #[test]
    fn a_regular_file_is_present_but_unusable() {
        let file = tempfile::NamedTempFile::new().expect("tempfile");
        let status = probe_kvm(file.path());
        assert!(status.present());
        assert!(!status.usable());
        match status {
            KvmStatus::Unusable { reason } => assert!(reason.contains("KVM_GET_API_VERSION")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn real_dev_kvm_probe_does_not_panic() {
        // Whatever the host has, the probe must classify it.
        let status = probe_kvm(Path::new("/dev/kvm"));
        if Path::new("/dev/kvm").exists() {
            assert!(status.present());
        } else {
            assert_eq!(status, KvmStatus::Absent);
        }
    }
}
