//! `-cpu` and `-smp`. Under KVM the host CPU is passed through; under TCG a model QEMU emulates
//! completely (`host`/`max` need hardware virtualization or abort on some hosts).

use kata_hypervisor::{Accelerator, VmSpec};

use super::CmdlineError;

/// The CPU model used under TCG when the spec names none.
pub const TCG_DEFAULT_MODEL: &str = "qemu64";

pub(super) fn args(spec: &VmSpec) -> Result<Vec<String>, CmdlineError> {
    let cpu = &spec.cpu;
    if cpu.vcpus == 0 || cpu.vcpus > cpu.max_vcpus {
        return Err(CmdlineError::InvalidVcpus {
            vcpus: cpu.vcpus,
            max_vcpus: cpu.max_vcpus,
        });
    }
    let model = match (&cpu.model, spec.accelerator) {
        (Some(m), _) => m.clone(),
        (None, Accelerator::Kvm) => "host".to_string(),
        (None, Accelerator::Tcg { .. }) => TCG_DEFAULT_MODEL.to_string(),
    };
    Ok(vec![
        "-cpu".into(),
        model,
        "-smp".into(),
        format!(
            "{},maxcpus={},sockets={},cores=1,threads=1",
            cpu.vcpus, cpu.max_vcpus, cpu.max_vcpus
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmdline::{test_spec, values_of};

    #[test]
    fn tcg_never_uses_host_or_max() {
        let a = args(&test_spec()).expect("args");
        assert_eq!(values_of(&a, "-cpu"), [TCG_DEFAULT_MODEL]);
    }

    #[test]
    fn kvm_uses_host() {
        let mut s = test_spec();
        s.accelerator = Accelerator::Kvm;
        assert_eq!(values_of(&args(&s).expect("args"), "-cpu"), ["host"]);
    }

    #[test]
    fn explicit_model_wins() {
        let mut s = test_spec();
        s.cpu.model = Some("Skylake-Client".into());
        assert_eq!(
            values_of(&args(&s).expect("args"), "-cpu"),
            ["Skylake-Client"]
        );
    }

    #[test]
    fn smp_allows_hotplug_up_to_max() {
        let mut s = test_spec();
        s.cpu.vcpus = 2;
        s.cpu.max_vcpus = 4;
        assert_eq!(
            values_of(&args(&s).expect("args"), "-smp"),
            ["2,maxcpus=4,sockets=4,cores=1,threads=1"]
        );
    }

    #[test]
    fn bad_vcpu_counts_are_refused() {
        let mut s = test_spec();
        s.cpu.vcpus = 0;
        assert!(args(&s).is_err());
        s.cpu.vcpus = 3;
        s.cpu.max_vcpus = 2;
        assert!(args(&s).is_err());
    }
}
