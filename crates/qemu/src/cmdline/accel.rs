//! `-accel`: KVM, or TCG with a bounded translation buffer.

use kata_hypervisor::{Accelerator, VmSpec};

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let accel = match spec.accelerator {
        Accelerator::Kvm => "kvm".to_string(),
        Accelerator::Tcg { tb_size_mib } => format!("tcg,tb-size={tb_size_mib}"),
    };
    vec!["-accel".into(), accel]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn tcg_bounds_the_translation_buffer() {
        let mut s = test_spec();
        s.accelerator = Accelerator::Tcg { tb_size_mib: 32 };
        assert_eq!(values_of(&args(&s), "-accel"), ["tcg,tb-size=32"]);
    }

    #[test]
    fn kvm() {
        let mut s = test_spec();
        s.accelerator = Accelerator::Kvm;
        assert_eq!(values_of(&args(&s), "-accel"), ["kvm"]);
    }
}
