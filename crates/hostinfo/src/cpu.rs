//! CPU facts from `/proc/cpuinfo`: virtualization flags and processor count.

use serde::Serialize;

/// The hardware virtualization extension advertised by the CPU, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VirtFlag {
    /// Intel VT-x.
    Vmx,
    /// AMD-V.
    Svm,
}

impl VirtFlag {
    /// The flag name as printed in `/proc/cpuinfo`.
    pub fn as_str(self) -> &'static str {
        match self {
            VirtFlag::Vmx => "vmx",
            VirtFlag::Svm => "svm",
        }
    }
}

/// What `/proc/cpuinfo` says about the CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuInfo {
    /// Model name of the first processor, if present.
    pub model_name: Option<String>,
    /// Number of `processor` entries.
    pub count: usize,
    /// The virtualization extension, if the CPU advertises one.
    pub virt_flag: Option<VirtFlag>,
    /// The CPU runs under a hypervisor (`hypervisor` flag).
    pub under_hypervisor: bool,
}

/// Parses the text of `/proc/cpuinfo`.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let mut info = CpuInfo {
        model_name: None,
        count: 0,
        virt_flag: None,
        under_hypervisor: false,
    };
    let mut flags_seen = false;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => info.count += 1,
            "model name" if info.model_name.is_none() => info.model_name = Some(value.to_owned()),
            "flags" if !flags_seen => {
                flags_seen = true;
                for flag in value.split_whitespace() {
                    match flag {
                        "vmx" => info.virt_flag = Some(VirtFlag::Vmx),
                        "svm" => info.virt_flag = Some(VirtFlag::Svm),
                        "hypervisor" => info.under_hypervisor = true,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTEL_PVM: &str =
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R)\n\
flags\t\t: fpu vme de pse hypervisor lahf_lm\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R)\n\
flags\t\t: fpu vme de pse hypervisor lahf_lm\n";
    const INTEL_VMX: &str = "processor\t: 0\nmodel name\t: Intel Core\nflags\t\t: fpu vmx sse\n\n\
processor\t: 1\nflags\t\t: fpu vmx sse\n\nprocessor\t: 2\nflags\t\t: fpu vmx sse\n";
    const AMD_SVM: &str = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu svm sse\n";

    #[test]
    fn pvm_host_has_no_virt_flag_but_a_hypervisor() {
        let info = parse_cpuinfo(INTEL_PVM);
        assert_eq!(info.count, 2);
        assert_eq!(info.virt_flag, None);
        assert!(info.under_hypervisor);
        assert_eq!(info.model_name.as_deref(), Some("Intel(R) Xeon(R)"));
    }

    #[test]
    fn intel_vmx_is_detected_and_processors_counted() {
        let info = parse_cpuinfo(INTEL_VMX);
        assert_eq!(info.virt_flag, Some(VirtFlag::Vmx));
        assert_eq!(info.count, 3);
        assert!(!info.under_hypervisor);
    }

    #[test]
    fn amd_svm_is_detected() {
        assert_eq!(parse_cpuinfo(AMD_SVM).virt_flag, Some(VirtFlag::Svm));
    }

    #[test]
    fn flag_substrings_do_not_count() {
        let info = parse_cpuinfo("processor: 0\nflags: vmx_ept svmx notvmx\n");
        assert_eq!(info.virt_flag, None);
    }

    #[test]
    fn empty_text_gives_zero_processors() {
        assert_eq!(parse_cpuinfo("").count, 0);
    }
}
