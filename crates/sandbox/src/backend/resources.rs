//! How big the VM boots: vCPUs and memory from `default_vcpus`/`default_memory` (Kata's
//! `configuration.toml`, `[hypervisor.qemu]`).

use kata_config::HypervisorConfig;
use kata_hypervisor::{CpuSpec, MemorySpec};

/// The boot size of the VM: `default_vcpus` (at least 1) and `default_memory` MiB (at least 256).
pub(super) fn boot_size(h: &HypervisorConfig) -> (CpuSpec, MemorySpec) {
    let vcpus = h.default_vcpus.max(1);
    // TODO(hotplug): max_vcpus/max memory from default_maxvcpus/default_maxmemory.
    let cpu = CpuSpec {
        vcpus,
        max_vcpus: vcpus,
        model: None,
    };
    let mem = h.default_memory.max(256);
    let memory = MemorySpec {
        size_mib: mem,
        slots: 0,
        max_mib: mem,
        force_shared: true,
    };
    (cpu, memory)
}
