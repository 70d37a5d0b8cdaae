//! How big the VM boots, and how much room it has to grow: vCPUs and memory from
//! `default_vcpus`/`default_memory`, the hotplug ceilings from `default_maxvcpus`,
//! `default_maxmemory` and `memory_slots` (Kata's `configuration.toml`, `[hypervisor.qemu]`), and
//! with `[runtime] static_sandbox_resource_mgmt` the pod's own sizing added at boot.

use kata_config::{Config, HypervisorConfig};
use kata_hypervisor::{CpuSpec, MemorySpec};
use oci_spec::runtime::Spec;

use crate::task::resources::{cpuset_size, Sizing, MEMORY_BLOCK_MIB};

/// The most memory slots handed to QEMU: Kata keeps `memory_slots` in a `uint8`.
pub const MAX_MEMORY_SLOTS: u32 = 255;
/// The smallest guest memory booted, MiB.
pub const MIN_MEMORY_MIB: u32 = 256;

/// containerd's CRI annotations with the whole pod's sizing (Kata's `SandboxCPUQuota`,
/// `SandboxCPUPeriod`, `SandboxMem`).
pub const SANDBOX_CPU_QUOTA: &str = "io.kubernetes.cri.sandbox-cpu-quota";
pub const SANDBOX_CPU_PERIOD: &str = "io.kubernetes.cri.sandbox-cpu-period";
pub const SANDBOX_MEMORY: &str = "io.kubernetes.cri.sandbox-memory";
/// The CRI annotation that makes a spec part of a pod (`sandbox` or `container`).
const CRI_CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// The boot size of the VM and its room to grow:
/// - vCPUs: `default_vcpus` (at least 1) at boot, `maxcpus` = `default_maxvcpus` (the loader
///   resolved 0 or more than the host's CPUs to the host's CPU count, capped at 240, as Kata),
///   never below the boot count;
/// - memory: `default_memory` MiB (at least [`MIN_MEMORY_MIB`]) at boot, `memory_slots` DIMM
///   slots (at most [`MAX_MEMORY_SLOTS`]) and `maxmem` = `default_maxmemory` (resolved: 0 or more
///   than the host's memory is the host's memory). A ceiling at or below the boot size turns
///   memory hotplug off (no slots).
pub(super) fn boot_size(h: &HypervisorConfig) -> (CpuSpec, MemorySpec) {
    let vcpus = h.default_vcpus.max(1);
    let cpu = CpuSpec {
        vcpus,
        max_vcpus: h.default_maxvcpus.max(vcpus),
        model: None,
    };
    let mem = h.default_memory.max(MIN_MEMORY_MIB);
    let ceiling = u32::try_from(h.default_maxmemory).unwrap_or(u32::MAX);
    let slots = h.memory_slots.min(MAX_MEMORY_SLOTS);
    let memory = if slots == 0 || ceiling <= mem {
        MemorySpec {
            size_mib: mem,
            slots: 0,
            max_mib: mem,
            force_shared: true,
        }
    } else {
        MemorySpec {
            size_mib: mem,
            slots,
            max_mib: ceiling,
            force_shared: true,
        }
    };
    (cpu, memory)
}

/// What the sandbox task needs to resize the VM for its containers (see
/// [`crate::task::resources`]).
pub(super) fn sizing(config: &Config) -> Sizing {
    let h = &config.hypervisor;
    let (_, memory) = boot_size(h);
    Sizing {
        default_vcpus: h.default_vcpus.max(1),
        default_memory_mib: h.default_memory,
        boot_memory_mib: memory.size_mib,
        static_mgmt: config.runtime.static_sandbox_resource_mgmt,
        memory_block_mib: MEMORY_BLOCK_MIB,
    }
}

/// With `static_sandbox_resource_mgmt`, the VM is sized at boot and never hot-plugged (Kata's
/// `katautils.CreateSandbox` adding `CalculateSandboxSizing` to `NumVCPUs`/`MemorySize`):
/// `default_vcpus` grows by ceil(quota / period) and `default_memory` by the memory, both from
/// the sandbox's CRI annotations ([`SANDBOX_CPU_QUOTA`], [`SANDBOX_CPU_PERIOD`],
/// [`SANDBOX_MEMORY`]); a spec that is not part of a CRI pod (a plain `ctr run`, the container
/// is the whole sandbox) is sized by its own `linux.resources` instead. A vCPU count beyond
/// `default_maxvcpus` raises `maxcpus` with it ([`boot_size`]).
pub(super) fn size_statically(config: &mut Config, spec: &Spec) {
    if !config.runtime.static_sandbox_resource_mgmt {
        return;
    }
    let (cpus, memory_bytes) = static_sizing(spec);
    let h = &mut config.hypervisor;
    let extra_cpus = whole_cpus(cpus);
    let extra_mib = u32::try_from(memory_bytes >> 20).unwrap_or(u32::MAX);
    h.default_vcpus = h.default_vcpus.saturating_add(extra_cpus);
    h.default_memory = h.default_memory.saturating_add(extra_mib);
    tracing::info!(
        vcpus = h.default_vcpus,
        memory_mib = h.default_memory,
        "static_sandbox_resource_mgmt: the vm is sized at boot for the pod"
    );
}

/// ceil of a non-negative CPU count.
fn whole_cpus(cpus: f64) -> u32 {
    if cpus.is_finite() && cpus > 0.0 {
        // Bounded by the clamp; the cast is exact for whole numbers in range.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = cpus.ceil().min(f64::from(u32::MAX)) as u32;
        n
    } else {
        0
    }
}

/// The pod's (CPUs, memory bytes) for static sizing; see [`size_statically`].
pub(super) fn static_sizing(spec: &Spec) -> (f64, u64) {
    let annotations = spec.annotations().clone().unwrap_or_default();
    if annotations.contains_key(CRI_CONTAINER_TYPE) {
        let num = |key: &str| {
            annotations.get(key).and_then(|v| match v.trim().parse::<i64>() {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!(annotation = key, value = %v, error = %e, "not a number: taken as 0");
                    None
                }
            })
        };
        let cpus = match (num(SANDBOX_CPU_QUOTA), num(SANDBOX_CPU_PERIOD)) {
            (Some(q), Some(p)) => cpu_fraction(q, p),
            _ => 0.0,
        };
        let memory = num(SANDBOX_MEMORY).map_or(0, |m| u64::try_from(m).unwrap_or(0));
        return (cpus, memory);
    }
    let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
    let Some(r) = resources else {
        return (0.0, 0);
    };
    let cpu = r.cpu().as_ref();
    let quota_cpus = match cpu.map(|c| (c.quota(), c.period())) {
        Some((Some(q), Some(p))) => cpu_fraction(q, i64::try_from(p).unwrap_or(0)),
        _ => 0.0,
    };
    let cpus = if quota_cpus > 0.0 {
        quota_cpus
    } else {
        let set = cpu.and_then(|c| c.cpus().clone()).unwrap_or_default();
        f64::from(cpuset_size(&set).unwrap_or(0))
    };
    let memory = r
        .memory()
        .as_ref()
        .and_then(|m| m.limit())
        .map_or(0, |l| u64::try_from(l).unwrap_or(0));
    (cpus, memory)
}

/// quota / period as CPUs (Kata's `CalculateCPUsF`): 0 for no quota (-1) or no period.
fn cpu_fraction(quota: i64, period: i64) -> f64 {
    if quota > 0 && period > 0 {
        // Precision loss only beyond 2^53 µs, far past any real quota.
        #[allow(clippy::cast_precision_loss)]
        let f = quota as f64 / period as f64;
        f
    } else {
        0.0
    }
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;
