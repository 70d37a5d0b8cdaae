//! The VM follows its containers' resources: creating or updating a container whose CPU quota or
//! memory limit needs more than the VM has hot-adds vCPUs and memory, and the agent onlines them
//! (`OnlineCPUMem`); deleting a container gives hot-added vCPUs back.
//!
//! Kata's arithmetic (`virtcontainers/sandbox.go`: `updateResources`, `calculateSandboxCPUs`,
//! `calculateSandboxMemory`):
//! - vCPUs = ceil(`default_vcpus` + Σ quota/period over the containers); when no container has a
//!   quota, the sizes of their cpusets count instead;
//! - memory = `default_memory` MiB + Σ memory limits, grown in steps of at most 48 times what the
//!   guest has (an ACPI hot-add needs 64 bytes of `struct page` per 4 KiB added, from memory the
//!   guest already has), each step onlined before the next;
//! - with `static_sandbox_resource_mgmt` nothing is ever hot-plugged (the VM was sized at boot).
//!
//! Resizes run one at a time (a sandbox-wide lock) and always aim at the sum over the containers
//! known at that moment, so two containers created at once cannot undo each other's growth.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use oci_spec::runtime::LinuxResources;

use crate::agent::Agent;
use crate::error::{Error, Result};
use crate::vm::VmControl;

/// The guest's memory block size on x86_64 (128 MiB, `/sys/devices/system/memory/
/// block_size_bytes` of the Debian cloud kernel below 64 GiB): hot-added memory comes in whole
/// blocks, the unit the guest onlines.
pub const MEMORY_BLOCK_MIB: u32 = 128;

/// Kata's `acpiMemoryHotplugFactor`: one hot-add step adds at most this many times the memory
/// the guest has.
pub const ACPI_MEMORY_HOTPLUG_FACTOR: u32 = 48;

/// The configuration the arithmetic starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// `default_vcpus`.
    pub default_vcpus: u32,
    /// `default_memory`, MiB.
    pub default_memory_mib: u32,
    /// What the VM booted with, MiB.
    pub boot_memory_mib: u32,
    /// `static_sandbox_resource_mgmt`: never hot-plug.
    pub static_mgmt: bool,
    /// Hot-added memory comes in whole blocks of this many MiB.
    pub memory_block_mib: u32,
}

/// The parts of a container's `linux.resources` that size the VM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Demand {
    quota: Option<i64>,
    period: Option<u64>,
    cpuset: String,
    memory_limit: Option<i64>,
}

impl Demand {
    pub(crate) fn of(resources: Option<&LinuxResources>) -> Self {
        let mut d = Demand::default();
        if let Some(r) = resources {
            d.merge(r);
        }
        d
    }

    /// An update (Kata's `Container.update`): set values replace, absent or 0 ones keep.
    pub(crate) fn merge(&mut self, r: &LinuxResources) {
        if let Some(cpu) = r.cpu() {
            if let Some(p) = cpu.period().filter(|p| *p != 0) {
                self.period = Some(p);
            }
            if let Some(q) = cpu.quota().filter(|q| *q != 0) {
                self.quota = Some(q);
            }
            if let Some(set) = cpu.cpus().as_ref().filter(|s| !s.is_empty()) {
                self.cpuset.clone_from(set);
            }
        }
        if let Some(limit) = r.memory().as_ref().and_then(|m| m.limit()) {
            self.memory_limit = Some(limit);
        }
    }

    /// quota / period (Kata's `CalculateCPUsF`): 0 without a quota (-1 is none) or a period.
    fn cpus(&self) -> f64 {
        match (self.quota, self.period) {
            (Some(q), Some(p)) if q > 0 && p > 0 => {
                // Precision loss only beyond 2^53 µs.
                #[allow(clippy::cast_precision_loss)]
                let f = q as f64 / p as f64;
                f
            }
            _ => 0.0,
        }
    }

    fn memory_bytes(&self) -> u64 {
        self.memory_limit
            .filter(|l| *l > 0)
            .map_or(0, |l| u64::try_from(l).unwrap_or(0))
    }
}

/// The number of CPUs of a cpuset list (`0-3,6`); `None` when it does not parse.
pub fn cpuset_size(list: &str) -> Option<u32> {
    let mut n = 0u32;
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse::<u32>().ok()?, b.trim().parse::<u32>().ok()?),
            None => {
                let v = part.parse::<u32>().ok()?;
                (v, v)
            }
        };
        if hi < lo {
            return None;
        }
        n = n.checked_add(hi - lo + 1)?;
    }
    Some(n)
}

/// The VM size the containers ask for: (vCPUs, memory MiB).
pub(crate) fn targets<'a>(
    sizing: &Sizing,
    demands: impl IntoIterator<Item = &'a Demand>,
) -> (u32, u32) {
    let mut cpus = 0.0f64;
    let mut cpuset = 0u32;
    let mut bytes = u64::from(sizing.default_memory_mib) << 20;
    for d in demands {
        cpus += d.cpus();
        // As Kata: a cpuset that does not parse counts for nothing.
        cpuset = cpuset.saturating_add(cpuset_size(&d.cpuset).unwrap_or(0));
        bytes = bytes.saturating_add(d.memory_bytes());
    }
    if cpus == 0.0 && cpuset > 0 {
        cpus = f64::from(cpuset);
    }
    let total = (f64::from(sizing.default_vcpus) + cpus).ceil();
    // Clamped to u32 first; the cast is then exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let vcpus = total.clamp(1.0, f64::from(u32::MAX)) as u32;
    let mib = u32::try_from(bytes >> 20).unwrap_or(u32::MAX);
    (vcpus, mib)
}

