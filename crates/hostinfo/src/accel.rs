//! The accelerator decision: KVM when the CPU has vmx/svm and /dev/kvm works, TCG otherwise.

use serde::Serialize;

use crate::cpu::VirtFlag;
use crate::kvm::KvmStatus;

/// The QEMU accelerator to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Accelerator {
    Kvm,
    Tcg,
}

impl Accelerator {
    /// The name QEMU's `-accel` option takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }
}

/// The decision and a sentence saying why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtSupport {
    pub accelerator: Accelerator,
    pub reason: String,
}

/// Decides between KVM and TCG from the CPU flag and the `/dev/kvm` probe.
///
/// A `/dev/kvm` without a vmx/svm flag is a nested or PVM host: its KVM runs toy guests but a
/// Linux guest hangs, so it is TCG only.
pub fn decide(virt_flag: Option<VirtFlag>, kvm: &KvmStatus) -> VirtSupport {
    let (accelerator, reason) = match (virt_flag, kvm) {
        (Some(flag), KvmStatus::Usable { api_version }) => (
            Accelerator::Kvm,
            format!(
                "CPU has {} and /dev/kvm works (API version {api_version})",
                flag.as_str()
            ),
        ),
        (Some(flag), KvmStatus::Absent) => (
            Accelerator::Tcg,
            format!(
                "CPU has {} but /dev/kvm is absent (kvm module not loaded?): TCG only",
                flag.as_str()
            ),
        ),
        (Some(flag), KvmStatus::Unusable { reason }) => (
            Accelerator::Tcg,
            format!(
                "CPU has {} but /dev/kvm is unusable ({reason}): TCG only",
                flag.as_str()
            ),
        ),
        (None, KvmStatus::Absent) => (
            Accelerator::Tcg,
            "CPU has no vmx/svm flag and /dev/kvm is absent: TCG only".to_owned(),
        ),
        (None, _) => (
            Accelerator::Tcg,
            "/dev/kvm present but CPU has no vmx/svm flag (nested/PVM host): TCG only".to_owned(),
        ),
    };
    VirtSupport {
        accelerator,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vmx_and_working_kvm_is_kvm() {
        let d = decide(Some(VirtFlag::Vmx), &KvmStatus::Usable { api_version: 12 });
        assert_eq!(d.accelerator, Accelerator::Kvm);
        assert!(d.reason.contains("vmx"));
    }

    #[test]
    fn pvm_host_is_tcg_only_and_says_why() {
        let d = decide(None, &KvmStatus::Usable { api_version: 12 });
        assert_eq!(d.accelerator, Accelerator::Tcg);
        assert!(d.reason.contains("no vmx/svm"), "{}", d.reason);
        assert!(d.reason.contains("TCG only"));
    }

    #[test]
    fn svm_without_device_is_tcg() {
        let d = decide(Some(VirtFlag::Svm), &KvmStatus::Absent);
        assert_eq!(d.accelerator, Accelerator::Tcg);
        assert!(d.reason.contains("absent"));
    }

    #[test]
    fn broken_kvm_reason_is_carried() {
        let kvm = KvmStatus::Unusable {
            reason: "KVM_CREATE_VM failed".into(),
        };
        let d = decide(Some(VirtFlag::Vmx), &kvm);
        assert_eq!(d.accelerator, Accelerator::Tcg);
        assert!(d.reason.contains("KVM_CREATE_VM failed"));
    }

    #[test]
    fn serializes_lowercase() {
        let d = decide(None, &KvmStatus::Absent);
        let json = serde_json::to_value(&d).expect("serialize");
        assert_eq!(json["accelerator"], "tcg");
    }
}
