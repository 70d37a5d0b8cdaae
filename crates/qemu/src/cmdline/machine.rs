//! `-machine`: the machine type and its options.

use kata_hypervisor::VmSpec;

use super::CmdlineError;

/// The root PCI bus of a machine type: `pcie.0` on q35, `pci.0` otherwise.
pub fn root_bus(machine_type: &str) -> &'static str {
    if machine_type.starts_with("q35") || machine_type.starts_with("pc-q35") {
        "pcie.0"
    } else {
        "pci.0"
    }
}

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    if spec.machine_type.is_empty() {
        return Err(CmdlineError::Empty {
            what: "machine type",
        });
    }
    let mut machine = spec.machine_type.clone();
    if !spec.machine_options.is_empty() {
        machine.push(',');
        machine.push_str(&spec.machine_options);
    }
    Ok(vec!["-machine".into(), machine])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn machine_type_and_options() {
        let mut s = test_spec();
        s.machine_options = "nvdimm=off".into();
        let a = args(&s).expect("args");
        assert_eq!(values_of(&a, "-machine"), ["q35,nvdimm=off"]);
    }

    #[test]
    fn root_bus_follows_machine_type() {
        assert_eq!(root_bus("q35"), "pcie.0");
        assert_eq!(root_bus("pc-q35-7.2"), "pcie.0");
        assert_eq!(root_bus("pc"), "pci.0");
    }

    #[test]
    fn empty_machine_type_is_refused() {
        let mut s = test_spec();
        s.machine_type.clear();
        assert!(args(&s).is_err());
    }
}