/// The memory of the next hot-add step from `current` MiB towards `target` (see the module).
pub(crate) fn memory_step(current: u32, target: u32) -> u32 {
    let most = current.saturating_add(current.saturating_mul(ACPI_MEMORY_HOTPLUG_FACTOR));
    target.min(most)
}

/// The containers' demands and the VM's memory as last resized.
pub(crate) struct Resizer {
    sizing: Option<Sizing>,
    demands: Mutex<BTreeMap<String, Demand>>,
    /// Held across a resize; holds the guest's memory (MiB) as last known.
    serial: tokio::sync::Mutex<Option<u32>>,
}

impl Resizer {
    /// `None`: this sandbox never resizes its VM.
    pub(crate) fn new(sizing: Option<Sizing>) -> Arc<Self> {
        Arc::new(Resizer {
            sizing,
            demands: Mutex::new(BTreeMap::new()),
            serial: tokio::sync::Mutex::new(None),
        })
    }

    fn demands(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Demand>> {
        self.demands.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether resizes happen at all (a sizing, not static).
    pub(crate) fn dynamic(&self) -> bool {
        self.sizing.is_some_and(|s| !s.static_mgmt)
    }

    pub(crate) fn set(&self, container: &str, demand: Demand) {
        self.demands().insert(container.to_owned(), demand);
    }

    /// Merges an update into a container's demand; returns the demand before (to undo).
    pub(crate) fn update(&self, container: &str, r: &LinuxResources) -> Option<Demand> {
        let mut demands = self.demands();
        let before = demands.get(container).cloned();
        demands.entry(container.to_owned()).or_default().merge(r);
        before
    }

    pub(crate) fn restore(&self, container: &str, demand: Option<Demand>) {
        let mut demands = self.demands();
        match demand {
            Some(d) => demands.insert(container.to_owned(), d),
            None => demands.remove(container),
        };
    }

    pub(crate) fn remove(&self, container: &str) -> bool {
        self.demands().remove(container).is_some()
    }

    /// Resizes the VM to what the containers ask for now and has the agent online what was
    /// added. Errors of the hypervisor or the agent fail the resize (as Kata fails the container
    /// operation); a VM with no more room is not an error (it gets what fits).
    pub(crate) async fn apply(
        &self,
        sandbox_id: &str,
        vm: &dyn VmControl,
        agent: &dyn Agent,
    ) -> Result<()> {
        let Some(sizing) = self.sizing.filter(|s| !s.static_mgmt) else {
            return Ok(());
        };
        let mut memory = self.serial.lock().await;
        let (vcpus, mib) = targets(&sizing, self.demands().values());
        let fail = |source: Box<dyn std::error::Error + Send + Sync>| Error::Resize {
            sandbox_id: sandbox_id.to_owned(),
            source,
        };
        let started = std::time::Instant::now();
        if let Some(r) = vm.resize_vcpus(vcpus).await.map_err(fail)? {
            if r.after > r.before {
                agent
                    .online_cpu_mem(r.after, true)
                    .await
                    .map_err(Error::agent("OnlineCPUMem"))?;
            }
            if r.after != r.before {
                tracing::info!(sandbox = sandbox_id, before = r.before, after = r.after, wanted = vcpus, elapsed = ?started.elapsed(), "vCPUs resized");
            }
        }
        let mut current = memory.unwrap_or(sizing.boot_memory_mib);
        while current < mib {
            let step = memory_step(current, mib);
            let Some(r) = vm
                .resize_memory(step, sizing.memory_block_mib)
                .await
                .map_err(fail)?
            else {
                break;
            };
            current = r.after;
            *memory = Some(current);
            if r.after <= r.before {
                break;
            }
            agent
                .online_cpu_mem(0, false)
                .await
                .map_err(Error::agent("OnlineCPUMem"))?;
            tracing::info!(sandbox = sandbox_id, before_mib = r.before, after_mib = r.after, wanted_mib = mib, elapsed = ?started.elapsed(), "memory hot-added");
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "resources_tests.rs"]
mod tests;

/// A resize to run off the sandbox loop.
pub(crate) struct ResizeJob {
    resizer: Arc<Resizer>,
    vm: Arc<dyn VmControl>,
    agent: Arc<dyn Agent>,
    sandbox_id: String,
}

impl ResizeJob {
    pub(crate) async fn run(&self) -> Result<()> {
        self.resizer
            .apply(&self.sandbox_id, self.vm.as_ref(), self.agent.as_ref())
            .await
    }
}

impl super::actor::SandboxTask {
    /// The resize to run for the containers' current demands; `None` when resizing is off or
    /// the VM does not run.
    pub(crate) fn resize_job(&self) -> Option<ResizeJob> {
        if !self.resizer.dynamic() || self.vm_dead {
            return None;
        }
        Some(ResizeJob {
            resizer: Arc::clone(&self.resizer),
            vm: Arc::clone(self.vm.as_ref()?),
            agent: self.agent().ok()?,
            sandbox_id: self.layout.sandbox_id.clone(),
        })
    }

    /// A deleted container's CPUs go back (hot-added vCPUs are removed where QEMU and the guest
    /// allow; memory stays), off the loop and best effort.
    pub(crate) fn give_back_resources(&mut self, container: &str) {
        if !self.resizer.remove(container) || container == self.layout.sandbox_id {
            return;
        }
        let Some(job) = self.resize_job() else { return };
        self.spawn_call(None, async move {
            if let Err(e) = job.run().await {
                tracing::warn!(error = %crate::error::chain(&e), "shrinking the vm failed");
            }
            super::actor::Done::Replied
        });
    }
}
