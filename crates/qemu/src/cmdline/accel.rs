//! `-accel`: KVM, or TCG with a bounded translation buffer.
//!
//! TCG with room for vCPU hotplug (`maxcpus` above the boot count) runs every vCPU on one host
//! thread (`thread=single`): QEMU 7.2's multi-threaded TCG gives each vCPU thread its own region
//! of the translation buffer, and a vCPU hot-added while every region is in use aborts QEMU
//! (`tcg_region_initial_alloc__locked`: assertion; fixed upstream long after 7.2). Seen here
//! as QEMU dying with SIGABRT on `device_add` of a vCPU a few seconds into a pod's life.

use kata_hypervisor::{Accelerator, VmSpec};

pub(super) fn args(spec: &VmSpec) -> Vec<String> {
    let accel = match spec.accelerator {
        Accelerator::Kvm => "kvm".to_string(),
        Accelerator::Tcg { tb_size_mib } if spec.cpu.max_vcpus > spec.cpu.vcpus => {
            format!("tcg,tb-size={tb_size_mib},thread=single")
        }
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
    fn tcg_with_vcpu_hotplug_room_runs_one_thread() {
        let mut s = test_spec();
        s.accelerator = Accelerator::Tcg { tb_size_mib: 32 };
        s.cpu.max_vcpus = s.cpu.vcpus + 1;
        assert_eq!(
            values_of(&args(&s), "-accel"),
            ["tcg,tb-size=32,thread=single"]
        );
        s.accelerator = Accelerator::Kvm;
        assert_eq!(values_of(&args(&s), "-accel"), ["kvm"]);
    }

    #[test]
    fn kvm() {
        let mut s = test_spec();
        s.accelerator = Accelerator::Kvm;
        assert_eq!(values_of(&args(&s), "-accel"), ["kvm"]);
    }
}
