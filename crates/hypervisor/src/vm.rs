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
}

/// Something that boots VMs.
#[async_trait]
pub trait Hypervisor: Send + Sync {
    /// Boots a VM; on error nothing is left running.
    async fn start(&self, spec: VmSpec) -> Result<Box<dyn Vm>, HypervisorError>;
}
