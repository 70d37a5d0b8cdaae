//! PCI-to-PCI bridges on the root bus, as hotplug targets (`pci-bridge-0`, `pci-bridge-1`, ...).

use kata_hypervisor::VmSpec;

use super::machine::root_bus;

/// The bus id of bridge number `n`.
pub fn bridge_id(n: u32) -> String {
    format!("pci-bridge-{n}")
}

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let bus = root_bus(&spec.machine_type);
    (0..spec.pci_bridges)
        .flat_map(|n| {
            [
                "-device".to_string(),
                format!(
                    "pci-bridge,bus={bus},id={},chassis_nr={},shpc=off",
                    bridge_id(n),
                    n + 1
                ),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn bridges_sit_on_the_root_bus() {
        let mut s = test_spec();
        s.pci_bridges = 2;
        assert_eq!(
            values_of(&args(&s), "-device"),
            [
                "pci-bridge,bus=pcie.0,id=pci-bridge-0,chassis_nr=1,shpc=off",
                "pci-bridge,bus=pcie.0,id=pci-bridge-1,chassis_nr=2,shpc=off"
            ]
        );
        s.machine_type = "pc".into();
        assert!(values_of(&args(&s), "-device")[0].contains("bus=pci.0"));
    }
}
