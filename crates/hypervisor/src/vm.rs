//! The lifecycle seam: a `Hypervisor` starts a `Vm`; the `Vm` is watched, hot-plugged and stopped.

use async_trait::async_trait;

use crate::error::HypervisorError;
use crate::spec::{BlockDevice, NetDevice, VmSpec};

/// How a VM process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmExit {
    /// Exit code, when the process exited on its own.
    pub code: Option<i32>,
    /// Signal number, when the process was killed by a signal.
    pub signal: Option<i32>,
}

impl VmExit {
    /// Whether the process exited with status 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// A device added to a running VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HotplugDevice {
    Block(BlockDevice),
    Net(NetDevice),
}

impl HotplugDevice {
    /// The device id used to unplug it later.
    pub fn id(&self) -> &str {
        match self {
            HotplugDevice::Block(b) => &b.id,
            HotplugDevice::Net(n) => &n.id,
        }
    }
}

/// The outcome of a resize: the count (vCPUs, or MiB of memory) before and after it. `after` may
/// fall short of the request when the VM has no more room (`maxcpus`, `maxmem`, memory slots) or
/// the guest kept a device it was asked to release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resized {
    pub before: u32,
    pub after: u32,
}

/// A running VM.
#[async_trait]
pub trait Vm: Send + Sync {
    /// Host pid of the VM process, while it runs.
    fn pid(&self) -> Option<u32>;
    /// Resolves once the VM process has exited and been reaped; at once if it already has.
    async fn exited(&self) -> VmExit;
    /// Shuts the VM down (gracefully, then by force), reaps it and removes its runtime files.
    /// Idempotent: stopping a stopped VM returns its exit again.
    async fn stop(&self) -> Result<VmExit, HypervisorError>;
    /// Adds a device to the running VM.
    async fn hotplug(&self, device: HotplugDevice) -> Result<(), HypervisorError>;
    /// Removes a hot-plugged device by id.
    async fn unplug(&self, id: &str) -> Result<(), HypervisorError>;
    /// Brings the VM to `vcpus` vCPUs, within what it booted with (at least the boot count, at
    /// most `max_vcpus`): hot-adds vCPUs, or removes hot-added ones. `None`: the driver cannot
    /// resize (the default).
    async fn resize_vcpus(&self, vcpus: u32) -> Result<Option<Resized>, HypervisorError> {
        let _ = vcpus;
        Ok(None)
    }
    /// Grows guest memory towards `mib` MiB in hot-added blocks of `block_mib` (the guest's
    /// memory block size), within `max_mib` and the free slots; memory is never taken back.
    /// `None`: the driver cannot resize (the default).
    async fn resize_memory(
        &self,
        mib: u32,
        block_mib: u32,
    ) -> Result<Option<Resized>, HypervisorError> {
        let _ = (mib, block_mib);
        Ok(None)
    }
}

/// Something that boots VMs.
#[async_trait]
pub trait Hypervisor: Send + Sync {
    /// Boots a VM; on error nothing is left running.
    async fn start(&self, spec: VmSpec) -> Result<Box<dyn Vm>, HypervisorError>;
}
